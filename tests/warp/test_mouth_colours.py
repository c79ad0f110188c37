"""Colours of the synthetic mouth interior: teeth lit like the face's eyes, a red cavity."""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.mouth import MouthStyle
from fgemotalk_cli.engines.warp.teeth import InteriorColours, procedural_interior
from tests.warp.conftest import WarpCase

LUMA = np.array([0.299, 0.587, 0.114])


def test_teeth_are_ivory_and_as_bright_as_real_teeth_against_the_cheeks(
        warp_cases: list[WarpCase]) -> None:
    for case in warp_cases:
        points = np.asarray(case.landmarks.points, np.float64)
        for exposure in (1.0, 0.45):  # the same face photographed dim
            image = np.clip(case.image * exposure, 0, 255).astype(np.uint8)
            style = MouthStyle.from_source(image, points)
            if style.own_interior is not None:
                continue
            ratio = float(style.teeth @ LUMA) / float(style.skin @ LUMA)
            assert 0.99 <= ratio <= 1.46, (case.name, exposure, ratio)
            red, _, blue = style.teeth
            assert red > blue  # warm ivory, never the sclera's blue-grey


def test_the_cavity_is_dark_red_even_behind_dark_lips() -> None:
    points = np.zeros((L.ALL_POINTS, 2))
    points[33], points[263] = (50.0, 20.0), (150.0, 20.0)
    a = np.linspace(-1.0, 1.0, len(L.UPPER_INNER_LIP))
    points[list(L.UPPER_INNER_LIP)] = np.stack([100 + 40 * a, 100 - 2 * (1 - a**2)], axis=1)
    points[list(L.LOWER_INNER_LIP)] = np.stack([100 + 40 * a, 100 + 40 * (1 - a**2)], axis=1)
    dark_lips = InteriorColours(teeth=np.array([230.0, 220.0, 200.0]),
                                lips=np.array([60.0, 35.0, 35.0]),
                                skin=np.array([170.0, 130.0, 110.0]))
    image = procedural_interior(points, (200, 200), dark_lips, 100.0, teeth=False)
    inside = image[108:128, 90:111].reshape(-1, 3)  # the upper cavity, above the tongue
    luma = inside @ LUMA
    assert np.median(luma) > 20  # not black (the lips alone, this dark, would give about 10)
    assert np.all(inside[:, 0] > inside[:, 1]) and np.all(inside[:, 0] > inside[:, 2])


def test_a_black_and_white_picture_gets_a_grey_mouth(warp_cases: list[WarpCase]) -> None:
    from fgemotalk_cli.engines.warp.engine import target_from_controls
    from fgemotalk_cli.engines.warp.mouth import INNER_CONTOUR
    from fgemotalk_cli.engines.warp.render import prepare_source, render_warp

    case = warp_cases[0]
    grey = np.repeat((case.image @ LUMA)[..., None], 3, axis=2).clip(0, 255).astype(np.uint8)
    source = prepare_source(grey, case.landmarks)
    assert np.ptp(source.mouth_style.teeth) < 1.0  # no ivory warmth without colour
    target = target_from_controls(source, {26: 4})
    out = render_warp(source, target)
    import cv2

    mask = np.zeros(out.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(target[list(INNER_CONTOUR), :2]).astype(np.int32)], 1)
    inside = out[mask.astype(bool)].astype(np.int32)
    assert len(inside) > 100
    assert np.percentile(np.ptp(inside, axis=1), 99) <= 3  # no red tongue in a grey photo


def test_teeth_in_a_tinted_picture_take_its_tint(warp_cases: list[WarpCase]) -> None:
    # A varnished painting or a sepia print: no unsaturated white anywhere, the eyes' whites
    # are the tint's colour. Teeth of neutral enamel would glow white in it.
    case = warp_cases[0]
    tint = np.array([1.0, 0.82, 0.45])
    tinted = np.clip(case.image * tint, 0, 255).astype(np.uint8)
    style = MouthStyle.from_source(tinted, np.asarray(case.landmarks.points, np.float64))
    red, _, blue = style.teeth
    assert blue / red < 0.6  # neutral ivory (before) kept 0.71 of the red in the blue
    skin_luma = float(style.skin @ LUMA)
    assert 0.99 <= float(style.teeth @ LUMA) / skin_luma <= 1.46
