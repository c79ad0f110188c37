"""Small 1-D filters for the 100 Hz speech-analysis series, in numpy alone.

``speak`` used scipy.signal (Butterworth design, ``sosfiltfilt``, ``find_peaks``) and
scipy.ndimage (running maximum, binary morphology) on series a few thousand samples long.
Importing those two packages costs about two CPU seconds per job, far more than the filtering
itself, so the few operations are written here with the same definitions (same padding,
initial conditions and borders as SciPy's defaults; ``tests/test_speech_filters.py`` compares
them against SciPy where it is installed).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@cache
def butterworth_lowpass(cutoff_hz: float, rate_hz: float) -> tuple[float, float, float, float,
                                                                     float]:
    """(b0, b1, b2, a1, a2) of the 2nd-order Butterworth low-pass (a0 = 1), by the bilinear
    transform with the cutoff pre-warped: the same filter as ``scipy.signal.butter(2, ...)``."""
    if not 0 < cutoff_hz < rate_hz / 2:
        raise ValueError(f"cutoff {cutoff_hz} Hz must lie within (0, {rate_hz / 2}) Hz")
    k = math.tan(math.pi * cutoff_hz / rate_hz)
    norm = 1.0 / (1.0 + math.sqrt(2.0) * k + k * k)
    b0 = k * k * norm
    return b0, 2.0 * b0, b0, 2.0 * (k * k - 1.0) * norm, (1.0 - math.sqrt(2.0) * k + k * k) * norm


def _biquad(values: np.ndarray, coefficients: tuple[float, ...]) -> np.ndarray:
    """One pass of the biquad (transposed direct form II), started in its steady state for
    a constant input equal to the first value (as ``sosfilt_zi`` does)."""
    b0, b1, b2, a1, a2 = coefficients
    first = float(values[0])
    steady = first * (b0 + b1 + b2) / (1.0 + a1 + a2)
    z2 = b2 * first - a2 * steady
    z1 = b1 * first - a1 * steady + z2
    out = np.empty(len(values))
    for index, x in enumerate(values.tolist()):
        y = b0 * x + z1
        z1 = b1 * x - a1 * y + z2
        z2 = b2 * x - a2 * y
        out[index] = y
    return out


def zero_phase_lowpass(values: np.ndarray, cutoff_hz: float, rate_hz: float) -> np.ndarray:
    """Forward-backward 2nd-order Butterworth low-pass: ``scipy.signal.sosfiltfilt`` with its
    defaults (odd extension by 9 samples, steady-state start). Needs more than 9 samples."""
    values = np.asarray(values, dtype=np.float64)
    pad = 9  # 3 * (2 * sections + 1) for one second-order section, SciPy's default
    if len(values) <= pad:
        raise ValueError(f"zero-phase filtering needs more than {pad} samples")
    extended = np.concatenate([2 * values[0] - values[pad:0:-1], values,
                               2 * values[-1] - values[-2:-pad - 2:-1]])
    coefficients = butterworth_lowpass(float(cutoff_hz), float(rate_hz))
    forward = _biquad(extended, coefficients)
    both = _biquad(forward[::-1], coefficients)[::-1]
    return both[pad:-pad]


def running_maximum(values: np.ndarray, size: int) -> np.ndarray:
    """Maximum over a centred window of ``size`` samples, the ends mirrored (edge sample
    repeated): ``scipy.ndimage.maximum_filter1d`` with its default ``mode="reflect"``."""
    if size < 1:
        raise ValueError("size must be at least 1")
    before = size // 2
    padded = np.pad(np.asarray(values), (before, size - 1 - before), mode="symmetric")
    return sliding_window_view(padded, size).max(axis=1)


def _shifted(active: np.ndarray, offset: int) -> np.ndarray:
    """``active[i + offset]`` for each i, False beyond the ends."""
    out = np.zeros_like(active)
    n = len(active)
    if offset >= 0:
        out[: max(n - offset, 0)] = active[offset:]
    else:
        out[-offset:] = active[: n + offset]
    return out


def binary_erosion(active: np.ndarray, structure: np.ndarray) -> np.ndarray:
    """1-D erosion, centred at ``len(structure) // 2``, False beyond the ends (SciPy's default
    ``border_value=0``)."""
    active = np.asarray(active, dtype=bool)
    centre = len(structure) // 2
    out = np.ones_like(active)
    for tap in np.flatnonzero(structure):
        out &= _shifted(active, int(tap) - centre)
    return out


def binary_dilation(active: np.ndarray, structure: np.ndarray) -> np.ndarray:
    """1-D dilation as ``scipy.ndimage.binary_dilation`` (the structure reflected, even sizes
    centred as SciPy centres them)."""
    active = np.asarray(active, dtype=bool)
    size = len(structure)
    centre = size // 2 - (1 - size % 2)
    out = np.zeros_like(active)
    for tap in np.flatnonzero(np.asarray(structure, dtype=bool)[::-1]):
        out |= _shifted(active, int(tap) - centre)
    return out


def binary_opening(active: np.ndarray, structure: np.ndarray) -> np.ndarray:
    return binary_dilation(binary_erosion(active, structure), structure)


def binary_closing(active: np.ndarray, structure: np.ndarray) -> np.ndarray:
    return binary_erosion(binary_dilation(active, structure), structure)


def find_peaks(values: np.ndarray, height: float, prominence: float,
               distance: float) -> np.ndarray:
    """Indices of local maxima at least ``height`` high, ``distance`` samples apart (higher
    peaks win) and standing ``prominence`` above their surroundings: the subset of
    ``scipy.signal.find_peaks`` the head-nod generator uses, with the same definitions (flat
    tops give their middle sample; the ends are never peaks)."""
    x = np.asarray(values, dtype=np.float64)
    peaks: list[int] = []
    index, last = 1, len(x) - 1
    while index < last:
        if x[index - 1] < x[index]:
            ahead = index + 1
            while ahead < last and x[ahead] == x[index]:
                ahead += 1
            if x[ahead] < x[index]:
                peaks.append((index + ahead - 1) // 2)
                index = ahead
        index += 1
    found = np.array([p for p in peaks if x[p] >= height], dtype=np.intp)
    if len(found) > 1:
        spacing = math.ceil(distance)
        keep = np.ones(len(found), dtype=bool)
        for i in np.argsort(x[found], kind="stable")[::-1]:
            if not keep[i]:
                continue
            j = i - 1
            while j >= 0 and found[i] - found[j] < spacing:
                keep[j] = False
                j -= 1
            j = i + 1
            while j < len(found) and found[j] - found[i] < spacing:
                keep[j] = False
                j += 1
        found = found[keep]
    return np.array([p for p in found if _prominence(x, int(p)) >= prominence], dtype=np.intp)


def _prominence(x: np.ndarray, peak: int) -> float:
    """How far the peak stands above the higher of its two bases (the lowest points between
    it and the nearest higher sample on each side, or the ends)."""
    top = x[peak]
    left = peak
    left_base = top
    while left >= 0 and x[left] <= top:
        left_base = min(left_base, x[left])
        left -= 1
    right = peak
    right_base = top
    while right < len(x) and x[right] <= top:
        right_base = min(right_base, x[right])
        right += 1
    return float(top - max(left_base, right_base))
