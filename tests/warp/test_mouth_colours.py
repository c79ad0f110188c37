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
