"""Lips as surfaces that meet: no target mouth whose lower lip has passed through the upper.

Transferred expressions are offsets. A driver closing its mouth from a wide opening hands the
source an offset as large as that opening; on a source whose own mouth was open less (a smile
showing teeth, a slightly parted mouth), the offset carries the lower lip up past the upper
one, and the warp then folds both lips over each other: the zigzag, pink-brown band where
lips should meet. Real lips stop where they touch and press together. So, per column of the
mouth, wherever the target's inner lower lip lies above its inner upper lip, both lips are
moved back to meet half way, each carrying its whole vermilion (inner and outer contour) so
the lips keep their thickness; what lies behind them is then hidden by the lips themselves
(the mouth opening is drawn first and the skin over it). The same offsets, pushing a mouth
that is already closed further shut, squash the vermilion to a line: each lip keeps at least
``_MIN_THICKNESS`` of its source height (its outer contour moves back out).
"""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp import layout as L

# Inner and outer contour points that lie in the same column of each lip, corners excluded.
_UPPER = tuple(zip(L.UPPER_INNER_LIP[1:-1], L.UPPER_OUTER_LIP[1:-1]))
_LOWER = tuple(zip(L.LOWER_INNER_LIP[1:-1], L.LOWER_OUTER_LIP[1:-1]))
_MIN_THICKNESS = 0.7  # share of its source height (scaled by the mouth width) a lip keeps
# The same columns as index arrays: (inner, outer) of the upper lip, then of the lower.
_UPPER_INNER, _UPPER_OUTER = (np.array([pair[k] for pair in _UPPER]) for k in (0, 1))
_LOWER_INNER, _LOWER_OUTER = (np.array([pair[k] for pair in _LOWER]) for k in (0, 1))


def _mouth_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The left corner, unit vectors along the mouth and down across it, and its width."""
    left, right = points[L.MOUTH_CORNERS[0], :2], points[L.MOUTH_CORNERS[1], :2]
    along = right - left
    width = float(np.linalg.norm(along))
    along = along / max(width, 1e-6)
    down = np.array([-along[1], along[0]])
    if down[1] < 0:  # the mouth's "down" is the image's, whatever the roll
        down = -down
    return left, along, down, width


def _thickness(points: np.ndarray, inner: np.ndarray, outer: np.ndarray,
               down: np.ndarray) -> np.ndarray:
    return np.abs((points[outer, :2] - points[inner, :2]) @ down)


def meet_lips(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``target`` (478, 2 or 3) image points with crossed lips moved back to touch and
    squashed lips given back part of their ``source`` (478, 2+) thickness (a copy when
    anything moves, ``target`` itself otherwise)."""
    left, along, down, width = _mouth_axes(target)
    if width < 1e-6:
        return target
    _, _, source_down, source_width = _mouth_axes(source)
    scale = width / max(source_width, 1e-6)
    upper_inner, lower_inner = _UPPER_INNER, _LOWER_INNER
    # Pair each upper column with the lower point at the same place along the mouth.
    upper_a = (target[upper_inner, :2] - left) @ along
    lower_a = (target[lower_inner, :2] - left) @ along
    upper_b = (target[upper_inner, :2] - left) @ down
    lower_b = (target[lower_inner, :2] - left) @ down
    order = np.argsort(lower_a)
    lower_at_upper = np.interp(upper_a, lower_a[order], lower_b[order])
    order = np.argsort(upper_a)
    upper_at_lower = np.interp(lower_a, upper_a[order], upper_b[order])
    upper_overlap = np.maximum(upper_b - lower_at_upper, 0.0)
    lower_overlap = np.maximum(upper_at_lower - lower_b, 0.0)
    upper_short = np.maximum(
        _MIN_THICKNESS * scale * _thickness(source, _UPPER_INNER, _UPPER_OUTER, source_down)
        - _thickness(target, _UPPER_INNER, _UPPER_OUTER, down), 0.0)
    lower_short = np.maximum(
        _MIN_THICKNESS * scale * _thickness(source, _LOWER_INNER, _LOWER_OUTER, source_down)
        - _thickness(target, _LOWER_INNER, _LOWER_OUTER, down), 0.0)
    if not (upper_overlap.any() or lower_overlap.any() or upper_short.any()
            or lower_short.any()):
        return target
    moved = np.array(target, dtype=np.float64, copy=True)
    # Each column's inner and outer point move half the overlap, the outer one also what the
    # lip is short (the points of the four index arrays are all different).
    upper_half = (0.5 * upper_overlap)[:, None] * down
    lower_half = (0.5 * lower_overlap)[:, None] * down
    moved[_UPPER_INNER, :2] -= upper_half
    moved[_UPPER_OUTER, :2] -= upper_half
    moved[_UPPER_OUTER, :2] -= upper_short[:, None] * down
    moved[_LOWER_INNER, :2] += lower_half
    moved[_LOWER_OUTER, :2] += lower_half
    moved[_LOWER_OUTER, :2] += lower_short[:, None] * down
    return moved
