"""Stage 2's DISFA frames: inconsistent labels are dropped, AUs are drawn balanced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fgemotalk_cli.errors import ConfigError
from fgemotalk_cli.training.au_sampling import (
    consistent_frames,
    frame_numbers,
    neutral_frame_indices,
)
from fgemotalk_cli.training.config import AUSamplingConfig
from fgemotalk_cli.training.data import AUFrameSampler, Clip

AUS = (1, 2, 4, 5, 6, 9, 12)


def _clip(labels: np.ndarray, numbers: np.ndarray | None = None) -> Clip:
    numbers = np.arange(1, len(labels) + 1) if numbers is None else numbers
    return Clip(folder=Path("/nonexistent/SN001"), frames=len(labels), image_format="png",
                split="train", files=tuple(f"{n:06d}.png" for n in numbers), aus=AUS,
                labels=labels.astype(np.float32))


def test_isolated_spikes_are_dropped_and_steps_kept() -> None:
    au = np.array([0, 0, 0, 3, 0, 0, 0, 0, 4, 4, 4, 4, 4, 0, 0, 0], dtype=float)
    labels = np.zeros((len(au), 2))
    labels[:, 1] = au
    keep = consistent_frames(labels, np.arange(len(au)), window=5, tolerance=1.0)
    assert not keep[3]                    # one frame at 3 between zeros
    assert keep[[2, 4, 7, 8, 12, 13]].all()  # both sides of a real onset and offset
    assert keep.sum() == len(au) - 1
    assert consistent_frames(labels, np.arange(len(au)), window=0, tolerance=1.0).all()


def test_neighbours_follow_frame_numbers_not_file_order() -> None:
    # Frame 10 is far from the others in time: it has no neighbours, so it is kept.
    labels = np.array([[0.0], [0.0], [0.0], [5.0]])
    numbers = np.array([1, 2, 3, 10])
    assert consistent_frames(labels, numbers, window=5, tolerance=1.0).all()
    assert frame_numbers(["000007.png", "000009.jpg"]).tolist() == [7, 9]


def test_neutral_frames_have_every_au_at_zero() -> None:
    labels = np.array([[0, 0], [1, 0], [0, 0], [0, 2], [0, 0]], dtype=float)
    assert neutral_frame_indices(labels, 10).tolist() == [0, 2, 4]
    assert neutral_frame_indices(labels, 2).tolist() == [0, 4]
    assert neutral_frame_indices(labels[[1, 3]], 1).tolist() == [0]  # least active instead


def test_balanced_sampler_gives_every_au_a_fair_share() -> None:
    rng = np.random.default_rng(0)
    frames = 4000
    labels = np.zeros((frames, len(AUS)))
    # As in DISFA: most frames neutral, some AUs rare (AU9 in 0.5 % of frames), held for runs.
    rates = (0.04, 0.03, 0.06, 0.01, 0.08, 0.005, 0.15)
    for au, rate in enumerate(rates):
        starts = rng.choice(frames // 10, size=max(1, int(rate * frames / 10)), replace=False)
        for start in starts:
            labels[start * 10:start * 10 + 10, au] = rng.integers(1, 6)
    clip = _clip(labels)
    draws = 8000
    balanced = AUFrameSampler([clip], AUS).draw(np.random.default_rng(1), draws)
    uniform = AUFrameSampler([clip], AUS, AUSamplingConfig(balance="uniform")).draw(
        np.random.default_rng(1), draws)

    def active_share(specs: list[tuple[int, int]]) -> np.ndarray:
        drawn = labels[[frame for _, frame in specs]]
        return np.concatenate([(drawn >= 1).mean(axis=0), [(drawn < 1).all(axis=1).mean()]])

    fair = 1 / (len(AUS) + 1)
    shares = active_share(balanced)
    assert (shares[:-1] > 0.9 * fair).all(), shares      # each AU, however rare
    assert abs(shares[-1] - fair) < 0.03, shares          # the neutral face: one share
    assert active_share(uniform)[5] < 0.02                # uniform: AU9 almost never
    assert active_share(uniform)[-1] > 0.5                # ... and mostly neutral faces


def test_filtering_every_frame_away_is_an_error() -> None:
    labels = np.zeros((2, len(AUS)))
    labels[0, 0] = 5  # 5 then 0: neither frame agrees with the median of the two
    with pytest.raises(ConfigError, match="label_window"):
        AUFrameSampler([_clip(labels)], AUS, AUSamplingConfig(label_tolerance=0.0))
