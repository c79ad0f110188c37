from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.speech.gestures import blink_track, head_motion_track


def blinks(closure: np.ndarray) -> list[np.ndarray]:
    """Frame index runs where the lids are not fully open."""
    closed = np.flatnonzero(closure > 0)
    return np.split(closed, np.flatnonzero(np.diff(closed) > 1) + 1) if len(closed) else []


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001), Fraction(60)])
def test_blink_rate_shape_and_spacing(fps: Fraction) -> None:
    n_frames = int(60 * fps)
    rates = []
    for seed in range(8):
        closure = blink_track(n_frames, fps, seed)
        assert closure.shape == (n_frames,) and closure.min() >= 0 and closure.max() <= 1
        runs = blinks(closure)
        rates.append(len(runs))  # per minute
        for run in runs:
            assert closure[run].max() == pytest.approx(1.0)  # every blink is seen closed
            assert len(run) / fps <= 0.15 + 1 / fps
        gaps = [(b[0] - a[-1]) / fps for a, b in zip(runs, runs[1:])]
        assert min(gaps) >= 0.3  # never two blinks run into each other
    assert all(10 <= rate <= 30 for rate in rates)
    assert 14 <= np.mean(rates) <= 22


def test_blinks_are_seeded() -> None:
    first = blink_track(1500, Fraction(25), seed=1)
    np.testing.assert_array_equal(first, blink_track(1500, Fraction(25), seed=1))
    assert not np.array_equal(first, blink_track(1500, Fraction(25), seed=2))


def speech_like_energy(fps: float, seconds: float) -> np.ndarray:
    """A loud syllable every second over a quieter murmur."""
    times = np.arange(int(seconds * fps)) / fps
    return np.clip(0.2 + 0.8 * np.exp(-(((times % 1.0) - 0.5) ** 2) / 0.005), 0, 1)


def test_head_motion_is_zero_for_amount_zero() -> None:
    angles = head_motion_track(speech_like_energy(25, 10), Fraction(25), amount=0.0, seed=3)
    assert angles.shape == (250, 3) and not angles.any()


def test_head_motion_is_bounded_smooth_and_nods_on_loud_syllables() -> None:
    fps = 25
    energy = speech_like_energy(fps, 30)
    angles = head_motion_track(energy, Fraction(fps), amount=1.0, seed=3)
    assert (np.abs(angles).max(axis=0) <= [6.0, 4.0, 3.0]).all()
    assert np.abs(angles).max() > 0.5
    assert np.abs(np.diff(angles, axis=0)).max() < 0.5  # degrees per frame
    smaller = head_motion_track(energy, Fraction(fps), amount=0.3, seed=3)
    assert np.abs(smaller).max() < np.abs(angles).max()
    # Averaged over 30 syllables the slow drift cancels out and the nods (pitch down) remain:
    # higher just after each loud syllable (at 0.5 s in every second) than just before.
    phase = (np.arange(len(energy)) / fps) % 1.0
    pitch = angles[:, 1]
    assert (
        pitch[(phase > 0.5) & (phase < 0.7)].mean()
        > pitch[(phase > 0.1) & (phase < 0.3)].mean() + 0.5
    )


@pytest.mark.parametrize("amount", [-0.1, 1.5])
def test_head_motion_amount_out_of_range(amount: float) -> None:
    with pytest.raises(InputError):
        head_motion_track(np.zeros(10), Fraction(25), amount=amount)
