"""The warp mesh's per-source constants: what each frame's affines reuse instead of redoing."""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp.engine import target_from_controls
from fgemotalk_cli.engines.warp.mesh import (
    head_motion,
    target_vertices,
    triangle_heights,
    warp_targets,
)
from fgemotalk_cli.engines.warp.render import _affines


def test_triangle_heights_are_the_apex_distance_from_the_longest_edge() -> None:
    corners = np.array([
        [[0.0, 0.0], [10.0, 0.0], [3.0, 4.0]],  # longest edge along x: height 4
        [[0.0, 0.0], [0.0, 6.0], [-2.0, 1.0]],  # longest edge along y: height 2
        [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]],  # a point: height 0, not a division by zero
    ])
    np.testing.assert_allclose(triangle_heights(corners), [4.0, 2.0, 0.0], atol=1e-12)


def test_cached_source_heights_give_the_same_affines(warp_cases) -> None:
    """Each frame's affines take the source heights from the mesh (computed once): the
    result must be exactly what computing them per frame gives, slivers included (a closed
    eye and a dropped jaw collapse and widen triangles)."""
    for case in warp_cases:
        mesh = case.source.mesh
        for aus in ({}, {43: 5.0, 26: 5.0}, {12: 4.0, 4: 3.0}):
            vertices, _ = target_vertices(mesh, target_from_controls(case.source, aus))
            target = vertices[mesh.triangles]
            fresh = _affines(target, mesh.source_corners, case.source.map_step)
            cached = _affines(target, mesh.source_corners, case.source.map_step,
                              mesh.source_heights, mesh.source_centroids)
            assert np.array_equal(fresh[0], cached[0]), (case.name, aus)
            assert np.array_equal(fresh[1], cached[1]), (case.name, aus)


def test_warp_targets_are_the_vertices_order_and_head_motion_of_one_fit(warp_cases) -> None:
    """The render takes the vertices, drawing order and head affine from one rigid fit: the
    same as asking for each on its own, with and without depth and a head turn."""
    for case in warp_cases:
        mesh = case.source.mesh
        for degrees in ((0.0, 0.0, 0.0), (20.0, -8.0, 5.0)):
            target = target_from_controls(case.source, {12: 3.0, 26: 2.0}, head_degrees=degrees)
            for points in (target, target[:, :2]):
                vertices, order, affine = warp_targets(mesh, points)
                expected_vertices, expected_order = target_vertices(mesh, points)
                assert np.array_equal(vertices, expected_vertices)
                assert np.array_equal(order, expected_order)
                assert np.array_equal(affine, head_motion(mesh, points))
