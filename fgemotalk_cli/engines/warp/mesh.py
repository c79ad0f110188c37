"""The warp mesh: the face mesh plus its openings and two rings of vertices around the head.

The MediaPipe triangulation (:func:`fgemotalk_cli.faces.mesh_model.mesh_triangles`) covers the skin.
We add triangles over the eye openings (with the visible iris points as vertices, so a lid
moving up stretches the white and the lid, not the iris) and the mouth opening, and two rings
around the face oval: the inner ring follows the head rigidly (plus part of the oval's own
motion, so a dropping chin pulls the neck along), the outer ring moves with the head alone.
With depth, both rings are turned in 3-D with the head (they sit behind the face oval, as ears,
hair and neck do), so a turned head's far side compresses and its near side widens instead of
shearing against a flat ring. Beyond the rings the head, body and background are layers
(:mod:`fgemotalk_cli.engines.warp.layers`). Per frame, :func:`target_vertices` places the rings
and undoes any fold a transferred expression left in the skin.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.silhouette import Silhouette, silhouette_of
from fgemotalk_cli.faces.mesh_model import mesh_triangles

_RING_SCALES = (1.3, 1.8)  # inner and outer ring, as multiples of the face oval
_RING_FOLLOW = (0.6, 0.12)  # share of the oval's non-rigid motion each ring follows
# How far behind the face oval each ring lies, in IODs: the sides and top of the head curve
# away from the camera, so under a turn the rings move less sideways than the oval.
_RING_DEPTH_IOD = (0.35, 0.8)
# Points that move with the head but with no AU: the inner eye corners, the nose bridge and
# the face outline at the ears (the forehead rises with AU1/2, outer eye corners with AU6, the
# lower nose with AU9). The head's rigid motion is fitted on these.
_RIGID_ANCHORS = (133, 362, 168, 6, 127, 356)
_UNFOLD_ITERATIONS = 12
# Contours that carry the expression itself: fold repair moves the skin around them instead.
_PROTECTED = (*L.UPPER_INNER_LIP, *L.LOWER_INNER_LIP, *L.UPPER_OUTER_LIP, *L.LOWER_OUTER_LIP,
              *L.RIGHT_UPPER_LID, *L.RIGHT_LOWER_LID, *L.LEFT_UPPER_LID, *L.LEFT_LOWER_LID,
              *L.RIGHT_EYE_CORNERS, *L.LEFT_EYE_CORNERS, *L.RIGHT_IRIS, *L.LEFT_IRIS)


@dataclass(frozen=True)
class WarpMesh:
    vertices: np.ndarray  # (478 + 2 * 36, 2) source positions: landmarks, inner, outer ring
    depths: np.ndarray  # (478,) the landmarks' source depth (MediaPipe z, pixels)
    ring_depths: np.ndarray  # (2 * 36,) the rings' source depth, pixels
    triangles: np.ndarray  # (T, 3) int32: openings, then the ring bands, then the face
    skin_start: int  # triangles[skin_start:] are skin (rings and face), which must not fold
    face_start: int  # triangles[face_start:] are the face mesh, drawn back to front
    source_areas: np.ndarray  # (T,) signed areas of the triangles in the source
    source_corners: np.ndarray  # (T, 3, 2) the triangles' corners in the source
    edges: np.ndarray  # (E, 2) int: every skin edge once in each direction
    degree: np.ndarray  # (V,) how many skin neighbours each vertex has (at least 1)
    protected: np.ndarray  # (V,) bool
    silhouette: Silhouette

    @functools.cached_property
    def source_heights(self) -> np.ndarray:
        """(T,) each source triangle's height across its longest edge (pixels): what the
        per-frame affines need of the source (``render._affines``), computed once."""
        return triangle_heights(self.source_corners)

    @functools.cached_property
    def source_centroids(self) -> np.ndarray:
        """(T, 2) each source triangle's centroid: where a degenerate target triangle maps."""
        return self.source_corners.mean(axis=1)


