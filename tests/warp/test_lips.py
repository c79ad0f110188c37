"""Lips that meet: crossed lips moved back to touch, squashed lips given thickness back."""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.lips import _LOWER, _UPPER, _mouth_axes, meet_lips


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
