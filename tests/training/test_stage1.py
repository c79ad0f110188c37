"""Stage 1 on CPU: the held-out L1 falls, runs are reproducible, and a killed run resumes
exactly (SIGTERM saves first; the resumed steps and weights equal an uninterrupted run's)."""

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
from tests.training.conftest import REPO_ROOT, STAGE1_STEPS, read_metrics, write_config

pytestmark = [pytest.mark.media, pytest.mark.slow]
SHORT_STEPS = 6


def test_heldout_reconstruction_l1_falls(stage1_run: Path) -> None:
    evals = read_metrics(stage1_run, "eval")
    assert sorted(evals) == [0, 10, 20, 30]
    start = evals[0]["heldout_l1"]
    later = [evals[step]["heldout_l1"] for step in (10, 20, 30)]
    assert max(later) < start, (start, later)
    assert min(later) < 0.9 * start, (start, later)


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


def _short_run(tmp_path: Path, video_dataset: Path, name: str, **schedule) -> Path:
    run_dir = tmp_path / name
    return write_config(run_dir / "config.yaml", run_dir=str(run_dir),
                        data={"roots": [str(video_dataset)]},
                        schedule={"steps": SHORT_STEPS, "eval_every": 100, "sample_every": 100,
                                  "checkpoint_every": 2, **schedule})


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, video_dataset: Path) -> Path:
    from fgemotalk_cli.training.run import train

    config = _short_run(tmp_path_factory.mktemp("plain"), video_dataset, "run")
    train(config, show_progress=False)
    return config.parent


def _losses(run_dir: Path) -> dict[int, dict[str, float]]:
    return {step: {k: v for k, v in row.items() if k not in ("step_seconds", "kind")}
            for step, row in read_metrics(run_dir).items()}


def test_same_seed_gives_identical_losses(uninterrupted: Path, stage1_run: Path) -> None:
    # The 30-step run and this 6-step run share seed and data: their first steps are equal.
    short, long = _losses(uninterrupted), _losses(stage1_run)
    assert sorted(short) == list(range(1, SHORT_STEPS + 1))
    for step in short:
        assert short[step] == long[step], step


def test_sigterm_then_resume_equals_an_uninterrupted_run(
        tmp_path: Path, video_dataset: Path, uninterrupted: Path) -> None:
    from fgemotalk_cli.training.run import train
    from models.checkpoint import load_checkpoint

    config = _short_run(tmp_path, video_dataset, "killed")
    run_dir = config.parent
    process = subprocess.Popen(
        [sys.executable, "-m", "fgemotalk_cli", "train", str(config), "--quiet"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        metrics = run_dir / "metrics.jsonl"
        if metrics.is_file() and len(read_metrics(run_dir)) >= 2:
            process.send_signal(signal.SIGTERM)
            break
        time.sleep(0.2)
    output = process.communicate(timeout=240)[0].decode(errors="replace")
    assert process.returncode == 0, output
    _, info = load_checkpoint(run_dir / "latest.pt")
    stopped = info.extra["trainer"]["step"]
    assert 2 <= stopped < SHORT_STEPS, output
    assert "SIGTERM" in output

    train(config, resume=run_dir / "latest.pt", show_progress=False)
    assert _losses(run_dir) == _losses(uninterrupted)
    resumed, _ = load_checkpoint(run_dir / "final.pt")
    plain, _ = load_checkpoint(uninterrupted / "final.pt")
    for (name, a), (_, b) in zip(resumed.state_dict().items(), plain.state_dict().items()):
        assert torch.equal(a, b), name


def test_resume_refuses_a_weights_only_export(uninterrupted: Path) -> None:
    from fgemotalk_cli.training.run import train

    with pytest.raises(CheckpointError, match="weights only"):
        train(uninterrupted / "config.yaml", resume=uninterrupted / "final.pt",
              show_progress=False)
