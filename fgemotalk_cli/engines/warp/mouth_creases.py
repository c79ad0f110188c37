"""The mouth's creases beyond the lips that :mod:`.shading` draws for AU 20 and AU 17.

Each is a polyline with a strength per point and a width in IOD, which :mod:`.shading` draws
as a shallow valley (a soft shadow with a highlight on the wall facing the light), in the
mouth's own axes so that they turn with a rolled head:

- AU 20: the skin the risorius draws sideways bunches into a bracket-shaped fold beside each
  corner, from the lower end of the nasolabial fold round the corner (liveportrait_d18 frames
  114-117, d5 108);
- AU 17: the chin boss the mentalis pushes up is a bulge whose lower rim shades where the chin
  turns under (d18 frames 24-30).
"""

from __future__ import annotations

import numpy as np

Crease = tuple[np.ndarray, np.ndarray, float]  # polyline (N, 2), strength (N,), width (IOD)


def _bezier(start: np.ndarray, through: np.ndarray, end: np.ndarray, count: int) -> np.ndarray:
    """``count`` points of the quadratic curve from ``start`` through ``through`` to ``end``."""
    control = 2 * through - 0.5 * (start + end)
    t = np.linspace(0.0, 1.0, count)[:, None]
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end


def stretch_and_chin_creases(xy: np.ndarray, amounts: dict[str, float], iod: float
                             ) -> list[Crease]:
    """The active mouth creases for image points ``xy`` (478, 2), the families' ``amounts``
    (``stretch_folds``, ``chin_boss``; 0..1.3) and the face's ``iod`` in pixels."""
    creases: list[Crease] = []
    across = xy[291] - xy[61]
    across /= max(float(np.linalg.norm(across)), 1e-6)
    down = np.array([-across[1], across[0]])
    if down @ (xy[152] - xy[168]) < 0:
        down = -down
    stretch = amounts.get("stretch_folds", 0.0)
    if stretch > 0:
        # The skin the risorius draws sideways bunches into a bracket beside each corner,
        # from the lower end of the nasolabial fold round the corner (liveportrait_d18
        # frames 114-117, d5 108): a crease about 0.1 IOD out, not a smile's fold.
        for corner, side in ((61, -1.0), (291, 1.0)):
            out = side * across * iod
            start = xy[corner] + 0.10 * out - 0.16 * iod * down
            through = xy[corner] + 0.17 * out + 0.02 * iod * down
            end = xy[corner] + 0.12 * out + 0.17 * iod * down
            line = _bezier(start, through, end, 14)
            strength = stretch * np.sin(np.pi * np.linspace(0.08, 0.92, len(line))) ** 0.8
            creases.append((line, 0.55 * strength, 0.04))
    chin = amounts.get("chin_boss", 0.0)
    if chin > 0:
        # The mentalis pushes the chin boss up and out under the lower lip: a bulge, lit on
        # top, whose lower rim shades where the chin turns under (liveportrait_d18 frames
        # 24-30). A dark furrow under the lip instead read as a lower lip hanging lower.
        lip_to_chin = xy[152] - xy[17]
        rim = xy[17] + 0.75 * lip_to_chin
        ends = [rim + 0.24 * iod * side * across - 0.08 * iod * down for side in (-1.0, 1.0)]
        line = _bezier(ends[0], rim, ends[1], 16)
        strength = chin * np.sin(np.pi * np.linspace(0.05, 0.95, len(line)))
        creases.append((line, 0.7 * strength, 0.06))
    return creases
