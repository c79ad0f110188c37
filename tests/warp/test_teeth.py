"""The procedural teeth: a row of crowns with notched biting edges, not a pale bar."""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.teeth import InteriorColours, procedural_interior

LUMA = np.array([0.299, 0.587, 0.114])
COLOURS = InteriorColours(teeth=np.array([225.0, 220.0, 210.0]),
                          lips=np.array([170.0, 90.0, 90.0]), skin=np.array([200.0, 160.0, 140.0]))


def _mouth(width: float, gap: float) -> np.ndarray:
    """Eyes 100 px apart, an open mouth of the given size centred on (100, 120)."""
    points = np.zeros((L.ALL_POINTS, 2))
    points[33], points[263] = (50.0, 40.0), (150.0, 40.0)
    for contour, sign in ((L.UPPER_INNER_LIP, -1.0), (L.LOWER_INNER_LIP, 1.0)):
        t = np.linspace(-1, 1, len(contour))
        points[list(contour), 0] = 100 + 0.5 * width * t
        points[list(contour), 1] = 120 + sign * 0.5 * gap * (1 - t**2)
    return points


def test_upper_teeth_have_a_notch_between_the_central_incisors() -> None:
    luma = procedural_interior(_mouth(110, 40), (200, 200), COLOURS, 100.0) @ LUMA
    # How far down each column the enamel reaches (the bright rows under the upper lip at
    # y = 100; the incisors show about 8.5 px).
    reach = np.clip((luma[98:116, 80:121] - 100.0) / 20.0, 0.0, 1.0).sum(axis=0)
    midline, incisors = reach[20], 0.5 * (reach[15] + reach[25])
    assert incisors > 8.0  # the crowns themselves reach their full length
    # Between the two crowns their rounded corners leave a notch (the embrasure), part of
    # what makes a row of teeth read as teeth: a flat bar had about 1.4 px there.
    assert incisors - midline > 2.5
