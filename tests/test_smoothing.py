"""The One Euro filter: less jitter on a still signal, little lag on a moving one."""

from __future__ import annotations

import numpy as np
import pytest

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.faces.smoothing import OneEuroFilter

FPS = 30.0


def _run(smoother: OneEuroFilter, samples: np.ndarray) -> np.ndarray:
    return np.stack([smoother(sample, index / FPS) for index, sample in enumerate(samples)])


def test_noisy_constant_signal_loses_most_of_its_jitter() -> None:
    rng = np.random.default_rng(0)
    noisy = 5.0 + rng.normal(0.0, 0.1, size=(300, 478, 3))
    smoothed = _run(OneEuroFilter(min_cutoff=1.0, beta=0.0), noisy)
    settled = smoothed[30:]  # past the first second, once the filter has converged
    assert settled.var(axis=0).mean() < noisy.var(axis=0).mean() / 8
    assert abs(settled.mean() - 5.0) < 0.01


def test_ramp_is_followed_with_little_lag() -> None:
    slope = 2.0  # units per second
    times = np.arange(120) / FPS
    ramp = slope * times
    plain = _run(OneEuroFilter(min_cutoff=1.0, beta=0.0), ramp[:, None])[:, 0]
    adaptive = _run(OneEuroFilter(min_cutoff=1.0, beta=2.0), ramp[:, None])[:, 0]
    lag_plain_seconds = (ramp[-1] - plain[-1]) / slope
    lag_adaptive_seconds = (ramp[-1] - adaptive[-1]) / slope
    # The speed term raises the cutoff while the signal moves: lag drops to under two frames.
    assert lag_adaptive_seconds < lag_plain_seconds / 2
    assert 0 <= lag_adaptive_seconds < 2 / FPS


def test_each_element_is_filtered_on_its_own() -> None:
    smoother = OneEuroFilter(min_cutoff=1.0, beta=5.0)
    outputs = [smoother(np.array([3.0, index * 0.5]), index / FPS) for index in range(30)]
    assert all(output[0] == 3.0 for output in outputs)  # the still element never moves


def test_first_sample_passes_and_reset_forgets() -> None:
    smoother = OneEuroFilter(min_cutoff=0.5, beta=0.1)
    first = np.full((4, 2), 7.0, dtype=np.float32)
    out = smoother(first, 0.0)
    assert out.dtype == np.float32 and np.array_equal(out, first) and out is not first
    moved = smoother(first + 10.0, 1 / FPS)
    assert 7.0 < moved[0, 0] < 17.0
    smoother.reset()
    assert np.array_equal(smoother(first + 10.0, 0.0), first + 10.0)


def test_repeated_timestamp_keeps_the_estimate() -> None:
    smoother = OneEuroFilter()
    smoother(np.zeros(3), 0.0)
    estimate = smoother(np.ones(3), 0.1)
    assert np.array_equal(smoother(np.full(3, 9.0), 0.1), estimate)


def test_misuse_is_reported() -> None:
    smoother = OneEuroFilter()
    smoother(np.zeros(3), 1.0)
    with pytest.raises(InputError, match="backwards"):
        smoother(np.zeros(3), 0.5)
    with pytest.raises(ValueError, match="reset"):
        smoother(np.zeros(4), 2.0)
    for bad in ({"min_cutoff": 0.0}, {"d_cutoff": -1.0}, {"beta": -0.5}):
        with pytest.raises(InputError):
            OneEuroFilter(**bad)
