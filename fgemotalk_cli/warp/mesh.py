"""The warp mesh: the face mesh plus its openings and two rings of vertices around the head.

The MediaPipe triangulation (:func:`fgemotalk_cli.faces.mesh_triangles`) covers the skin.
We add triangles over the eye openings (with the visible iris points as vertices, so a lid
moving up stretches the white and the lid, not the iris) and the mouth opening, and two rings
around the face oval: the inner ring follows the head rigidly (plus part of the oval's own
motion, so a dropping chin pulls the neck along), the outer ring barely moves, so the warp
fades into a still background. Per frame, :func:`target_vertices` places the rings and
undoes any fold a transferred expression left in the skin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.warp import layout as L

_RING_SCALES = (1.3, 1.8)  # inner and outer ring, as multiples of the face oval
_RING_FOLLOW = (0.6, 0.12)  # share of the oval's non-rigid motion each ring follows
_OUTER_RING_RIGID = 0.3  # share of the head's rigid motion the outer ring follows
_RIGID_ANCHORS = (33, 133, 362, 263, 168, 6, 10, 109, 338, 67, 297, 127, 356)
_UNFOLD_ITERATIONS = 12
# Contours that carry the expression itself: fold repair moves the skin around them instead.
_PROTECTED = (*L.UPPER_INNER_LIP, *L.LOWER_INNER_LIP, *L.UPPER_OUTER_LIP, *L.LOWER_OUTER_LIP,
              *L.RIGHT_UPPER_LID, *L.RIGHT_LOWER_LID, *L.LEFT_UPPER_LID, *L.LEFT_LOWER_LID,
              *L.RIGHT_EYE_CORNERS, *L.LEFT_EYE_CORNERS, *L.RIGHT_IRIS, *L.LEFT_IRIS)


@dataclass(frozen=True)
class WarpMesh:
    vertices: np.ndarray  # (478 + 2 * 36, 2) source positions: landmarks, inner, outer ring
    triangles: np.ndarray  # (T, 3) int32 in drawing order: openings first
    skin_start: int  # triangles[skin_start:] are skin (rings and face), which must not fold
    neighbours: object  # scipy.sparse (V, V) row-normalised adjacency of the skin triangles
    protected: np.ndarray  # (V,) bool


def build_warp_mesh(xy: np.ndarray, visible_iris: tuple[list[int], list[int]]) -> WarpMesh:
    from scipy.sparse import coo_matrix

    from fgemotalk_cli.faces import mesh_triangles

    oval = xy[list(L.FACE_OVAL)]
    centre = oval.mean(axis=0)
    rings = [centre + scale * (oval - centre) for scale in _RING_SCALES]
    vertices = np.concatenate([xy, *rings]).astype(np.float64)

    count = len(L.FACE_OVAL)
    inner = L.ALL_POINTS + np.arange(count)
    outer = inner + count
    oval_indices = np.array(L.FACE_OVAL)
    following = np.roll(np.arange(count), -1)
    bands = []
    for ring_a, ring_b in ((oval_indices, inner), (inner, outer)):
        bands.append(np.stack([ring_a, ring_a[following], ring_b[following]], 1))
        bands.append(np.stack([ring_a, ring_b[following], ring_b], 1))
    openings = np.concatenate([
        _eye_triangles(xy, L.RIGHT_EYE_CORNERS, L.RIGHT_UPPER_LID, L.RIGHT_LOWER_LID,
                       visible_iris[0]),
        _eye_triangles(xy, L.LEFT_EYE_CORNERS, L.LEFT_UPPER_LID, L.LEFT_LOWER_LID,
                       visible_iris[1]),
        _strip((L.UPPER_INNER_LIP[0], L.UPPER_INNER_LIP[-1]), L.UPPER_INNER_LIP[1:-1],
               L.LOWER_INNER_LIP[1:-1]),
    ])
    skin = np.concatenate([*bands, np.asarray(mesh_triangles())])
    edges = np.concatenate([skin[:, [0, 1]], skin[:, [1, 2]], skin[:, [2, 0]]])
    edges = np.concatenate([edges, edges[:, ::-1]])
    size = len(vertices)
    adjacency = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])),
                           shape=(size, size)).tocsr()
    adjacency.data[:] = 1.0  # duplicate edges counted once
    degree = np.maximum(np.asarray(adjacency.sum(axis=1)).ravel(), 1.0)
    neighbours = adjacency.multiply(1.0 / degree[:, None]).tocsr()
    protected = np.zeros(size, bool)
    protected[list(_PROTECTED)] = True
    triangles = np.concatenate([openings, skin]).astype(np.int32)
    return WarpMesh(vertices, triangles, len(openings), neighbours, protected)


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
    from scipy.spatial import Delaunay

    contour = [corners[0], *upper, corners[1], *reversed(lower)]
    polygon = xy[contour].astype(np.float32)
    area = abs(cv2.contourArea(polygon))
    inside = [i for i in iris
              if cv2.pointPolygonTest(polygon, (float(xy[i, 0]), float(xy[i, 1])), True) > 1]
    if area < 4.0 or not inside:
        return _strip(corners, upper, lower)
    indices = np.array(contour + inside)
    candidates = indices[Delaunay(xy[indices]).simplices]
    centroids = xy[candidates].mean(axis=1)
    keep = [cv2.pointPolygonTest(polygon, (float(x), float(y)), False) > 0 for x, y in centroids]
    kept = candidates[np.array(keep)]
    kept_area = np.abs(np.cross(xy[kept[:, 1]] - xy[kept[:, 0]],
                                xy[kept[:, 2]] - xy[kept[:, 0]])).sum() / 2
    if abs(kept_area - area) > 0.02 * area:  # a concave lid line: Delaunay missed an edge
        return _strip(corners, upper, lower)
    return kept


def target_vertices(mesh: WarpMesh, target_points: np.ndarray) -> np.ndarray:
    """All warp vertices in the target: the 478 landmarks plus both rings, without folds."""
    target = np.asarray(target_points, dtype=np.float64)[:, :2]
    source = mesh.vertices[: L.ALL_POINTS]
    anchors = list(_RIGID_ANCHORS)
    scale, rotation, shift = _similarity(source[anchors], target[anchors])

    def rigid(p: np.ndarray) -> np.ndarray:
        return scale * p @ rotation.T + shift

    oval = list(L.FACE_OVAL)
    residual = target[oval] - rigid(source[oval])
    count = len(oval)
    inner_source = mesh.vertices[L.ALL_POINTS: L.ALL_POINTS + count]
    outer_source = mesh.vertices[L.ALL_POINTS + count:]
    inner = rigid(inner_source) + _RING_FOLLOW[0] * residual
    outer = (outer_source + _OUTER_RING_RIGID * (rigid(outer_source) - outer_source)
             + _RING_FOLLOW[1] * residual)
    return unfold(mesh, np.concatenate([target, inner, outer]))


def unfold(mesh: WarpMesh, vertices: np.ndarray) -> np.ndarray:
    """Relax the motion of vertices of flipped skin triangles towards their neighbours' until
    nothing is flipped (or a few rounds pass). An expression carried from another face can
    push a lip contour past the skin next to it; drawn, that fold would paste lip texture on
    the chin. Unprotected vertices (skin) give way first, so the lips keep their shape."""
    skin = mesh.triangles[mesh.skin_start:]
    source_areas = signed_areas(mesh.vertices[skin])
    out = vertices
    for _ in range(_UNFOLD_ITERATIONS):
        flipped = signed_areas(out[skin]) * np.sign(source_areas) <= 0.0
        flipped &= np.abs(source_areas) > 1e-6
        if not flipped.any():
            break
        involved = np.zeros(len(out), bool)
        involved[skin[flipped].ravel()] = True
        movable = involved & ~mesh.protected
        if not movable.any():
            movable = involved
        motion = out - mesh.vertices
        smoothed = mesh.neighbours @ motion
        motion[movable] = smoothed[movable]
        out = mesh.vertices + motion
    return out


def signed_areas(corners: np.ndarray) -> np.ndarray:
    """Signed areas of (T, 3, 2) triangles (positive: counter-clockwise in x-right, y-up)."""
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


