"""The mouth's shading beyond the landmarks: AU 20's stretch folds and AU 17's chin boss."""

from __future__ import annotations

import numpy as np
import pytest

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.engine import target_from_controls
from fgemotalk_cli.engines.warp.shading import shade_expression

pytestmark = pytest.mark.media

GREY = 160


def _darkening(source, aus: dict[int, float]) -> np.ndarray:
    """How much the shading alone darkens flat grey skin for an edit (0 nothing, 1 black)."""
    grey = np.full(source.image.shape, GREY, np.uint8)
    shade_expression(grey, (0, 0), source.shading, target_from_controls(source, aus))
    return 1.0 - grey[..., 1].astype(np.float64) / GREY


def _mouth_boxes(source, aus: dict[int, float]) -> dict[str, tuple[slice, slice]]:
    """Image boxes beside the lip corners of the edit ``aus`` (out from them, level with them)
    and over the chin boss's lower rim (the lower half between the lower lip and the chin)."""
    points = np.asarray(target_from_controls(source, aus))[:, :2]
    iod = source.geometry.frame.iod_px
    boxes = {}
    for name, corner in (("right", L.MOUTH_CORNERS[0]), ("left", L.MOUTH_CORNERS[1])):
        x, y = points[corner]
        outwards = np.sign(x - points[list(L.MOUTH_CORNERS[:2]), 0].mean())
        near, far = sorted((x + outwards * 0.05 * iod, x + outwards * 0.3 * iod))
        boxes[name] = (slice(int(y - 0.12 * iod), int(y + 0.12 * iod)),
                       slice(int(near), int(far)))
    lip, chin = points[17], points[152]
    boxes["chin"] = (slice(int(lip[1] + 0.5 * (chin[1] - lip[1])),
                           int(lip[1] + 0.95 * (chin[1] - lip[1]))),
                     slice(int(lip[0] - 0.12 * iod), int(lip[0] + 0.12 * iod)))
    return boxes


def test_a_lip_stretch_folds_the_skin_beside_both_corners(warp_cases) -> None:
    """AU 20 draws the risorius's folds out beside each corner; a smile (AU 12, which
    stretches the corners too but lifts them), a frown (AU 15) and a dropping jaw draw none
    there (a smile's nasolabial fold ends below the corner, further out)."""
    for case in warp_cases:
        boxes = _mouth_boxes(case.source, {20: 5.0})
        stretch = _darkening(case.source, {20: 5.0})
        for side in ("right", "left"):
            assert stretch[boxes[side]].max() > 0.08, (case.name, side)
        for aus in ({15: 5.0}, {26: 5.0}):
            other = _darkening(case.source, aus)
            for side in ("right", "left"):
                assert other[boxes[side]].max() < 0.3 * stretch[boxes[side]].max(), aus


def test_the_stretch_folds_grow_with_the_stretch(warp_cases) -> None:
    source = warp_cases[0].source
    box = _mouth_boxes(source, {20: 5.0})["right"]
    depth = [_darkening(source, {20: k})[box].sum() for k in (1.0, 3.0, 5.0)]
    assert depth[0] < 0.2 * depth[2]
    assert depth[0] < depth[1] < depth[2]


def test_a_raised_chin_shades_the_boss_rim_and_a_dropped_jaw_does_not(warp_cases) -> None:
    """AU 17's mentalis pushes the chin boss up into a bulge whose lower rim shades. AU 26
    turns the boss and the chin about the hinge together and draws nothing there."""
    for case in warp_cases:
        box = _mouth_boxes(case.source, {})["chin"]
        raised = _darkening(case.source, {17: 5.0})[box].max()
        assert raised > 0.08, case.name
        assert _darkening(case.source, {26: 5.0})[box].max() < 0.2 * raised
        assert _darkening(case.source, {17: 1.0})[box].max() < 0.5 * raised
