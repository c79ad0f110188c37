"""Two gloo processes under torchrun compute the gradients one process computes on the same
global batch (each rank takes every other sample; DDP averages the ranks' gradients)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.training.conftest import REPO_ROOT, read_metrics, write_config

pytestmark = [pytest.mark.media, pytest.mark.slow]


def _config(tmp_path: Path, video_dataset: Path, name: str) -> Path:
    run_dir = tmp_path / name
    # The minibatch-stddev group of 2 matches what each rank sees with 2 samples of 4.
    return write_config(run_dir / "config.yaml", run_dir=str(run_dir),
                        data={"roots": [str(video_dataset)]}, discriminator_stddev_group=2,
                        gradient_dump_step=1,
                        schedule={"steps": 1, "batch_size": 4, "eval_every": 100,
                                  "checkpoint_every": 100, "sample_every": 100})


def _run(command: list[str]) -> str:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stderr


def test_two_process_gloo_run_matches_one_process(tmp_path: Path, video_dataset: Path) -> None:
    single = _config(tmp_path, video_dataset, "single")
    double = _config(tmp_path, video_dataset, "ddp")
    _run([sys.executable, "-m", "fgemotalk_cli", "train", str(single), "--quiet"])
    log = _run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node=2", "-m", "fgemotalk_cli", "train", str(double), "--quiet"])
    assert "2 process(es)" in log
    # float32 sums over a batch of 4 and over two batches of 2 round differently; the finest
    # generator level, with the most cancellation, differs by ~0.2 % (in float64: 3e-7). A
    # wrong split of the batch or a missing average would be off by order 1.
    for part, tolerance in (("generator", 1e-2), ("discriminator", 1e-3)):
        one = torch.load(single.parent / f"gradients_step1_{part}.pt")
        two = torch.load(double.parent / f"gradients_step1_{part}.pt")
        assert one.keys() == two.keys() and len(one) > 10
        for name in one:
            error = (one[name] - two[name]).norm() / one[name].norm().clamp_min(1e-12)
            assert error < tolerance, (part, name, float(error))
    losses_one, losses_two = read_metrics(single.parent), read_metrics(double.parent)
    for name in ("generator", "discriminator", "l1", "adversarial"):
        assert losses_two[1][name] == pytest.approx(losses_one[1][name], rel=1e-5), name
    # Only rank 0 writes: one metrics file, one checkpoint, no per-rank leftovers.
    assert sorted(p.name for p in double.parent.glob("*.pt")) == [
        "final.pt", "gradients_step1_discriminator.pt", "gradients_step1_generator.pt",
        "latest.pt"]
