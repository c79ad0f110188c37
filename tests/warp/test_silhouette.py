"""A head turn at the face outline: the skin folded behind it stays behind it (no seam)."""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.engine import target_from_controls
from fgemotalk_cli.engines.warp.lips import meet_lips
from fgemotalk_cli.engines.warp.mesh import _rigid_head, signed_areas, target_vertices
from fgemotalk_cli.engines.warp.render import backward_map

# Both sides: each test portrait's oval has skin folded behind it on one side (MediaPipe's
# cheek points just beyond the oval), which one of these turns brings towards the camera.
_YAWS = (-20.0, 20.0)


def _folded_at_the_outline(mesh) -> tuple[np.ndarray, float]:
    """The face triangles touching the oval that face away from the camera in the source,
    and the face's own winding (the sign most triangles' areas have)."""
    face_areas = mesh.source_areas[mesh.face_start:]
    winding = float(np.sign(np.median(face_areas)))
    touches = np.isin(mesh.triangles[mesh.face_start:], list(L.FACE_OVAL)).any(axis=1)
    return np.flatnonzero((face_areas * winding < 0) & touches) + mesh.face_start, winding


def test_a_turn_keeps_the_skin_behind_the_outline_facing_away(warp_cases) -> None:
    """Turned towards the camera, those slivers used to face it and show their source skin
    mirrored (a dark line down the cheek); they must stay folded behind the outline."""
    for case in warp_cases:
        mesh = case.source.mesh
        folded, winding = _folded_at_the_outline(mesh)
        assert len(folded) >= 3, case.name  # the portraits do have such a fold
        iod = case.source.geometry.frame.iod_px
        for yaw in _YAWS:
            target = target_from_controls(case.source, {}, None, (yaw, 0.0, 0.0))
            vertices, _ = target_vertices(mesh, target)
            areas = signed_areas(vertices[mesh.triangles[folded]]) * winding
            facing = float(areas[areas > 0].sum()) / iod ** 2
            assert facing < 0.005, (case.name, yaw, facing)


def test_the_map_does_not_fold_along_a_turned_outline(warp_cases) -> None:
    """Where the backward map runs backwards (its Jacobian's determinant < 0), the output
    shows source skin mirrored. Along the outline of a turned face (within 0.15 IOD of the
    target oval) that must stay a few output pixels per thousand of the face, not a seam."""
    import cv2

    for case in warp_cases:
        source = case.source
        iod = source.geometry.frame.iod_px
        for yaw in _YAWS:
            target = meet_lips(target_from_controls(source, {}, None, (yaw, 0.0, 0.0)),
                               source.points)
            vertices, order = target_vertices(source.mesh, target)
            warp_map = backward_map(source, vertices, order)
            x, y = warp_map.coordinates[..., 0], warp_map.coordinates[..., 1]
            determinant = (np.gradient(x, axis=1) * np.gradient(y, axis=0)
                           - np.gradient(x, axis=0) * np.gradient(y, axis=1))
            oval = np.round(vertices[list(L.FACE_OVAL)] - warp_map.box[:2]).astype(np.int32)
            band = np.zeros(determinant.shape, np.uint8)
            cv2.polylines(band, [oval], True, (1,), max(1, round(0.3 * iod)))
            face = np.zeros(determinant.shape, np.uint8)
            cv2.fillPoly(face, [oval], (1,))
            share = 1000.0 * np.count_nonzero((determinant < 0) & (band > 0)) / face.sum()
            assert share < 3.0, (case.name, yaw, share)


def test_the_outline_correction_leaves_still_shifted_zoomed_and_rolled_heads_alone(
        warp_cases) -> None:
    """Only a turn uncovers skin behind the outline: for the source itself and any 2-D
    similarity of it (a shift, a zoom, a roll) the correction is zero."""
    for case in warp_cases:
        silhouette = case.source.mesh.silhouette
        source = case.source.mesh.vertices[: L.ALL_POINTS]
        assert np.array_equal(silhouette.correction(source), np.zeros_like(source))
        angle = np.deg2rad(12.0)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        for scale, turn, shift in ((1.0, np.eye(2), (7.0, -3.0)), (1.2, np.eye(2), (0.0, 0.0)),
                                   (0.9, rotation, (-20.0, 5.0))):
            moved = scale * source @ turn.T + shift
            assert np.abs(silhouette.correction(moved)).max() < 1e-6, (case.name, scale)


def test_the_correction_only_moves_points_out_towards_the_outline(warp_cases) -> None:
    """It closes a gap the turn opened behind the outline: it moves points outwards (away
    from the face's centre), never inwards."""
    for case in warp_cases:
        mesh = case.source.mesh
        centre = mesh.vertices[list(L.FACE_OVAL)].mean(axis=0)
        moved_at_all = 0
        for yaw in _YAWS:
            target = target_from_controls(case.source, {}, None, (yaw, 0.0, 0.0))
            shift = mesh.silhouette.correction(target[:, :2])
            moved = np.flatnonzero(np.abs(shift).max(axis=1) > 0)
            moved_at_all += len(moved)
            outward = (shift[moved] * (target[moved, :2] - centre)).sum(axis=1)
            assert (outward > 0).all(), (case.name, yaw)
        assert moved_at_all, case.name  # the turn towards its fold moves points


def test_an_au_edit_without_a_turn_gets_no_outline_correction(warp_cases) -> None:
    """An AU edit moves the ear points a hair with the brows, so the head's rigid fit turns a
    little: that opens no gap worth closing, and the edit renders as without the silhouette."""
    for case in warp_cases:
        mesh = case.source.mesh
        for aus in ({1: 5.0, 2: 5.0, 5: 5.0}, {26: 5.0, 25: 4.0}, {6: 5.0, 12: 5.0}):
            turned, _ = _rigid_head(mesh, target_from_controls(case.source, aus))
            assert not mesh.silhouette.correction(turned[:, :2]).any(), (case.name, aus)


def test_the_inside_test_agrees_with_opencv_on_a_concave_outline() -> None:
    """The silhouette's vectorised inside test (a ray's crossings) against OpenCV's
    point-by-point one, on a star-shaped outline and points all round and on it."""
    import cv2

    from fgemotalk_cli.engines.warp.silhouette import _inside_polygon

    angles = np.linspace(0.0, 2 * np.pi, 36, endpoint=False)
    radii = np.where(np.arange(36) % 2 == 0, 100.0, 55.0)
    polygon = np.stack([200 + radii * np.cos(angles), 200 + radii * np.sin(angles)], axis=1)
    points = np.random.default_rng(3).uniform(80.0, 320.0, (2000, 2))
    inside = _inside_polygon(points[:, :1], points[:, 1:], polygon)
    outline = polygon.astype(np.float32)
    expected = np.array([cv2.pointPolygonTest(outline, (float(x), float(y)), False) > 0
                         for x, y in points])
    assert 300 < expected.sum() < 1700  # both kinds are there
    assert np.array_equal(inside, expected)
