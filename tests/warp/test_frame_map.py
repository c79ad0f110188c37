"""The frame's backward map of a moving head: where it may sample beyond the photo's edge."""

from __future__ import annotations

import numpy as np
import pytest

from fgemotalk_cli.engines.warp.frame_map import layered_map

pytestmark = pytest.mark.media


def _beyond_and_named(frame, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Which pixels of the frame map sample beyond the photo, and which the map names."""
    x, y = frame.coordinates[..., 0], frame.coordinates[..., 1]
    beyond = (x < 0) | (x > width - 1) | (y < 0) | (y > height - 1)
    named = np.zeros(beyond.shape, bool)
    for bx0, by0, bx1, by1 in frame.beyond_edge:
        named[by0:by1, bx0:bx1] = True
    return beyond, named


@pytest.mark.parametrize("shift", [(0.0, 0.25), (-0.3, -0.2), (0.0, 0.0)])
def test_the_part_sampling_beyond_the_edge_holds_every_such_pixel(warp_cases, shift) -> None:
    """:func:`composite` limits the person's alpha to the edge's own only over the part of
    the box the frame map names; every pixel whose map lies beyond the photo must be in it,
    and a head that stays put names none."""
    for case in warp_cases:
        source = case.source
        width, height = source.full_size
        iod = source.geometry.frame.iod_px
        forward = np.array([[1.0, 0.0, shift[0] * iod], [0.0, 1.0, shift[1] * iod]])
        frame = layered_map(source.layers, forward, source.size, (width, height))
        beyond, named = _beyond_and_named(frame, width, height)
        assert not (beyond & ~named).any(), case.name
        if shift == (0.0, 0.0):
            assert frame.beyond_edge == ()
        elif shift[1] < 0:  # the body follows the head up: the bottom rows sample beyond
            assert beyond[-1].all(), case.name


def test_a_rolled_head_names_only_the_frame_sides_beyond_the_edge(warp_cases) -> None:
    """A roll sends the frame's corners beyond two or more edges of the photo: the parts
    named are bands beside those sides (one box round them all was the whole frame, whose
    edge alpha then cost a remap of every pixel), and every pixel beyond is still in one."""
    for case in warp_cases:
        source = case.source
        width, height = source.full_size
        iod = source.geometry.frame.iod_px
        angle = np.radians(8.0)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        centre = np.array(source.size, float) / 2
        forward = np.concatenate([rotation, (centre - rotation @ centre + (0.0, -0.2 * iod))
                                  [:, None]], axis=1)
        frame = layered_map(source.layers, forward, source.size, (width, height))
        beyond, named = _beyond_and_named(frame, width, height)
        assert beyond.any() and not (beyond & ~named).any(), case.name
        assert named.mean() < 0.6, (case.name, named.mean())