def build_warp_mesh(points: np.ndarray, visible_iris: tuple[list[int], ...]) -> WarpMesh:
    """The warp mesh of a source face from its (478, 3) landmarks; ``visible_iris`` holds
    the iris points each eye shows, right eye first (``AUGeometry.visible_iris``)."""
    xy = points[:, :2]
    oval = xy[list(L.FACE_OVAL)]
    centre = oval.mean(axis=0)
    rings = [centre + scale * (oval - centre) for scale in _RING_SCALES]
    vertices = np.concatenate([xy, *rings]).astype(np.float64)

    openings = np.concatenate([
        _eye_triangles(xy, L.RIGHT_EYE_CORNERS, L.RIGHT_UPPER_LID, L.RIGHT_LOWER_LID,
                       visible_iris[0]),
        _eye_triangles(xy, L.LEFT_EYE_CORNERS, L.LEFT_UPPER_LID, L.LEFT_LOWER_LID,
                       visible_iris[1]),
        _strip((L.UPPER_INNER_LIP[0], L.UPPER_INNER_LIP[-1]), L.UPPER_INNER_LIP[1:-1],
               L.LOWER_INNER_LIP[1:-1]),
    ])
    skin, band_count, edges, degree, protected = _skin_topology()
    triangles = np.concatenate([openings, skin]).astype(np.int32)
    corners = vertices[triangles]
    right, left = xy[list(L.RIGHT_EYE_CORNERS)].mean(0), xy[list(L.LEFT_EYE_CORNERS)].mean(0)
    iod_px = max(float(np.linalg.norm(right - left)), 1.0)
    oval_depth = np.asarray(points[list(L.FACE_OVAL), 2], np.float64)
    ring_depths = np.concatenate([oval_depth + depth * iod_px for depth in _RING_DEPTH_IOD])
    return WarpMesh(vertices, np.asarray(points[:, 2], np.float64), ring_depths, triangles,
                    len(openings), len(openings) + band_count,
                    signed_areas(corners), corners, edges, degree, protected,
                    silhouette_of(xy, iod_px, protected))


@functools.cache
def _skin_topology() -> tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]:
    """What the skin's connectivity gives, the same for every face (so built once, not per
    frame of an edited video): the skin triangles (the ring bands, then the face mesh), how
    many of them are bands, every skin edge once in each direction, each vertex's number of
    skin neighbours (at least 1) and which vertices fold repair protects. Read-only."""
    count = len(L.FACE_OVAL)
    inner = L.ALL_POINTS + np.arange(count)
    outer = inner + count
    oval_indices = np.array(L.FACE_OVAL)
    following = np.roll(np.arange(count), -1)
    bands = []
    for ring_a, ring_b in ((oval_indices, inner), (inner, outer)):
        bands.append(np.stack([ring_a, ring_a[following], ring_b[following]], 1))
        bands.append(np.stack([ring_a, ring_b[following], ring_b], 1))
    skin = np.concatenate([*bands, np.asarray(mesh_triangles())])
    edges = np.concatenate([skin[:, [0, 1]], skin[:, [1, 2]], skin[:, [2, 0]]])
    edges = np.unique(np.concatenate([edges, edges[:, ::-1]]), axis=0)  # shared edges once
    size = L.ALL_POINTS + 2 * count
    degree = np.maximum(np.bincount(edges[:, 0], minlength=size), 1).astype(np.float64)
    protected = np.zeros(size, bool)
    protected[list(_PROTECTED)] = True
    for array in (skin, edges, degree, protected):
        array.setflags(write=False)
    return skin, sum(len(band) for band in bands), edges, degree, protected


def _strip(corners: tuple[int, int], upper: tuple[int, ...], lower: tuple[int, ...],
           ) -> np.ndarray:
    """Triangles across an opening, pairing its upper and lower contour points in order."""
    up, low = (corners[0], *upper, corners[1]), (corners[0], *lower, corners[1])
    triangles = [(up[0], up[1], low[1])]
    for i in range(1, len(up) - 2):
        triangles += [(up[i], up[i + 1], low[i + 1]), (up[i], low[i + 1], low[i])]
    triangles.append((up[-2], up[-1], low[-2]))
    return np.array(triangles)


def _eye_triangles(xy: np.ndarray, corners: tuple[int, int], upper: tuple[int, ...],
                       lower: tuple[int, ...], iris: list[int]) -> np.ndarray:
    """An eye opening triangulated with its visible iris points as vertices, so that a lid
    moving up or down stretches the white and the lid, not the iris."""
    import cv2

    contour = [corners[0], *upper, corners[1], *reversed(lower)]
    polygon = xy[contour].astype(np.float32)
    area = abs(cv2.contourArea(polygon))
    inside = [i for i in iris
              if cv2.pointPolygonTest(polygon, (float(xy[i, 0]), float(xy[i, 1])), True) > 1]
    if area < 4.0 or not inside:
        return _strip(corners, upper, lower)
    indices = np.array(contour + inside)
    candidates = indices[_delaunay(xy[indices])]
    centroids = xy[candidates].mean(axis=1)
    keep = [cv2.pointPolygonTest(polygon, (float(x), float(y)), False) > 0 for x, y in centroids]
    kept = candidates[np.array(keep)]
    kept_area = np.abs(np.cross(xy[kept[:, 1]] - xy[kept[:, 0]],
                                xy[kept[:, 2]] - xy[kept[:, 0]])).sum() / 2
    if abs(kept_area - area) > 0.02 * area:  # a concave lid line: Delaunay missed an edge
        return _strip(corners, upper, lower)
    return kept


