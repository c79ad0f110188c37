"""Closing lids are painted with lid skin where the warp would smear shadow or make-up."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.engine import edit_source, target_from_controls
from fgemotalk_cli.engines.warp.render import prepare_source, render_warp
from fgemotalk_cli.faces.detector import detect_source_face
from fgemotalk_cli.media.images import load_image

pytestmark = pytest.mark.media

_EYES = ((L.RIGHT_EYE_CORNERS, L.RIGHT_UPPER_LID, L.RIGHT_LOWER_LID),
         (L.LEFT_EYE_CORNERS, L.LEFT_UPPER_LID, L.LEFT_LOWER_LID))
_LUMA = np.array([0.299, 0.587, 0.114])


def _opening_luma(image: np.ndarray, points: np.ndarray) -> list[float]:
    """Mean luma over each eye's source opening."""
    luma = image.astype(np.float64) @ _LUMA
    means = []
    for corners, upper, lower in _EYES:
        polygon = points[[corners[0], *upper, corners[1], *reversed(lower)], :2]
        mask = np.zeros(luma.shape, np.uint8)
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
        means.append(float(luma[mask.astype(bool)].mean()))
    return means


def test_closed_lids_of_a_made_up_eye_are_not_dark_smears(portraits,
                                                          review_dir) -> None:
    image = load_image(next(p for p in portraits if p.name == "sadtalker_sad.png"))
    source = prepare_source(image, detect_source_face(image))
    closed = edit_source(source, {45: 5})
    cv2.imwrite(str(review_dir / "test_lids_closed_sadtalker_sad.png"), closed[..., ::-1])
    skin = float(source.mouth_style.skin @ _LUMA)
    # Stretched liner and lashes left these at a fifth to a third of the skin's brightness.
    for luma in _opening_luma(closed, source.points):
        assert luma > 0.35 * skin, (luma, skin)


def test_open_eyes_and_raised_lower_lids_are_not_painted(warp_cases) -> None:
    from fgemotalk_cli.engines.warp import render

    for case in warp_cases:
        for aus in ({}, {7: 5}, {6: 5}, {45: 0.5}):
            target = target_from_controls(case.source, aus)
            painted = render_warp(case.source, target)
            original = render.fill_lids
            render.fill_lids = lambda *args: None
            try:
                plain = render_warp(case.source, target)
            finally:
                render.fill_lids = original
            assert np.array_equal(painted, plain), (case.name, aus)
