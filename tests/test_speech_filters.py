"""The numpy speech filters against the SciPy functions they replace (same definitions)."""

from __future__ import annotations

import numpy as np
import pytest

from fgemotalk_cli.speech import filters

scipy_signal = pytest.importorskip("scipy.signal")
scipy_ndimage = pytest.importorskip("scipy.ndimage")


@pytest.fixture
def series() -> np.ndarray:
    rng = np.random.default_rng(3)
    # A speech-like envelope: slow syllable bumps plus noise, 100 Hz for 12 s.
    times = np.arange(1200) / 100.0
    return np.abs(np.sin(2 * np.pi * 3.1 * times)) + 0.2 * rng.standard_normal(1200)


@pytest.mark.parametrize("cutoff", [6.0, 8.0, 10.0, 15.0])
def test_lowpass_matches_sosfiltfilt(series: np.ndarray, cutoff: float) -> None:
    sos = scipy_signal.butter(2, cutoff, fs=100, output="sos")
    expected = scipy_signal.sosfiltfilt(sos, series)
    np.testing.assert_allclose(filters.zero_phase_lowpass(series, cutoff, 100), expected,
                               atol=1e-9)


def test_running_maximum_matches_ndimage(series: np.ndarray) -> None:
    for size in (1, 4, 25):
        np.testing.assert_array_equal(filters.running_maximum(series, size),
                                      scipy_ndimage.maximum_filter1d(series, size=size))


@pytest.mark.parametrize("size", [1, 2, 3, 8, 13])
def test_morphology_matches_ndimage(size: int) -> None:
    rng = np.random.default_rng(size)
    active = rng.random(300) < 0.4
    ones = np.ones(size, dtype=bool)
    asymmetric = np.zeros(2 * size + 1, dtype=bool)
    asymmetric[1: size + 2] = True
    for ours, theirs, structure in [
        (filters.binary_erosion, scipy_ndimage.binary_erosion, ones),
        (filters.binary_dilation, scipy_ndimage.binary_dilation, ones),
        (filters.binary_dilation, scipy_ndimage.binary_dilation, asymmetric),
        (filters.binary_opening, scipy_ndimage.binary_opening, ones),
        (filters.binary_closing, scipy_ndimage.binary_closing, ones),
    ]:
        np.testing.assert_array_equal(ours(active, structure), theirs(active, structure))


def test_find_peaks_matches_scipy(series: np.ndarray) -> None:
    smooth = np.convolve(series, np.ones(3) / 3, mode="same")
    smooth[100:104] = 2.0  # a flat top
    for distance in (1, 7, 20):
        expected, _ = scipy_signal.find_peaks(smooth, height=0.5, prominence=0.2,
                                              distance=distance)
        np.testing.assert_array_equal(filters.find_peaks(smooth, 0.5, 0.2, distance), expected)
