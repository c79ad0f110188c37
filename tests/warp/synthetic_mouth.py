"""A synthetic mouth for the interior's tests: 478 points with the eyes 100 px apart and an
open mouth centred on (100, 120), and the interior colours of a typical face."""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.teeth import InteriorColours

LUMA = np.array([0.299, 0.587, 0.114])
COLOURS = InteriorColours(teeth=np.array([225.0, 220.0, 210.0]),
                          lips=np.array([170.0, 90.0, 90.0]), skin=np.array([200.0, 160.0, 140.0]))


def synthetic_mouth(width: float, gap: float) -> np.ndarray:
    """(478, 2) points: eyes 100 px apart, a mouth ``width`` wide with lips ``gap`` apart."""
    points = np.zeros((L.ALL_POINTS, 2))
    points[33], points[263] = (50.0, 40.0), (150.0, 40.0)
    for contour, sign in ((L.UPPER_INNER_LIP, -1.0), (L.LOWER_INNER_LIP, 1.0)):
        t = np.linspace(-1, 1, len(contour))
        points[list(contour), 0] = 100 + 0.5 * width * t
        points[list(contour), 1] = 120 + sign * 0.5 * gap * (1 - t**2)
    return points
