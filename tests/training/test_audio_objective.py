"""Stage 3's objective: InfoNCE over codes gathered across ranks equals one process over the
whole batch, and the regression term teaches the codes' scale that InfoNCE ignores."""

from __future__ import annotations

from pathlib import Path

import torch

from fgemotalk_cli.training.distributed import Distributed
from fgemotalk_cli.training.stage_encoders import audio_objective
from models.audio_encoder import AudioEncoder
from models.config import AudioConfig
from models.losses import info_nce

BATCH, DIM, WORLD = 8, 6, 2
ONE_PROCESS = Distributed(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return (torch.randn(BATCH, DIM, generator=generator),
            torch.randn(BATCH, DIM, generator=generator))


def _rank(rank: int, folder: str) -> None:
    """One gloo rank: its share (every WORLD-th sample, as StepBatches splits), loss, grads."""
    torch.distributed.init_process_group("gloo", init_method=f"file://{folder}/rendezvous",
                                         rank=rank, world_size=WORLD)
    try:
        codes, target = _batch()
        local = codes[rank::WORLD].clone().requires_grad_(True)
        dist = Distributed(rank=rank, local_rank=rank, world_size=WORLD,
                           device=torch.device("cpu"))
        backward, terms = audio_objective(local, target[rank::WORLD], dist, 0.07, 0.5)
        backward.backward()
        # DDP averages the parameter gradients over ranks, i.e. each rank's code gradients
        # count 1 / WORLD: that share must equal one process's gradient for those samples.
        torch.save({"infonce": terms["infonce"].detach(), "gradient": local.grad / WORLD,
                    "regression": terms["regression"].detach()}, f"{folder}/rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


def test_gathered_infonce_under_two_gloo_processes_equals_one_process(tmp_path: Path) -> None:
    torch.multiprocessing.spawn(_rank, args=(str(tmp_path),), nprocs=WORLD)
    codes, target = _batch()
    whole = codes.clone().requires_grad_(True)
    backward, terms = audio_objective(whole, target, ONE_PROCESS, 0.07, 0.5)
    backward.backward()
    assert torch.allclose(terms["infonce"], info_nce(codes, target, 0.07))
    regression = []
    for rank in range(WORLD):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        assert torch.allclose(result["infonce"], terms["infonce"], rtol=1e-6, atol=1e-7)
        assert torch.allclose(result["gradient"], whole.grad[rank::WORLD], rtol=1e-5,
                              atol=1e-7)
        regression.append(result["regression"])
    assert torch.allclose(torch.stack(regression).mean(), terms["regression"])


def _fit(regression_weight: float, steps: int = 60) -> float:
    """The audio head on fixed random windows; returns the mean L1 code distance after.

    The targets are a second head's codes, scaled by 4 and shifted, as E_exp's codes are far
    from unit norm: learnable in direction (InfoNCE) and scale (regression only).
    """
    torch.manual_seed(0)
    audio = AudioConfig.tiny()
    encoder = AudioEncoder(audio, k_exp=DIM, load_pretrained=False)
    hidden = encoder.backbone.config.hidden_size
    windows = torch.randn(32, hidden, audio.window_features)
    teacher = AudioEncoder(audio, k_exp=DIM, load_pretrained=False)
    with torch.no_grad():
        target = 4 * teacher.codes_from_windows(windows) + 2
    head = [p for n, p in encoder.named_parameters() if not n.startswith("backbone")]
    optimizer = torch.optim.Adam(head, lr=3e-3)
    for _ in range(steps):
        codes = encoder.codes_from_windows(windows)
        backward, _ = audio_objective(codes, target, ONE_PROCESS, 0.07, regression_weight)
        optimizer.zero_grad()
        backward.backward()
        optimizer.step()
    with torch.no_grad():
        return float((encoder.codes_from_windows(windows) - target).abs().mean())


def test_regression_term_lowers_the_code_distance() -> None:
    with_regression, infonce_only = _fit(1.0), _fit(0.0)
    assert with_regression < 0.5 * infonce_only, (with_regression, infonce_only)
