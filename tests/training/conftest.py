"""Shared training fixtures: three real clips prepared at 64 px and one tiny stage-1 run.

Everything is small enough for a 2-core CPU: 64 px crops, 40 frames per clip, the tiny
model (1/16 of the channels), a few dozen steps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO_ROOT / "configs" / "tiny_cpu.yaml"
# Talking heads with speech, so every split also serves stage 3.
CLIPS = ("sadtalker_WDA_KatieHill_000.mp4", "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4",
         "lia_vox_driving2.mp4")
FRAMES_PER_CLIP = 40
STAGE1_STEPS = 20
KEEP_EVERY = 5  # stage1_run keeps step_0000005.pt etc.: references for resumed runs


@contextmanager
def single_threaded() -> Iterator[None]:
    """One intra-op thread while training, as the subprocess runs use (OMP_NUM_THREADS=1).

    Float sums depend on the thread count, so runs compared bit for bit must share it; and on
    a shared 2-core machine, spinning OpenMP threads slow a busy run down many times over.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def write_config(path: Path, **sections: Any) -> Path:
    """configs/tiny_cpu.yaml with ``sections`` merged in (nested by key), written to ``path``."""
    from fgemotalk_cli.training.config import merge

    data = yaml.safe_load(TINY_CONFIG.read_text(encoding="utf-8"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(merge(data, sections)), encoding="utf-8")
    return path


def read_metrics(run_dir: Path, kind: str = "train") -> dict[int, dict[str, float]]:
    """{step: values} from a run's metrics.jsonl."""
    rows = {}
    for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["kind"] == kind:
            rows[record["step"]] = record
    return rows


@pytest.fixture(scope="session")
def video_dataset(tmp_path_factory: pytest.TempPathFactory, shared_media: Path) -> Path:
    """Three clips with speech, first 40 frames each, prepared at 64 px."""
    from fgemotalk_cli.training.prepare import prepare_dataset

    videos = tmp_path_factory.mktemp("videos")
    for name in CLIPS:
        (videos / name).symlink_to(shared_media / "driving" / name)
    (videos / "broken.mp4").write_bytes(b"not a video" * 50)
    output = tmp_path_factory.mktemp("prepared") / "talking_64"
    summary = prepare_dataset(videos, output, size=64, show_progress=False,
                              max_frames=FRAMES_PER_CLIP)
    assert summary["clips"] == len(CLIPS), summary
    return output


@pytest.fixture(scope="session")
def disfa_dataset(tmp_path_factory: pytest.TempPathFactory, shared_media: Path) -> Path:
    """A DISFA-layout folder (one subject as images, one as a video), prepared at 64 px.

    Labels are random intensities 0..5 held for runs of 5 frames (so they pass the label
    consistency filter), for the paper's seven AUs and AU25, 1-based frame numbers.
    """
    import cv2

    from fgemotalk_cli.media.video import iter_frames
    from fgemotalk_cli.training.prepare import prepare_dataset

    root = tmp_path_factory.mktemp("disfa_source")
    rng = np.random.default_rng(7)
    frames_dir = root / "Frames" / "SN001"
    frames_dir.mkdir(parents=True)
    for frame in iter_frames(shared_media / "driving" / "lia_vox_driving2.mp4"):
        if frame.index >= 30:
            break
        cv2.imwrite(str(frames_dir / f"{frame.index + 1:05d}.png"),
                    cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    videos = root / "Videos_LeftCamera"
    videos.mkdir()
    (videos / "LeftVideoSN002_comp.mp4").symlink_to(
        shared_media / "driving" / "sadtalker_WDA_KatieHill_000.mp4")
    for subject in ("SN001", "SN002"):
        labels = root / "ActionUnit_Labels" / subject
        labels.mkdir(parents=True)
        for au in (1, 2, 4, 5, 6, 9, 12, 25):
            values = np.repeat(rng.integers(0, 6, size=6), 5)
            lines = [f"{i + 1},{v}" for i, v in enumerate(values)]
            (labels / f"{subject}_au{au}.txt").write_text("\n".join(lines) + "\n")
    output = tmp_path_factory.mktemp("prepared") / "disfa_64"
    summary = prepare_dataset(root, output, size=64, show_progress=False)
    assert summary["kind"] == "disfa" and summary["clips"] == 2, summary
    return output


@pytest.fixture(scope="session")
def stage1_run(tmp_path_factory: pytest.TempPathFactory, video_dataset: Path) -> Path:
    """The tiny CPU stage-1 run (20 steps) that later stages start from."""
    from fgemotalk_cli.training.run import train

    run_dir = tmp_path_factory.mktemp("stage1_run")
    config = write_config(run_dir / "config.yaml", run_dir=str(run_dir),
                          data={"roots": [str(video_dataset)]},
                          schedule={"steps": STAGE1_STEPS, "eval_every": 10,
                                    "checkpoint_every": KEEP_EVERY, "keep_every": KEEP_EVERY,
                                    "sample_every": STAGE1_STEPS})
    with single_threaded():
        train(config, show_progress=False)
    return run_dir
