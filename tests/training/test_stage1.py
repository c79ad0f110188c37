"""Stage 1 on CPU: the held-out L1 falls, runs are reproducible, and a killed run resumes
exactly (SIGTERM saves first; the resumed steps and weights equal an uninterrupted run's).

The uninterrupted reference is the shared 20-step run, which keeps its step-5 checkpoint.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fgemotalk_cli.errors import CheckpointError
from tests.training.conftest import (
    KEEP_EVERY,
    REPO_ROOT,
    STAGE1_STEPS,
    read_metrics,
    single_threaded,
    write_config,
)

pytestmark = [pytest.mark.media, pytest.mark.slow]


def test_heldout_reconstruction_l1_falls(stage1_run: Path) -> None:
    evals = read_metrics(stage1_run, "eval")
    assert sorted(evals) == [0, 10, 20]
    start = evals[0]["heldout_l1"]
    later = [evals[step]["heldout_l1"] for step in (10, 20)]
    assert max(later) < start, (start, later)
    assert min(later) < 0.95 * start, (start, later)


def test_checkpoints_record_stage_config_and_state(stage1_run: Path) -> None:
    from models.checkpoint import describe_checkpoint, load_checkpoint

    summary = describe_checkpoint(stage1_run / "final.pt")
    assert summary["stages"] == ["stage1"]
    assert summary["image_size"] == 64
    assert summary["discriminator_parameters"] > 0
    assert summary["extra_keys"] == ["trainer"]  # the export has no optimiser state
    _, info = load_checkpoint(stage1_run / "latest.pt")
    assert info.extra["trainer"]["step"] == STAGE1_STEPS
    assert info.extra["trainer"]["complete"] is True
    assert info.extra["trainer"]["config"]["stage"] == 1
    assert set(info.extra["optimizers"]) == {"generator", "discriminator"}
    assert "fallback_encoder" in info.extra
    assert (stage1_run / "tensorboard").is_dir()
    assert sorted(p.name for p in stage1_run.glob("step_*.pt")) == [
        f"step_{s:07d}.pt" for s in range(KEEP_EVERY, STAGE1_STEPS + 1, KEEP_EVERY)]


def _losses(run_dir: Path) -> dict[int, dict[str, float]]:
    return {step: {k: v for k, v in row.items() if k not in ("step_seconds", "kind")}
            for step, row in read_metrics(run_dir).items()}


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory, video_dataset: Path) -> tuple[Path, int]:
    """A fresh 5-step run in its own process, sent SIGTERM after its second step."""
    from models.checkpoint import load_checkpoint

    run_dir = tmp_path_factory.mktemp("killed")
    config = write_config(run_dir / "config.yaml", run_dir=str(run_dir),
                          data={"roots": [str(video_dataset)]},
                          schedule={"steps": KEEP_EVERY, "eval_every": 100,
                                    "sample_every": 100, "checkpoint_every": 100})
    process = subprocess.Popen(
        [sys.executable, "-m", "fgemotalk_cli", "train", str(config), "--quiet"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if (run_dir / "metrics.jsonl").is_file() and len(read_metrics(run_dir)) >= 2:
            process.send_signal(signal.SIGTERM)
            break
        time.sleep(0.1)
    output = process.communicate(timeout=300)[0].decode(errors="replace")
    assert process.returncode == 0, output
    assert "SIGTERM" in output, output
    _, info = load_checkpoint(run_dir / "latest.pt")
    stopped = info.extra["trainer"]["step"]
    assert 2 <= stopped < KEEP_EVERY, output
    return run_dir, stopped


def test_same_seed_gives_identical_losses(killed: tuple[Path, int], stage1_run: Path) -> None:
    run_dir, stopped = killed
    fresh, reference = _losses(run_dir), _losses(stage1_run)
    assert sorted(fresh)[:stopped] == list(range(1, stopped + 1))
    for step in range(1, stopped + 1):
        assert fresh[step] == reference[step], step


def test_sigterm_then_resume_equals_an_uninterrupted_run(killed: tuple[Path, int],
                                                         stage1_run: Path) -> None:
    from fgemotalk_cli.training.run import train
    from models.checkpoint import load_checkpoint

    run_dir, stopped = killed
    with single_threaded():
        train(run_dir / "config.yaml", resume=run_dir / "latest.pt", show_progress=False)
    resumed_losses, reference = _losses(run_dir), _losses(stage1_run)
    assert sorted(resumed_losses) == list(range(1, KEEP_EVERY + 1))
    for step in resumed_losses:
        assert resumed_losses[step] == reference[step], step
    resumed, resumed_info = load_checkpoint(run_dir / "latest.pt")
    plain, plain_info = load_checkpoint(stage1_run / f"step_{KEEP_EVERY:07d}.pt")
    for (name, a), (_, b) in zip(resumed.state_dict().items(), plain.state_dict().items()):
        assert torch.equal(a, b), name
    for name, value in resumed_info.discriminator.items():
        assert torch.equal(value, plain_info.discriminator[name]), name


def test_resume_refuses_a_weights_only_export(stage1_run: Path) -> None:
    from fgemotalk_cli.training.run import train

    with pytest.raises(CheckpointError, match="weights only"):
        train(stage1_run / "config.yaml", resume=stage1_run / "final.pt", show_progress=False)
