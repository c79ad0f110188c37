"""Stages 2 and 3 on top of the tiny stage-1 model: their losses fall, the generator stays
frozen, and the checkpoint records every stage it went through."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fgemotalk_cli.errors import ConfigError
from tests.training.conftest import read_metrics, single_threaded, write_config

pytestmark = [pytest.mark.media, pytest.mark.slow]
STEPS = 30


def _mean_loss(run_dir: Path, steps: range, term: str = "loss") -> float:
    rows = read_metrics(run_dir)
    return sum(rows[s][term] for s in steps) / len(steps)


def _encoder_stage(tmp_path: Path, stage: int, init: Path, roots: list[str], **extra) -> Path:
    run_dir = tmp_path / f"stage{stage}"
    config = write_config(
        run_dir / "config.yaml", stage=stage, run_dir=str(run_dir), init_checkpoint=str(init),
        model=None, data={"roots": roots, "eval_samples": 16},
        optimizer={"lr": 0.003, "betas": [0.9, 0.999]},
        schedule={"steps": STEPS, "batch_size": 8, "eval_every": STEPS, "checkpoint_every": STEPS,
                  "sample_every": 1000}, **extra)
    text = config.read_text().replace("model: null\n", "")  # stages 2/3 take no model section
    config.write_text(text)
    return config


@pytest.fixture(scope="module")
def stage2_run(tmp_path_factory: pytest.TempPathFactory, stage1_run: Path,
               disfa_dataset: Path) -> Path:
    from fgemotalk_cli.training.run import train

    config = _encoder_stage(tmp_path_factory.mktemp("s2"), 2, stage1_run / "final.pt",
                            [str(disfa_dataset)])
    with single_threaded():
        train(config, show_progress=False)
    return config.parent


def test_stage2_au_encoder_loss_falls_and_generator_is_frozen(stage2_run: Path,
                                                               stage1_run: Path) -> None:
    from models.checkpoint import load_checkpoint

    assert _mean_loss(stage2_run, range(STEPS - 4, STEPS + 1)) < 0.8 * _mean_loss(
        stage2_run, range(1, 6))
    evals = read_metrics(stage2_run, "eval")
    assert evals[STEPS]["heldout_au_loss"] < evals[0]["heldout_au_loss"]
    before, _ = load_checkpoint(stage1_run / "final.pt")
    after, info = load_checkpoint(stage2_run / "final.pt")
    assert info.stages == ("stage1", "stage2")
    for part in ("encoder", "generator", "expression_extractor", "dictionary"):
        for a, b in zip(getattr(before, part).parameters(), getattr(after, part).parameters()):
            assert torch.equal(a, b), part
    changed = [not torch.equal(a, b) for a, b in
               zip(before.au_encoder.parameters(), after.au_encoder.parameters())]
    assert all(changed)
    assert info.discriminator is not None  # carried through for later fine-tuning
    # The subjects' mean neutral code is saved for "replace"; "add" offsets are 0 at a = 0.
    assert torch.count_nonzero(after.au_encoder.neutral_code) > 0
    assert torch.count_nonzero(after.au_code(torch.zeros(1, 7))) == 0


def test_stage3_audio_encoder_infonce_falls(tmp_path: Path, stage2_run: Path,
                                            video_dataset: Path) -> None:
    from fgemotalk_cli.training.run import train
    from models.checkpoint import describe_checkpoint

    config = _encoder_stage(tmp_path, 3, stage2_run / "final.pt", [str(video_dataset)],
                            audio={"preset": "tiny"})
    with single_threaded():
        train(config, show_progress=False)
    run_dir = config.parent
    assert _mean_loss(run_dir, range(STEPS - 4, STEPS + 1)) < 0.95 * _mean_loss(
        run_dir, range(1, 6))
    for term, factor in (("infonce", 0.97), ("regression", 0.9)):
        assert _mean_loss(run_dir, range(STEPS - 4, STEPS + 1), term) < factor * _mean_loss(
            run_dir, range(1, 6), term), term
    evals = read_metrics(run_dir, "eval")
    assert evals[STEPS]["heldout_regression"] < evals[0]["heldout_regression"]
    assert len(list((run_dir / "audio_features").glob("*.npy"))) == 3
    summary = describe_checkpoint(run_dir / "final.pt")
    assert summary["stages"] == ["stage1", "stage2", "stage3"]
    assert summary["audio_encoder"] is True


def test_stage3_without_wav2vec2_weights_is_refused(tmp_path: Path, stage1_run: Path,
                                                    video_dataset: Path) -> None:
    from fgemotalk_cli.training.run import train

    config = _encoder_stage(tmp_path, 3, stage1_run / "final.pt", [str(video_dataset)],
                            audio={"window_features": 16})
    with pytest.raises(ConfigError, match="wav2vec2_path is required"):
        train(config, show_progress=False)
