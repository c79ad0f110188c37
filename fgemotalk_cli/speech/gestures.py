"""Blinks and head motion for speech-driven animation, where no driver video gives them.

A face that talks with a frozen head and open eyes looks dead, so ``speak`` adds both:
blinks at a natural rate with random intervals, and gentle head motion (slow drift plus small
nods on stressed, loud syllables) that follows the speech energy. Everything is seeded, so a
run is reproducible. Frame k is sampled at (k + 0.5) / fps, as in `speech.mouth_track`. [ours]
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.speech.filters import find_peaks

# Spontaneous blinking in conversation: about 15-20 a minute (Bentivoglio et al. 1997).
_MEAN_BLINK_INTERVAL_S = 3.5
_BLINK_INTERVAL_SHAPE = 3.0  # gamma shape: irregular, but rarely very short gaps
_BLINK_DURATION_S = (0.10, 0.15)
_BLINK_CLOSING_SHARE = 0.4  # lids close faster than they open
_MIN_GAP_BETWEEN_BLINKS_S = 0.3

# Largest angles at amount=1, in degrees: yaw (turn), pitch (positive nods down), roll (tilt).
_DRIFT_DEGREES = np.array([3.0, 2.0, 1.2])
_LIMIT_DEGREES = np.array([6.0, 4.0, 3.0])
_DRIFT_FREQUENCIES_HZ = (0.05, 0.3)
_NOD_DEGREES = 1.5
_NOD_DURATION_S = 0.5
_MIN_NOD_SPACING_S = 0.45


def blink_track(n_frames: int, fps: Fraction, seed: int = 0) -> np.ndarray:
    """Eyelid closure per frame, 0 open to 1 closed; each blink fully closes on one frame."""
    seconds_per_frame = _seconds_per_frame(fps)
    if n_frames < 0:
        raise InputError(f"n_frames must be >= 0, got {n_frames}")
    rng = np.random.default_rng(seed)
    times = (np.arange(n_frames) + 0.5) * seconds_per_frame
    closure = np.zeros(n_frames)
    duration_s = float(n_frames * seconds_per_frame)
    previous_end = -np.inf
    peak = rng.uniform(0.3, _MEAN_BLINK_INTERVAL_S)
    while True:
        length = rng.uniform(*_BLINK_DURATION_S)
        closing = _BLINK_CLOSING_SHARE * length
        peak = max(peak, previous_end + _MIN_GAP_BETWEEN_BLINKS_S + closing)
        # Peaks sit on a frame (the first at or after the drawn time) so every blink is
        # seen closed, not caught half way.
        peak = (np.ceil(peak / seconds_per_frame - 0.5) + 0.5) * seconds_per_frame
        if peak > duration_s:
            break
        first, last = np.searchsorted(times, [peak - closing, peak + length])
        shape = _blink_shape(times[first:last] - peak, closing, length - closing)
        closure[first:last] = np.maximum(closure[first:last], shape)
        previous_end = peak + (length - closing)
        scale = _MEAN_BLINK_INTERVAL_S / _BLINK_INTERVAL_SHAPE
        peak += rng.gamma(_BLINK_INTERVAL_SHAPE, scale)
    return closure.astype(np.float32)


def _blink_shape(offset_s: np.ndarray, closing_s: float, opening_s: float) -> np.ndarray:
    shape = np.zeros(len(offset_s))
    closing = (offset_s > -closing_s) & (offset_s <= 0)
    opening = (offset_s > 0) & (offset_s < opening_s)
    shape[closing] = np.sin(np.pi / 2 * (1 + offset_s[closing] / closing_s)) ** 2
    shape[opening] = np.cos(np.pi / 2 * offset_s[opening] / opening_s) ** 2
    return shape


def head_motion_track(
    energy: np.ndarray, fps: Fraction, amount: float = 0.5, seed: int = 0
) -> np.ndarray:
    """(n_frames, 3) yaw, pitch, roll in degrees following speech ``energy`` (0..1 per frame).

    ``amount`` 0 gives a still head (all zeros), 1 the largest motion; angles stay within
    ±(6, 4, 3) degrees times ``amount``.
    """
    seconds_per_frame = _seconds_per_frame(fps)
    if not 0.0 <= amount <= 1.0:
        raise InputError(f"head motion amount must be in 0..1, got {amount}")
    energy = np.clip(np.nan_to_num(np.asarray(energy, dtype=np.float64)), 0.0, 1.0)
    if energy.ndim != 1:
        raise InputError(f"energy must be one value per frame, got shape {energy.shape}")
    n_frames = len(energy)
    if amount == 0.0 or n_frames == 0:
        return np.zeros((n_frames, 3), dtype=np.float32)
    rng = np.random.default_rng(seed)
    times = (np.arange(n_frames) + 0.5) * seconds_per_frame
    activity = _moving_average(energy, max(1, round(1.5 / seconds_per_frame)))
    # Speakers move more while talking than while listening or pausing.
    angles = _drift(times, rng) * (0.4 + 0.6 * activity)[:, None]
    nods = _nods(energy, times, seconds_per_frame)
    angles[:, 1] += nods
    # A nod often comes with a slight turn; its side is a trait of the (seeded) speaker.
    angles[:, 0] += 0.25 * rng.choice([-1.0, 1.0]) * nods
    limits = _LIMIT_DEGREES * amount
    return (limits * np.tanh(amount * angles / limits)).astype(np.float32)


def _drift(times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Slow, smooth wandering: a few low sinusoids per axis with random phases."""
    angles = np.zeros((len(times), 3))
    for axis in range(3):
        frequencies = rng.uniform(*_DRIFT_FREQUENCIES_HZ, size=4)
        phases = rng.uniform(0, 2 * np.pi, size=4)
        weights = 1.0 / frequencies  # slower components are larger, as in real head sway
        weights *= _DRIFT_DEGREES[axis] / weights.sum()
        for frequency, phase, weight in zip(frequencies, phases, weights):
            angles[:, axis] += weight * np.sin(2 * np.pi * frequency * times + phase)
    return angles


def _nods(energy: np.ndarray, times: np.ndarray, seconds_per_frame: float) -> np.ndarray:
    """Downward pitch bumps starting just before the loudest syllables."""
    smooth = _moving_average(energy, max(1, round(0.12 / seconds_per_frame)))
    distance = max(1, round(_MIN_NOD_SPACING_S / seconds_per_frame))
    peaks = find_peaks(smooth, height=0.5, prominence=0.2, distance=distance)
    pitch = np.zeros(len(energy))
    for peak in peaks:
        start = times[peak] - 0.08
        phase = (times - start) / _NOD_DURATION_S
        inside = (phase > 0) & (phase < 1)
        pitch[inside] += _NOD_DEGREES * smooth[peak] * np.sin(np.pi * phase[inside]) ** 2
    return pitch


def _moving_average(values: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(values) == 0:
        return values.astype(np.float64)
    kernel = np.hanning(width + 2)[1:-1]
    padded = np.pad(values, width, mode="edge")
    return np.convolve(padded, kernel / kernel.sum(), mode="same")[width:-width]


def _seconds_per_frame(fps: Fraction | float | int) -> float:
    fps = Fraction(fps)
    if fps <= 0:
        raise InputError(f"fps must be positive, got {fps}")
    return float(1 / fps)
