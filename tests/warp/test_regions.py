"""Face regions: the sparse Gaussian smoothing against the dense kernel it replaced."""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp.regions import gaussian_smoothed


def test_sparse_smoothing_matches_the_dense_kernel(warp_cases) -> None:
    for case in warp_cases:
        face = case.source.geometry.face
        for sigma in (0.05, 0.1, 0.3):
            squared = ((face[:, None, :2] - face[None, :, :2]) ** 2).sum(axis=2)
            weights = np.exp(-squared / (2 * sigma**2))
            dense = weights @ face[:, 2] / weights.sum(axis=1)
            sparse = gaussian_smoothed(face[:, :2], face[:, 2], sigma)
            np.testing.assert_allclose(sparse, dense, atol=1e-5 * np.abs(face[:, 2]).max())


def test_smoothing_is_local() -> None:
    # Two clusters far apart: each point averages only its own cluster.
    xy = np.array([[0.0, 0.0], [0.01, 0.0], [5.0, 5.0], [5.01, 5.0]])
    values = np.array([1.0, 3.0, 10.0, 30.0])
    np.testing.assert_allclose(gaussian_smoothed(xy, values, 0.1), [2.0, 2.0, 20.0, 20.0],
                               rtol=1e-2)
