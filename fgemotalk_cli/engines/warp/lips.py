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

Lip corners pulled down (AU 15, a driver's sad mouth) stretch the lower lip along the mouth
and press it against the upper one: FACS describes the lower lip as stretched and flattened,
and the real sad mouths and frowns of the shared clips (liveportrait_d18 frames 170-185, d8
frames 110-125) show a lower vermilion visibly thinner than at rest. A warp that only moves
the corners bends the whole, full lower lip into an arch instead, which the landmarker reads
as a mouth beginning to open, not as corners turned down. So wherever the corners lie lower
against both the lip line's centre and the upper lip's than in the source (in the face's own
frame, so that a nodding head does not count; a jaw dropping or a mouth closing moves one of
the two, not the corners), the lower lip's outer contour moves towards its inner contour, by up to
``_PRESSED_SHARE`` of its height, most in the middle (:func:`press_lower_lip`).
"""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp import layout as L

# Inner and outer contour points that lie in the same column of each lip, corners excluded.
_UPPER = tuple(zip(L.UPPER_INNER_LIP[1:-1], L.UPPER_OUTER_LIP[1:-1]))
_LOWER = tuple(zip(L.LOWER_INNER_LIP[1:-1], L.LOWER_OUTER_LIP[1:-1]))
_MIN_THICKNESS = 0.7  # share of its source height (scaled by the mouth width) a lip keeps
# How far (IOD, face frame) the corners drop against the lip line's centre before the lower
# lip starts to press and when it is fully pressed: AU 15's field at its median intensity-5
# strength drops them about 0.14, at intensity 1 about 0.045; a face at rest or talking
# moves them by less than 0.01.
_PRESS_FROM_IOD, _PRESSED_AT_IOD = 0.01, 0.14
_PRESSED_SHARE = 0.3  # of the lower lip's height, in its middle, when fully pressed
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


# Rigid points of the face (outer eye corners, nose bridge and base) that give its frame,
# then the outer lip corners and the centre of the lip line.
_FRAME_POINTS = np.array([33, 263, 168, 2, *L.MOUTH_CORNERS[:2], 13, 14])
# Where along the lower lip each column lies (0 and 1 the corners): pressing is strongest
# in the middle and fades towards the corners, which the depressor holds.
_PRESS_PROFILE = np.sin(np.pi * np.linspace(0.15, 0.85, len(_LOWER)))


def _corner_drops_iod(points: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """How far the lip corners lie below the centre of the lip line and below the upper lip's
    centre, in inter-ocular distances along the face's own down axis (from the eye corners
    and the nose, which no expression moves), so a head turned or nodding does not change
    them."""
    xyz = np.column_stack([points[_FRAME_POINTS, :2], depth[_FRAME_POINTS]])
    right_eye, left_eye, bridge, nose_base, *mouth = xyz
    across = left_eye - right_eye
    iod = float(np.linalg.norm(across))
    if iod < 1e-6:
        return np.zeros(2)
    across /= iod
    down = nose_base - bridge
    down -= (down @ across) * across
    down /= max(float(np.linalg.norm(down)), 1e-9)
    corners, upper, lower = (mouth[0] + mouth[1]) / 2, mouth[2], mouth[3]
    return np.array([(corners - (upper + lower) / 2) @ down, (corners - upper) @ down]) / iod


def press_lower_lip(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``target`` (478, 2+) with its lower lip pressed thinner as far as its corners are
    pulled down against the ``source`` (478, 3) (a copy when anything moves, ``target``
    itself otherwise); see the module docstring."""
    source_depth = (np.asarray(source[:, 2], np.float64) if source.shape[1] > 2
                    else np.zeros(len(source)))
    depth = np.asarray(target[:, 2], np.float64) if target.shape[1] > 2 else source_depth
    # Against the lip line's centre a dropping jaw lowers the centre more than the corners;
    # against the upper lip a closing mouth leaves both where they were: the smaller of the
    # two changes is what the corners themselves were pulled down (0.14-0.15 IOD for AU 15
    # at 5, at most 0.012 for a 27-degree jaw drop or a wide mouth closing).
    drop = float(np.min(_corner_drops_iod(target, depth)
                        - _corner_drops_iod(source, source_depth)))
    if drop <= _PRESS_FROM_IOD:
        return target
    amount = _PRESSED_SHARE * float(L.smoothstep(_PRESS_FROM_IOD, _PRESSED_AT_IOD, drop))
    pressed = np.array(target, dtype=np.float64, copy=True)
    inner, outer = pressed[_LOWER_INNER, :2], pressed[_LOWER_OUTER, :2]
    pressed[_LOWER_OUTER, :2] = outer + (amount * _PRESS_PROFILE)[:, None] * (inner - outer)
    return pressed


def _thickness(points: np.ndarray, inner: np.ndarray, outer: np.ndarray,
               down: np.ndarray) -> np.ndarray:
    return np.abs((points[outer, :2] - points[inner, :2]) @ down)


def meet_lips(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``target`` (478, 2 or 3) image points with crossed lips moved back to touch and
    squashed lips given back part of their ``source`` (478, 3) thickness, and the lower lip
    pressed where the corners are pulled down (:func:`press_lower_lip`); a copy when
    anything moves, ``target`` itself otherwise."""
    target = press_lower_lip(target, source)
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