def _delaunay(points: np.ndarray) -> np.ndarray:
    """(K, 3) indices of the Delaunay triangles of a few 2-D points (OpenCV's Subdiv2D)."""
    import cv2

    # Subdiv2D starts from a triangle around its rectangle; the larger the rectangle, the
    # further away those helper vertices and the fewer hull triangles they steal.
    extent = float(np.ptp(points, axis=0).max()) + 1.0
    low = np.floor(points.min(axis=0)) - 500 * extent
    high = np.ceil(points.max(axis=0)) + 500 * extent
    subdivision = cv2.Subdiv2D((int(low[0]), int(low[1]), int(high[0] - low[0]),
                                int(high[1] - low[1])))
    subdivision.insert([(float(x), float(y)) for x, y in points])
    corners = np.asarray(subdivision.getTriangleList()).reshape(-1, 3, 2).astype(np.float64)
    # Subdiv2D hands back coordinates (float32), not indices: match them to the points.
    distance = np.linalg.norm(corners[:, :, None, :] - points[None, None, :, :], axis=3)
    nearest = distance.argmin(axis=2)
    exact = np.take_along_axis(distance, nearest[..., None], axis=2)[..., 0] < 1e-2
    return nearest[exact.all(axis=1)]


def target_vertices(mesh: WarpMesh, target_points: np.ndarray,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """All warp vertices in the target (the landmarks plus both rings, folds undone) and the
    order to draw the triangles in.

    With (478, 3) targets the face is drawn back to front by depth, so a turned head's near
    cheek covers its far side, and folds that the head turn alone explains (occlusion) are
    left to that ordering instead of being undone.
    """
    target = np.asarray(target_points, dtype=np.float64)
    return _vertices_and_order(mesh, target, *_rigid_head(mesh, target))


def warp_targets(mesh: WarpMesh, target_points: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`target_vertices` and :func:`head_motion` of one target, the head's rigid fit
    (an SVD) shared by both."""
    target = np.asarray(target_points, dtype=np.float64)
    turned, rings = _rigid_head(mesh, target)
    vertices, order = _vertices_and_order(mesh, target, turned, rings)
    return vertices, order, _ring_affine(mesh, rings)


def _vertices_and_order(mesh: WarpMesh, target: np.ndarray, turned: np.ndarray,
                        rings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = target[:, :2]
    oval = list(L.FACE_OVAL)
    count = len(oval)
    inner_rigid, outer_rigid = rings[:count], rings[count:]
    # The oval's motion beyond the head's rigid motion (expression: a dropping jaw).
    residual = flat[oval] - turned[oval, :2]
    # Skin folded behind the face outline follows the outline through a head turn.
    fold = mesh.silhouette.correction(turned[:, :2])
    flat = flat + fold
    turned = turned.copy()
    turned[:, :2] += fold
    inner = inner_rigid + _RING_FOLLOW[0] * residual
    outer = outer_rigid + _RING_FOLLOW[1] * residual
    vertices = np.concatenate([flat, inner, outer])
    order = np.arange(len(mesh.triangles))
    hidden = np.zeros(len(mesh.triangles) - mesh.skin_start, bool)
    if target.shape[1] >= 3:
        predicted = np.concatenate([turned[:, :2], inner, outer])
        skin = mesh.triangles[mesh.skin_start:]
        source_areas = mesh.source_areas[mesh.skin_start:]
        hidden = signed_areas(predicted[skin]) * np.sign(source_areas) <= 0.2 * np.abs(
            source_areas)
        face = mesh.triangles[mesh.face_start:]
        depth = target[face, 2].mean(axis=1)
        order[mesh.face_start:] = mesh.face_start + np.argsort(-depth, kind="stable")
    return unfold(mesh, vertices, hidden), order


def _rigid_head(mesh: WarpMesh, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The source landmarks and both rings moved by the head's rigid motion alone, fitted on
    the rigid anchors: in 3-D (turned, with the rings behind the face) when ``target`` has
    depth, else as a 2-D similarity. Returns (478, 2 or 3) landmarks and (72, 2) rings."""
    source = mesh.vertices[: L.ALL_POINTS]
    anchors = list(_RIGID_ANCHORS)
    if target.shape[1] >= 3:
        source_3d = np.concatenate([source, mesh.depths[:, None]], axis=1)
        rings_3d = np.concatenate([mesh.vertices[L.ALL_POINTS:], mesh.ring_depths[:, None]], 1)
        moved = _rigid_3d(source_3d[anchors], target[anchors, :3],
                          np.concatenate([source_3d, rings_3d]))
        return moved[: L.ALL_POINTS], moved[L.ALL_POINTS:, :2]
    scale, rotation, shift = _similarity(source[anchors], target[anchors, :2])
    return (scale * source @ rotation.T + shift,
            scale * mesh.vertices[L.ALL_POINTS:] @ rotation.T + shift)


def head_motion(mesh: WarpMesh, target_points: np.ndarray) -> np.ndarray:
    """(2, 3) affine of the head's rigid motion (source to target pixels), as its outer ring
    shows it: hair and the head's outline move with it, a turn included (an affine holds the
    turn's foreshortening, which a similarity cannot)."""
    _, rings = _rigid_head(mesh, np.asarray(target_points, dtype=np.float64))
    return _ring_affine(mesh, rings)


def _ring_affine(mesh: WarpMesh, rings: np.ndarray) -> np.ndarray:
    """(2, 3) least-squares affine taking the source's outer ring onto ``rings``' outer half."""
    outer = slice(len(L.FACE_OVAL), None)
    source_rings = mesh.vertices[L.ALL_POINTS:]
    design = np.concatenate([source_rings[outer], np.ones((len(rings[outer]), 1))], axis=1)
    solution, *_ = np.linalg.lstsq(design, rings[outer], rcond=None)
    return solution.T


def _rigid_3d(a: np.ndarray, b: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``points`` moved by the least-squares similarity taking ``a`` onto ``b`` in 3-D."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    u, s, vt = np.linalg.svd((b - mean_b).T @ (a - mean_a))
    sign = np.ones(3)
    sign[2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float((s * sign).sum() / max(((a - mean_a) ** 2).sum(), 1e-9))
    return scale * (points - mean_a) @ rotation.T + mean_b


def unfold(mesh: WarpMesh, vertices: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Relax the motion of vertices of flipped skin triangles towards their neighbours' until
    nothing is flipped (or a few rounds pass without fewer flips). An expression carried from
    another face can push a lip contour past the skin next to it; drawn, that fold would paste
    lip texture on the chin. Unprotected vertices (skin) give way first, so the lips keep their
    shape. ``hidden`` marks skin triangles that face away after the head turn: not folds."""
    skin = mesh.triangles[mesh.skin_start:]
    source_areas = mesh.source_areas[mesh.skin_start:]
    winding = np.where(np.abs(source_areas) > 1e-6, np.sign(source_areas), 0.0)
    first, second, third = skin[:, 0], skin[:, 1], skin[:, 2]
    source, neighbour = mesh.edges[:, 0], mesh.edges[:, 1]
    out = vertices
    fewest, stalled = len(skin) + 1, 0
    for _ in range(_UNFOLD_ITERATIONS):
        x, y = out[:, 0], out[:, 1]
        doubled = ((x[second] - x[first]) * (y[third] - y[first])
                   - (y[second] - y[first]) * (x[third] - x[first]))
        flipped = (doubled * winding <= 0.0) & (winding != 0.0) & ~hidden
        count = int(np.count_nonzero(flipped))
        # A fold the smoothing cannot undo (a silhouette turning past itself) stays as it is
        # after two rounds without progress; more rounds would only blur the skin around it.
        stalled = stalled + 1 if count >= fewest else 0
        fewest = min(fewest, count)
        if count == 0 or stalled >= 2:
            break
        involved = np.zeros(len(out), bool)
        involved[skin[flipped].ravel()] = True
        movable = involved & ~mesh.protected
        if not movable.any():
            movable = involved
        motion = out - mesh.vertices
        for axis in range(2):
            total = np.bincount(source, motion[neighbour, axis], minlength=len(motion))
            motion[movable, axis] = total[movable] / mesh.degree[movable]
        out = mesh.vertices + motion
    return out


def triangle_heights(corners: np.ndarray) -> np.ndarray:
    """(T,) heights of (T, 3, 2) triangles across their longest edges (0 for a point)."""
    longest = np.sqrt(((corners - np.roll(corners, -1, axis=1)) ** 2).sum(axis=2)).max(axis=1)
    return 2.0 * np.abs(signed_areas(corners)) / np.maximum(longest, 1e-9)


def signed_areas(corners: np.ndarray) -> np.ndarray:
    """Signed areas of (T, 3, 2) triangles: the sign gives the winding."""
    e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    return 0.5 * (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])


def _similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares scale, rotation and shift taking points ``a`` onto ``b`` (Umeyama)."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    da, db = a - mean_a, b - mean_b
    u, s, vt = np.linalg.svd(db.T @ da)
    d = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, d]) @ vt
    scale = float((s * [1.0, d]).sum() / max((da * da).sum(), 1e-9))
    return scale, rotation, mean_b - scale * mean_a @ rotation.T


