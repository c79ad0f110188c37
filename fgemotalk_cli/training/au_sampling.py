"""Stage-2 frame selection on DISFA: label filtering, per-AU balance and neutral frames [ours].

DISFA's labels are mostly zeros (most frames have no active AU), so uniform sampling teaches
the AU encoder little beyond the neutral face; and some labels are inconsistent, which the
paper handles by filtering badly labelled examples. Here:

- ``consistent_frames``: a frame is kept when, for every AU, its intensity is within
  ``tolerance`` of the median of the labelled frames within +-``window // 2`` frame numbers
  (an isolated spike, e.g. one frame at 3 between zeros, is a labelling slip, not an AU
  event: real onsets last several frames at DISFA's 20 fps).
- ``BalancedAUIndex``: one bucket per AU (frames where it is active, intensity >=
  ``threshold``) plus one neutral bucket (no AU active); a draw picks a non-empty bucket
  uniformly, then a frame of it uniformly. Each AU is then active in at least 1 / (n + 1)
  of the samples, however rare it is in the data.
- ``neutral_frame_indices``: the frames that define a subject's neutral code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

TRAILING_NUMBER = re.compile(r"(\d+)(?=\.[^.]+$|$)")


def frame_numbers(files: Sequence[str]) -> np.ndarray:
    """Frame numbers from file names such as ``000123.png``; the file order where they lack one."""
    matches = [TRAILING_NUMBER.search(name) for name in files]
    if files and all(matches):
        return np.array([int(m[1]) for m in matches if m], dtype=np.int64)
    return np.arange(len(files), dtype=np.int64)


def consistent_frames(labels: np.ndarray, numbers: np.ndarray, window: int,
                      tolerance: float) -> np.ndarray:
    """(frames,) bool: labels (frames, n_aus) agree with their temporal median within tolerance.

    Neighbours are the labelled frames whose numbers lie within ``window // 2`` of the frame's
    (gaps in the numbering are respected). ``window`` <= 1 keeps every frame.
    """
    count = labels.shape[0]
    if window <= 1 or count == 0:
        return np.ones(count, dtype=bool)
    order = np.argsort(numbers, kind="stable")
    sorted_labels, sorted_numbers = labels[order].astype(np.float64), numbers[order]
    half = window // 2
    stack = np.full((2 * half + 1, count, labels.shape[1]), np.nan)
    for row, offset in enumerate(range(-half, half + 1)):
        wanted = sorted_numbers + offset
        position = np.searchsorted(sorted_numbers, wanted).clip(0, count - 1)
        found = sorted_numbers[position] == wanted
        stack[row, found] = sorted_labels[position[found]]
    median = np.nanmedian(stack, axis=0)
    keep_sorted = (np.abs(sorted_labels - median) <= tolerance).all(axis=1)
    keep = np.empty(count, dtype=bool)
    keep[order] = keep_sorted
    return keep


def neutral_frame_indices(labels: np.ndarray, limit: int) -> np.ndarray:
    """Up to ``limit`` frames, evenly spread, with every labelled AU at 0.

    A subject without such frames falls back to its least active frames (smallest sum of
    intensities), so every subject still gets a neutral code.
    """
    totals = labels.sum(axis=1)
    candidates = np.flatnonzero(totals == 0)
    if candidates.size == 0:
        candidates = np.sort(np.argsort(totals, kind="stable")[:max(1, limit)])
    if candidates.size > limit:
        candidates = candidates[np.linspace(0, candidates.size - 1, limit).round().astype(int)]
    return candidates


class BalancedAUIndex:
    """Draw (clip, frame) specs so every AU, and the neutral face, is seen equally often."""

    def __init__(self, index: Sequence[tuple[int, int]], intensities: np.ndarray,
                 threshold: float) -> None:
        """``index``: the candidate (clip, frame) specs; ``intensities``: (len(index), n_aus)."""
        active = intensities >= threshold
        buckets = [np.flatnonzero(active[:, au]) for au in range(active.shape[1])]
        buckets.append(np.flatnonzero(~active.any(axis=1)))
        self.index = list(index)
        self.buckets = [bucket for bucket in buckets if bucket.size]

    def draw(self, rng: np.random.Generator, count: int) -> list[tuple[int, int]]:
        chosen = rng.integers(len(self.buckets), size=count)
        specs = []
        for bucket_index in chosen:
            bucket = self.buckets[bucket_index]
            specs.append(self.index[int(bucket[rng.integers(bucket.size)])])
        return specs
