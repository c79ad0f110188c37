"""Expression shading: creases where FACS puts them, scaled by the measured motion."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fgemotalk_cli.engines.warp.engine import edit_source, target_from_controls
from fgemotalk_cli.engines.warp.shading import shade_expression

pytestmark = pytest.mark.media

LUMA = np.array([0.299, 0.587, 0.114])


def _shading_only(source, aus: dict[int, float]) -> np.ndarray:
    """Luma change the shading layer alone makes for an edit."""
    shaded = edit_source(source, aus).astype(np.float64) @ LUMA
    plain = edit_source(replace(source, shading=None), aus).astype(np.float64) @ LUMA
    return shaded - plain


def _box(points: np.ndarray, indices: tuple[int, ...], grow: float) -> tuple[slice, slice]:
    xy = points[list(indices), :2]
    iod = float(np.linalg.norm(points[263, :2] - points[33, :2]))
    x0, y0 = np.floor(xy.min(0) - grow * iod).astype(int)
    x1, y1 = np.ceil(xy.max(0) + grow * iod).astype(int)
    return slice(max(y0, 0), y1), slice(max(x0, 0), x1)


def test_each_au_shades_its_own_region(warp_cases) -> None:
    source = warp_cases[0].source
    points = source.points
    regions = {
        (1, 2): (70, 300, 54, 284, 10),  # the forehead above the brows
        (4,): (107, 336, 55, 285, 9, 168),  # between the brows
        (12,): (129, 358, 61, 291),  # beside the nose and mouth
        (15,): (61, 291, 57, 287, 43, 273),  # below the lip corners
    }
    # The calibrated smile at 5 is a broad one: its fold's lit side reaches a little further
    # onto the cheek than the brows' creases do.
    grow = {(1, 2): 0.1, (4,): 0.1, (12,): 0.25, (15,): 0.25}
    for aus, indices in regions.items():
        change = _shading_only(source, {au: 5.0 for au in aus})
        rows, columns = _box(points, indices, grow[aus])
        inside = change[rows, columns]
        assert inside.min() < -8, aus  # a visible crease...
        outside = change.copy()
        outside[rows, columns] = 0
        # ...and nothing far from it (the chin for the brows, the forehead for the smile).
        assert np.abs(outside).max() < 0.5 * abs(inside.min()), aus


def test_creases_grow_with_intensity(warp_cases) -> None:
    source = warp_cases[0].source
    rows, columns = _box(source.points, (70, 300, 54, 284, 10), 0.1)
    depth = [-_shading_only(source, {1: k, 2: k})[rows, columns].clip(max=0).sum()
             for k in (1.0, 3.0, 5.0)]
    assert depth[0] < depth[1] < depth[2]
    assert depth[0] < 0.5 * depth[2]


def test_a_dropping_jaw_draws_no_corner_folds(warp_cases) -> None:
    """AU 26 lowers the lip corners with the jaw; the folds below them belong to AU 15."""
    source = warp_cases[0].source
    rows, columns = _box(source.points, (61, 291, 57, 287, 43, 273), 0.15)
    frown = _shading_only(source, {15: 5.0})[rows, columns]
    jaw = _shading_only(source, {26: 5.0})[rows, columns]
    assert frown.min() < -8
    assert jaw.min() > 0.25 * frown.min()


def test_the_corner_folds_are_a_soft_shadow_not_a_painted_line(warp_cases) -> None:
    """AU 15's folds below the corners: on flat grey skin, a shadow at most as dark as a
    faint crease and several pixels wide (half its peak over at least 0.03 IOD across)."""
    source = warp_cases[0].source
    grey = np.full(source.image.shape, 160, np.uint8)
    shade_expression(grey, (0, 0), source.shading, target_from_controls(source, {15: 5.0}))
    darkening = 1.0 - grey[..., 1] / 160.0
    iod = source.geometry.frame.iod_px
    assert 0.08 < darkening.max() <= 0.2
    fold_length_px = 2 * 0.176 * iod  # two folds, 0.05 by 0.17 IOD each
    width_iod = (darkening > darkening.max() / 2).sum() / fold_length_px / iod
    assert width_iod > 0.03
