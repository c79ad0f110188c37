"""Lips that meet: crossed lips moved back to touch, squashed lips given thickness back."""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.lips import (
    _LOWER,
    _UPPER,
    _mouth_axes,
    meet_lips,
    press_lower_lip,
)


def _lower_lip_pushed_up(source: np.ndarray, share: float) -> np.ndarray:
    """The source with its lower lip (inner and outer contour) raised by ``share`` of the
    mouth's width: past the upper lip for a large share."""
    target = source.copy()
    _, _, down, width = _mouth_axes(source)
    lower = [index for pair in _LOWER for index in pair]
    target[lower, :2] -= share * width * down
    return target


def test_crossed_lips_meet_half_way_and_keep_their_order(warp_cases) -> None:
    for case in warp_cases:
        source = case.source.points
        target = _lower_lip_pushed_up(source, 0.4)
        met = meet_lips(target, source)
        _, _, down, _ = _mouth_axes(met)
        upper = np.array([pair[0] for pair in _UPPER])
        lower = np.array([pair[0] for pair in _LOWER])
        # Every lower inner point lies on or below the upper lip at its place.
        left = met[L.MOUTH_CORNERS[0], :2]
        along = (met[L.MOUTH_CORNERS[1], :2] - left) / np.linalg.norm(
            met[L.MOUTH_CORNERS[1], :2] - left)
        upper_a, upper_b = (met[upper, :2] - left) @ along, (met[upper, :2] - left) @ down
        lower_a, lower_b = (met[lower, :2] - left) @ along, (met[lower, :2] - left) @ down
        order = np.argsort(upper_a)
        assert (lower_b >= np.interp(lower_a, upper_a[order], upper_b[order]) - 0.5).all()
        # Crossed, the upper lip lay below the lower one: it moved back up, the lower down.
        assert ((met[upper, :2] - target[upper, :2]) @ down < 0).any(), case.name
        assert ((met[lower, :2] - target[lower, :2]) @ down > 0).any(), case.name
        # Nothing but the lips moved.
        moved = np.flatnonzero(np.abs(met - target).max(axis=1) > 0)
        assert set(moved.tolist()) <= {index for pair in (*_UPPER, *_LOWER) for index in pair}


def test_lips_already_apart_are_left_as_they_are(warp_cases) -> None:
    for case in warp_cases:
        source = case.source.points
        target = _lower_lip_pushed_up(source, -0.05)  # opened a little
        assert meet_lips(target, source) is target


def _iod(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[263, :2] - points[33, :2]))


def _corners_pulled_down(source: np.ndarray, iod_share: float) -> np.ndarray:
    """The source with its lip corners (outer and inner) lowered by ``iod_share`` IOD."""
    target = np.array(source, dtype=np.float64, copy=True)
    target[list(L.MOUTH_CORNERS), 1] += iod_share * _iod(source)
    return target


def _lower_lip_height(points: np.ndarray) -> np.ndarray:
    _, _, down, _ = _mouth_axes(points)
    inner = np.array([pair[0] for pair in _LOWER])
    outer = np.array([pair[1] for pair in _LOWER])
    return (points[outer, :2] - points[inner, :2]) @ down


def test_corners_pulled_down_press_the_lower_lip_thinner(warp_cases) -> None:
    for case in warp_cases:
        source = case.source.points.astype(np.float64)
        slight = press_lower_lip(_corners_pulled_down(source, 0.04), source)
        strong = press_lower_lip(_corners_pulled_down(source, 0.14), source)
        rest = _lower_lip_height(source)
        # Thinner the further the corners drop, most in the middle, at most by a third.
        thinning = 1 - _lower_lip_height(strong) / rest
        assert 0.25 < thinning.max() <= 0.31, case.name
        assert np.argmax(thinning) in (3, 4, 5), case.name
        assert (1 - _lower_lip_height(slight) / rest).max() < 0.5 * thinning.max(), case.name
        # Only the lower lip's outer contour moved; the upper lip and the corners stay.
        moved = np.flatnonzero(np.abs(strong - _corners_pulled_down(source, 0.14)).max(1) > 0)
        assert set(moved.tolist()) <= {pair[1] for pair in _LOWER}, case.name


def test_a_dropping_jaw_or_a_nodding_head_presses_nothing(warp_cases) -> None:
    for case in warp_cases:
        source = case.source.points.astype(np.float64)
        # The jaw drops: the lower lip goes down with the chin, the corners less.
        opened = _lower_lip_pushed_up(source, -0.3)
        assert press_lower_lip(opened, source) is opened, case.name
        # The whole head nods 20 degrees either way: the corners, which lie behind the lip
        # line's centre, drop or rise in the picture (0.045 IOD), not in the face.
        centre = source.mean(axis=0)
        for degrees in (-20.0, 20.0):
            angle = np.radians(degrees)
            nod = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)],
                            [0, np.sin(angle), np.cos(angle)]])
            nodded = (source - centre) @ nod.T + centre
            assert press_lower_lip(nodded, source) is nodded, (case.name, degrees)


def test_a_wide_open_mouth_closing_presses_nothing(warp_cases) -> None:
    """Closing the mouth raises the lip line's centre above the corners, as a frown lowers
    the corners below it; only the frown lowers them below the upper lip as well."""
    for case in warp_cases:
        source = case.source.points.astype(np.float64)
        opened = _lower_lip_pushed_up(source, -0.4)  # the source photo, mouth wide open
        closing = _lower_lip_pushed_up(opened, 0.3)
        assert press_lower_lip(closing, opened) is closing, case.name
