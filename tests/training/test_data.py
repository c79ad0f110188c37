"""Batches are a function of (seed, step): ranks split one global batch, resumes see the
same batches, and stage 3's audio windows are the ones inference would use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fgemotalk_cli.training.data import AudioFrameSampler, Clip, StepBatches


class CountingSampler:
    """Specs are just numbers, so the split between ranks and micro-steps is visible."""

    def draw(self, rng: np.random.Generator, count: int) -> list[int]:
        return [int(v) for v in rng.integers(1_000_000, size=count)]

    def load(self, spec: int) -> dict[str, torch.Tensor]:
        return {"value": torch.tensor(spec)}


def _batches(world: int, rank: int, accumulation: int, first_step: int = 0) -> StepBatches:
    return StepBatches(CountingSampler(), seed=3, global_batch=8, accumulation=accumulation,
                       world=world, rank=rank, first_step=first_step, last_step=10)


def test_ranks_and_micro_steps_partition_the_global_batch() -> None:
    single = _batches(1, 0, 1)
    for step in range(3):
        whole = single.specs(step, 0)
        parts = [_batches(2, r, 2).specs(step, m) for m in range(2) for r in range(2)]
        assert sorted(sum(parts, [])) == sorted(whole)
        assert _batches(2, 0, 1).specs(step, 0) == whole[0::2]  # rank r takes r, r + W, ...


def test_a_resumed_loader_sees_the_same_batches() -> None:
    full = _batches(1, 0, 2)
    resumed = _batches(1, 0, 2, first_step=4)
    assert len(resumed) == 12
    for item in range(len(resumed)):
        assert torch.equal(resumed[item]["value"], full[item + 8]["value"])


def test_audio_windows_match_the_inference_path(tmp_path: Path) -> None:
    from models.audio_encoder import frame_feature_centres, gather_windows

    features = np.random.default_rng(0).standard_normal((120, 6)).astype(np.float16)
    np.save(tmp_path / "features.npy", features)
    fps = 25
    frames = 60
    folder = tmp_path / "clip"
    folder.mkdir()
    import cv2

    for index in range(frames):
        cv2.imwrite(str(folder / f"{index:06d}.jpg"), np.zeros((8, 8, 3), np.uint8))
    clip = Clip(folder=folder, frames=frames, image_format="jpg", split="train",
                has_audio=True, times=tuple(i / fps for i in range(frames)))
    sampler = AudioFrameSampler([clip], [tmp_path / "features.npy"], feature_rate=50,
                                window=8)
    expected = gather_windows(torch.from_numpy(features.astype(np.float32)),
                              frame_feature_centres(frames, fps, 50), 8)
    for frame in (0, 1, 30, frames - 1):
        assert torch.equal(sampler.load((0, frame))["windows"], expected[frame])
