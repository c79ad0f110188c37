"""Temporal smoothing of landmark tracks: the One Euro filter.

Casiez, Roussel and Vogel, "1 Euro Filter: A Simple Speed-based Low-pass Filter for Noisy
Input in Interactive Systems", CHI 2012. A first-order low-pass filter whose cutoff rises with
the signal's speed: slow motion is smoothed hard (no jitter while the head is still), fast
motion passes with little lag. Each element of the array is filtered on its own, so a (478, 3)
landmark array gets 1434 independent filters that share timestamps.
"""

from __future__ import annotations

import math

import numpy as np

from fgemotalk_cli.errors import InputError


def _smoothing_factor(cutoff_hz: np.ndarray | float, dt_seconds: float) -> np.ndarray | float:
    """Exponential-smoothing weight of the new sample for a given cutoff (paper, eq. 4)."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt_seconds)


class OneEuroFilter:
    """One Euro filter over arrays of any (fixed) shape, driven by timestamps in seconds.

    ``min_cutoff`` (Hz) sets the smoothing of a still signal: lower means less jitter and more
    lag. ``beta`` (per unit of the signal's speed) raises the cutoff as the signal moves: higher
    means less lag on fast motion. ``d_cutoff`` (Hz) smooths the speed estimate itself. Because
    ``beta`` multiplies a speed, it depends on the signal's units: normalise the signal (for
    landmarks, divide by the inter-ocular distance) so one setting fits every face size.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        if not min_cutoff > 0 or not d_cutoff > 0:
            raise InputError(
                f"One Euro cutoffs must be positive frequencies in Hz, got min_cutoff={min_cutoff}"
                f" and d_cutoff={d_cutoff}"
            )
        if not beta >= 0:
            raise InputError(f"One Euro beta must be zero or positive, got {beta}")
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._time_seconds: float | None = None

    def reset(self) -> None:
        """Forget the past: the next sample passes through unchanged."""
        self._value = None
        self._speed = None
        self._time_seconds = None

    def __call__(self, x: np.ndarray, t_seconds: float) -> np.ndarray:
        """Filter one sample taken at ``t_seconds``; returns a new array shaped like ``x``."""
        source_dtype = np.asarray(x).dtype
        out_dtype = source_dtype if np.issubdtype(source_dtype, np.floating) else np.float64
        sample = np.asarray(x, dtype=np.float64)
        t_seconds = float(t_seconds)
        if self._value is None or self._time_seconds is None or self._speed is None:
            self._value = sample.copy()
            self._speed = np.zeros_like(sample)
            self._time_seconds = t_seconds
            return sample.astype(out_dtype, copy=True)
        if sample.shape != self._value.shape:
            raise ValueError(
                f"OneEuroFilter got shape {sample.shape} after {self._value.shape}; "
                "call reset() before filtering a different signal"
            )
        dt_seconds = t_seconds - self._time_seconds
        if dt_seconds < 0:
            raise InputError(
                f"timestamps must not go backwards: {t_seconds:.4f} s came after "
                f"{self._time_seconds:.4f} s"
            )
        if dt_seconds == 0:
            # A repeated timestamp (duplicated frame) carries no new timing information: the
            # speed is undefined, so keep the current estimate rather than divide by zero.
            return self._value.astype(out_dtype, copy=True)
        # Speed against the previous *filtered* value, as in the paper's algorithm: raw
        # sample-to-sample differences would double the noise the derivative filter must absorb.
        speed = (sample - self._value) / dt_seconds
        speed_alpha = _smoothing_factor(self.d_cutoff, dt_seconds)
        self._speed = self._speed + speed_alpha * (speed - self._speed)
        cutoff = self.min_cutoff + self.beta * np.abs(self._speed)
        alpha = _smoothing_factor(cutoff, dt_seconds)
        self._value = self._value + alpha * (sample - self._value)
        self._time_seconds = t_seconds
        return self._value.astype(out_dtype, copy=True)
