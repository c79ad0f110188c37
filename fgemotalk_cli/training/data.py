"""Batches for the three stages, read from datasets written by ``fgemotalk prepare``.

Every batch is a pure function of (seed, step): the global batch of a step is drawn from
``numpy.random.default_rng([seed, step])`` and split between accumulation micro-steps and
ranks. A resumed run therefore sees exactly the batches an uninterrupted run would, with
no sampler state to save, and N ranks together see the same global batch one process
would. Rank r takes samples r, r + W, r + 2W, ... of each micro-step's share [ours].

Stage 1: two frames of one clip (S, D) [paper, LIA]. Stage 2: a labelled DISFA frame and its
AU intensities. Stage 3: a frame and the audio features around it (target: frozen E_exp).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fgemotalk_cli.errors import ConfigError
from fgemotalk_cli.training.au_sampling import (
    BalancedAUIndex,
    consistent_frames,
    frame_numbers,
    neutral_frame_indices,
)
from fgemotalk_cli.training.config import AUSamplingConfig
from fgemotalk_cli.training.crops import read_image

EVAL_STREAM = 2 ** 31 - 1  # rng stream for the fixed evaluation samples, apart from steps


@dataclass(frozen=True)
class Clip:
    """One prepared clip (or DISFA subject)."""

    folder: Path
    frames: int
    image_format: str
    split: str
    has_audio: bool = False
    times: tuple[float, ...] = ()
    files: tuple[str, ...] = ()  # DISFA: image file per labelled frame
    aus: tuple[int, ...] = ()
    labels: np.ndarray | None = field(default=None, compare=False)  # (frames, len(aus))

    def frame_path(self, index: int) -> Path:
        if self.files:
            return self.folder / self.files[index]
        return self.folder / f"{index:06d}.{self.image_format}"


def load_clips(roots: Sequence[str], kind: str, size: int) -> list[Clip]:
    """All clips of the prepared datasets under ``roots`` (checked for kind and size)."""
    clips: list[Clip] = []
    for root in map(Path, roots):
        manifest_path = root / "manifest.json"
        if not manifest_path.is_file():
            raise ConfigError(f"{root} is not a prepared dataset (no manifest.json); run "
                              f"'fgemotalk prepare VIDEOS {root} --size {size}' first")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("kind") != kind:
            raise ConfigError(f"{root} holds a '{manifest.get('kind')}' dataset; this stage "
                              f"needs '{kind}' (videos for stages 1 and 3, DISFA for stage 2)")
        if manifest.get("size") != size:
            raise ConfigError(f"{root} was prepared at {manifest.get('size')} px but the model "
                              f"is {size} px")
        for entry in manifest["clips"]:
            clips.append(_read_clip(root / "clips" / entry["id"], entry))
    if not clips:
        raise ConfigError(f"no clips in {', '.join(map(str, roots))}")
    return clips


def _read_clip(folder: Path, entry: dict[str, Any]) -> Clip:
    record = json.loads((folder / "clip.json").read_text(encoding="utf-8"))
    files: tuple[str, ...] = ()
    labels = None
    aus: tuple[int, ...] = tuple(record.get("aus", ()))
    if record.get("labels"):
        rows = (folder / record["labels"]).read_text(encoding="utf-8").splitlines()[1:]
        cells = [row.split(",") for row in rows if row]
        files = tuple(c[0] for c in cells)
        labels = np.array([[float(v) for v in c[1:]] for c in cells], dtype=np.float32)
    return Clip(folder=folder, frames=int(record["frames"]), image_format=record["image_format"],
                split=entry["split"], has_audio=bool(record.get("audio")),
                times=tuple(record.get("times", ())), files=files, aus=aus, labels=labels)


def split_clips(clips: list[Clip]) -> tuple[list[Clip], list[Clip], str | None]:
    """(train, held_out, note); a dataset without held-out clips evaluates on training clips."""
    train = [c for c in clips if c.split == "train"]
    held_out = [c for c in clips if c.split == "held_out"]
    if not train:
        raise ConfigError("every prepared clip is held out; prepare more clips")
    if not held_out:
        return train, train, "no held-out clips: the evaluation metric uses training clips"
    return train, held_out, None


def load_image_tensor(path: Path) -> torch.Tensor:
    """(3, H, W) float in [-1, 1] from an image written by ``prepare``."""
    rgb = read_image(path)
    return torch.from_numpy(rgb).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


# -- samplers: (rng, count) -> specs; spec -> sample dict --------------------------------------
class PairSampler:
    """Stage 1: a clip uniformly at random, then two distinct frames of it [LIA]."""

    def __init__(self, clips: list[Clip]) -> None:
        self.clips = [c for c in clips if c.frames >= 2]
        if not self.clips:
            raise ConfigError("stage 1 needs clips with at least two frames")

    def draw(self, rng: np.random.Generator, count: int) -> list[tuple[int, int, int]]:
        specs = []
        for clip_index in rng.integers(len(self.clips), size=count):
            first, second = rng.choice(self.clips[clip_index].frames, size=2, replace=False)
            specs.append((int(clip_index), int(first), int(second)))
        return specs

    def load(self, spec: tuple[int, int, int]) -> dict[str, torch.Tensor]:
        clip = self.clips[spec[0]]
        return {"source": load_image_tensor(clip.frame_path(spec[1])),
                "driving": load_image_tensor(clip.frame_path(spec[2]))}


class AUFrameSampler:
    """Stage 2: a labelled frame with intensities in the model's AU order, and its subject.

    [ours] Frames whose labels disagree with their neighbours are dropped, and frames are drawn
    per-AU balanced (``au_sampling``); see ``training.au_sampling``.
    """

    def __init__(self, clips: list[Clip], au_list: Sequence[int],
                 sampling: AUSamplingConfig | None = None) -> None:
        sampling = sampling or AUSamplingConfig()
        self.clips = clips
        self.columns = []
        for clip in clips:
            missing = sorted(set(au_list) - set(clip.aus))
            if missing:
                raise ConfigError(
                    f"{clip.folder.name} has no labels for AU {missing}; the model's AUs are "
                    f"{list(au_list)} (set model.au_list in stage 1 to AUs the data labels)"
                )
            self.columns.append([clip.aus.index(au) for au in au_list])
        self.index: list[tuple[int, int]] = []
        rows = []
        for c, clip in enumerate(clips):
            assert clip.labels is not None
            labels = clip.labels[:, self.columns[c]]
            keep = np.flatnonzero(consistent_frames(labels, frame_numbers(clip.files),
                                                    sampling.label_window,
                                                    sampling.label_tolerance))
            self.index += [(c, int(f)) for f in keep]
            rows.append(labels[keep])
        self.dropped = sum(clip.frames for clip in clips) - len(self.index)
        if not self.index:
            raise ConfigError("label filtering left no DISFA frame; loosen "
                              "data.au_sampling.label_tolerance or set label_window: 0")
        self.balanced = (BalancedAUIndex(self.index, np.concatenate(rows),
                                         sampling.active_threshold)
                         if sampling.balance == "per_au" else None)

    def draw(self, rng: np.random.Generator, count: int) -> list[tuple[int, int]]:
        if self.balanced is not None:
            return self.balanced.draw(rng, count)
        return [self.index[i] for i in rng.integers(len(self.index), size=count)]

    def neutral_frames(self, clip_index: int, limit: int) -> np.ndarray:
        """Frames of one subject with every labelled AU at 0 (its neutral code)."""
        labels = self.clips[clip_index].labels
        assert labels is not None
        return neutral_frame_indices(labels, limit)

    def load(self, spec: tuple[int, int]) -> dict[str, torch.Tensor]:
        clip = self.clips[spec[0]]
        assert clip.labels is not None
        return {"image": load_image_tensor(clip.frame_path(spec[1])),
                "aus": torch.from_numpy(clip.labels[spec[1], self.columns[spec[0]]].copy()),
                "subject": torch.tensor(spec[0])}


class AudioFrameSampler:
    """Stage 3: a frame of a clip with speech, and the Wav2Vec2 features around its time.

    Features come from a per-clip cache computed once with ``AudioEncoder.extract_features``
    (the inference path, so training sees exactly what inference will); the window is centred
    on round(time x feature_rate) with indices clamped to the ends, as ``gather_windows`` does.
    """

    def __init__(self, clips: list[Clip], feature_files: Sequence[Path], feature_rate: int,
                 window: int, frames_per_clip: int = 1) -> None:
        self.clips = clips
        self.feature_files = list(feature_files)
        self.feature_rate = feature_rate
        self.window = window
        self.frames_per_clip = frames_per_clip

    @staticmethod
    def speaking(clips: list[Clip]) -> list[Clip]:
        with_audio = [c for c in clips if c.has_audio]
        if not with_audio:
            raise ConfigError("stage 3 needs clips with speech: none of the prepared clips "
                              "has an audio track (prepare talking-head videos with sound)")
        return with_audio

    def draw(self, rng: np.random.Generator, count: int) -> list[tuple[int, int]]:
        """Clips at random, ``frames_per_clip`` distinct frames of each [ours].

        The frames are one per equal part of the clip, so they are spread over its length:
        InfoNCE then has to tell the same speaker apart at other moments, not only other
        speakers (the whole global batch is the negatives once ranks gather their codes).
        """
        specs: list[tuple[int, int]] = []
        while len(specs) < count:
            clip_index = int(rng.integers(len(self.clips)))
            frames = self.clips[clip_index].frames
            take = min(self.frames_per_clip, frames, count - len(specs))
            edges = np.linspace(0, frames, take + 1).round().astype(int)
            specs += [(clip_index, int(rng.integers(low, high)))
                      for low, high in zip(edges[:-1], edges[1:])]
        return specs

    def load(self, spec: tuple[int, int]) -> dict[str, torch.Tensor]:
        clip = self.clips[spec[0]]
        features = np.load(self.feature_files[spec[0]], mmap_mode="r")  # (T, hidden)
        time = clip.times[spec[1]]
        centre = int(np.floor(time * self.feature_rate + 0.5))
        index = np.clip(np.arange(self.window) - self.window // 2 + centre, 0,
                        features.shape[0] - 1)
        windows = torch.from_numpy(np.ascontiguousarray(features[index].T, dtype=np.float32))
        return {"image": load_image_tensor(clip.frame_path(spec[1])), "windows": windows}


def collate(samples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: torch.stack([s[key] for s in samples]) for key in samples[0]}


class StepBatches(torch.utils.data.Dataset):
    """Item i = this rank's micro-batch for step ``first_step + i // accumulation``."""

    def __init__(self, sampler, seed: int, global_batch: int, accumulation: int, world: int,
                 rank: int, first_step: int, last_step: int) -> None:
        if global_batch % (accumulation * world):
            raise ConfigError(
                f"schedule.batch_size {global_batch} must be divisible by grad_accumulation "
                f"({accumulation}) x number of processes ({world})"
            )
        self.sampler = sampler
        self.seed, self.global_batch = seed, global_batch
        self.accumulation, self.world, self.rank = accumulation, world, rank
        self.first_step, self.last_step = first_step, last_step

    def __len__(self) -> int:
        return max(0, self.last_step - self.first_step) * self.accumulation

    def specs(self, step: int, micro: int) -> list:
        rng = np.random.default_rng([self.seed, step])
        picks = self.sampler.draw(rng, self.global_batch)
        share = self.global_batch // self.accumulation
        return picks[micro * share:(micro + 1) * share][self.rank::self.world]

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        step = self.first_step + item // self.accumulation
        return collate([self.sampler.load(s) for s in self.specs(step, item % self.accumulation)])


def fixed_batch(sampler, seed: int, count: int) -> dict[str, torch.Tensor]:
    """The evaluation samples: the same ``count`` samples for the whole run."""
    rng = np.random.default_rng([seed, EVAL_STREAM])
    return collate([sampler.load(s) for s in sampler.draw(rng, count)])


def make_loader(dataset: StepBatches, num_workers: int, pin_memory: bool) -> Iterator:
    """An iterator over the dataset in order, prefetched by worker processes."""
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=None, shuffle=False, num_workers=num_workers,
        pin_memory=pin_memory, persistent_workers=False,
        prefetch_factor=4 if num_workers > 0 else None,
    )
    return iter(loader)
