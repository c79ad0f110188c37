"""Dense image warp from source landmarks to target landmarks.

The face mesh triangulation is extended by triangles over the eye and mouth openings and by
two rings of vertices around the face oval (the inner ring follows the head rigidly, the outer
ring barely moves), so the warp covers the head and fades into a still background. Per frame,
each target triangle gets the affine map back to its source triangle; the triangles are
rasterised (openings first, so skin drawn later covers a closed eye or mouth) on a coarse grid
over the head only, the backward map is upsampled and ``cv2.remap`` samples the source. A
feathered head mask holds everything beyond the head still, and the mouth interior is filled
where the lips part further than in the source (:mod:`fgemotalk_cli.warp.mouth`).

Everything that depends only on the source is computed once in :func:`prepare_source`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.warp import layout as L
from fgemotalk_cli.warp.au_geometry import AUGeometry
from fgemotalk_cli.warp.mouth import MouthPatch, MouthStyle, fill_mouth

_RING_SCALES = (1.3, 1.8)  # inner and outer ring, as multiples of the face oval
_RING_FOLLOW = (0.6, 0.12)  # share of the oval's non-rigid motion each ring follows
_OUTER_RING_RIGID = 0.3  # share of the head's rigid motion the outer ring follows
_RIGID_ANCHORS = (33, 133, 362, 263, 168, 6, 10, 109, 338, 67, 297, 127, 356)
_FIXED_POINT_BITS = 4


@dataclass(frozen=True)
class WarpSource:
    """A source portrait with everything the per-frame warp needs precomputed."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    points: np.ndarray  # (478, 3) source landmarks, pixels
    geometry: AUGeometry
    vertices: np.ndarray  # (478 + 2 * 36, 2) warp vertices in the source
    triangles: np.ndarray  # (T, 3) int32, in drawing order
    oval_centre: np.ndarray  # (2,)
    map_step: int  # the backward map is computed every map_step pixels, then upsampled
    mouth_style: MouthStyle

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]


def prepare_source(image: np.ndarray, landmarks: object) -> WarpSource:
    """Precompute the triangulation, rings, map resolution and mouth colours of a source."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"the warp engine needs an RGB uint8 image, got {image.shape} "
                         f"{image.dtype}")
    points = L.as_points(landmarks)
    geometry = AUGeometry.from_landmarks(points)
    xy = points[:, :2]
    oval = xy[list(L.FACE_OVAL)]
    centre = oval.mean(axis=0)
    rings = [centre + scale * (oval - centre) for scale in _RING_SCALES]
    vertices = np.concatenate([xy, *rings]).astype(np.float64)
    # Work on a grid about one fiftieth of the eye distance: fine enough for lids and lips.
    map_step = int(np.clip(round(geometry.frame.iod_px / 50.0), 1, 4))
    return WarpSource(
        image=np.ascontiguousarray(image), points=points, geometry=geometry, vertices=vertices,
        triangles=_triangulation(xy, geometry.visible_iris), oval_centre=centre, map_step=map_step,
        mouth_style=MouthStyle.from_source(image, xy),
    )


def _triangulation(xy: np.ndarray, visible_iris: tuple[list[int], list[int]]) -> np.ndarray:
    from fgemotalk_cli.faces import mesh_triangles

    count = len(L.FACE_OVAL)
    inner = L.ALL_POINTS + np.arange(count)
    outer = inner + count
    oval = np.array(L.FACE_OVAL)
    bands = []
    for ring_a, ring_b in ((oval, inner), (inner, outer)):
        nxt = np.roll(np.arange(count), -1)
        bands.append(np.stack([ring_a, ring_a[nxt], ring_b[nxt]], 1))
        bands.append(np.stack([ring_a, ring_b[nxt], ring_b], 1))
    openings = [
        _opening_triangles(xy, L.RIGHT_EYE_CORNERS, L.RIGHT_UPPER_LID, L.RIGHT_LOWER_LID,
                           visible_iris[0]),
        _opening_triangles(xy, L.LEFT_EYE_CORNERS, L.LEFT_UPPER_LID, L.LEFT_LOWER_LID,
                           visible_iris[1]),
        _strip((L.UPPER_INNER_LIP[0], L.UPPER_INNER_LIP[-1]), L.UPPER_INNER_LIP[1:-1],
               L.LOWER_INNER_LIP[1:-1]),
    ]
    return np.concatenate([*openings, *bands, np.asarray(mesh_triangles())]).astype(np.int32)


def _strip(corners: tuple[int, int], upper: tuple[int, ...], lower: tuple[int, ...],
           ) -> np.ndarray:
    """Triangles across an opening, pairing its upper and lower contour points in order."""
    up, low = (corners[0], *upper, corners[1]), (corners[0], *lower, corners[1])
    triangles = [(up[0], up[1], low[1])]
    for i in range(1, len(up) - 2):
        triangles += [(up[i], up[i + 1], low[i + 1]), (up[i], low[i + 1], low[i])]
    triangles.append((up[-2], up[-1], low[-2]))
    return np.array(triangles)


def _opening_triangles(xy: np.ndarray, corners: tuple[int, int], upper: tuple[int, ...],
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


def target_vertices(source: WarpSource, target_points: np.ndarray) -> np.ndarray:
    """All warp vertices in the target: the 478 landmarks plus both rings around the face."""
    target = np.asarray(target_points, dtype=np.float64)[:, :2]
    src = source.vertices[: L.ALL_POINTS]
    scale, rotation, shift = _similarity(src[list(_RIGID_ANCHORS)], target[list(_RIGID_ANCHORS)])

    def rigid(p: np.ndarray) -> np.ndarray:
        return scale * p @ rotation.T + shift

    oval = list(L.FACE_OVAL)
    residual = target[oval] - rigid(src[oval])
    count = len(oval)
    inner_src = source.vertices[L.ALL_POINTS: L.ALL_POINTS + count]
    outer_src = source.vertices[L.ALL_POINTS + count:]
    inner = rigid(inner_src) + _RING_FOLLOW[0] * residual
    outer = (outer_src + _OUTER_RING_RIGID * (rigid(outer_src) - outer_src)
             + _RING_FOLLOW[1] * residual)
    return np.concatenate([target, inner, outer])


def _similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares scale, rotation and shift taking points ``a`` onto ``b`` (Umeyama)."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    da, db = a - mean_a, b - mean_b
    u, s, vt = np.linalg.svd(db.T @ da)
    d = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, d]) @ vt
    scale = float((s * [1.0, d]).sum() / max((da * da).sum(), 1e-9))
    return scale, rotation, mean_b - scale * mean_a @ rotation.T


@dataclass(frozen=True)
class BackwardMap:
    """Where each output pixel samples the source, over the region the warp touches."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the output image
    coordinates: np.ndarray  # (h, w, 2) float32 source x, y (for cv2.remap)
    mask: np.ndarray  # (h, w) uint8 head mask, 255 = fully warped
    # Boxes (relative to ``box``) around the eyes and lips, sampled at twice the resolution:
    # where lids and lips fold over their openings the map jumps, and supersampling turns
    # the jump into an anti-aliased edge.
    details: tuple[tuple[tuple[int, int, int, int], np.ndarray], ...]


def backward_map(source: WarpSource, vertices: np.ndarray) -> BackwardMap:
    """The backward map for the warp vertices ``vertices`` (see :func:`target_vertices`)."""
    import cv2

    step = source.map_step
    width, height = source.size
    both = np.concatenate([source.vertices, vertices])
    x0, y0 = np.floor(np.maximum(both.min(0), 0) / step).astype(int) * step
    x1, y1 = np.minimum(np.ceil(both.max(0)) + 1, (width, height)).astype(int)
    nx, ny = int(np.ceil((x1 - x0) / step)), int(np.ceil((y1 - y0) / step))
    affines = _affines(vertices[source.triangles], source.vertices[source.triangles])
    # Coarse sample i sits where cv2.resize will put it: x0 + (i + 0.5) * step - 0.5.
    grid = (vertices - (x0, y0) + 0.5) / step - 0.5
    coarse, _ = _sample_map(grid, source.triangles, affines, (ny, nx),
                         x0 + 0.5 * step - 0.5, y0 + 0.5 * step - 0.5, step)

    # The head mask is smooth: a grid four times coarser is plenty and keeps the blur cheap.
    mask_step = 4 * step
    mx, my = int(np.ceil((x1 - x0) / mask_step)), int(np.ceil((y1 - y0) / mask_step))
    mask_grid = (vertices - (x0, y0) + 0.5) / mask_step - 0.5
    count = len(L.FACE_OVAL)
    inner = mask_grid[L.ALL_POINTS: L.ALL_POINTS + count]
    outer = mask_grid[L.ALL_POINTS + count:]
    middle = np.round((0.55 * inner + 0.45 * outer) * (1 << _FIXED_POINT_BITS)).astype(np.int32)
    mask = np.zeros((my, mx), np.uint8)
    cv2.fillPoly(mask, [middle], 255, cv2.LINE_AA, _FIXED_POINT_BITS)
    feather = 0.1 * source.geometry.frame.iod_px / mask_step
    mask = cv2.GaussianBlur(mask, (0, 0), max(feather, 0.5))

    w, h = x1 - x0, y1 - y0
    size = (nx * step, ny * step)
    full_map = cv2.resize(coarse, size, interpolation=cv2.INTER_LINEAR)[:h, :w]
    full_mask = cv2.resize(mask, (mx * mask_step, my * mask_step),
                           interpolation=cv2.INTER_LINEAR)[:h, :w]
    local = vertices - (x0, y0)
    source_areas = _signed_areas(source.vertices[source.triangles])
    target_areas = _signed_areas(vertices[source.triangles])
    folded = target_areas * np.sign(source_areas) < 0.1 * np.abs(source_areas)
    details = tuple(
        detail for contour in _DETAIL_CONTOURS
        if (detail := _supersampled(full_map, local, source.triangles, affines, folded,
                                    contour, (x0, y0), 2 * step)) is not None)
    return BackwardMap((int(x0), int(y0), int(x1), int(y1)), np.ascontiguousarray(full_map),
                       full_mask, details)


_DETAIL_CONTOURS = (
    (*L.RIGHT_EYE_CORNERS, *L.RIGHT_UPPER_LID, *L.RIGHT_LOWER_LID),
    (*L.LEFT_EYE_CORNERS, *L.LEFT_UPPER_LID, *L.LEFT_LOWER_LID),
    (*L.UPPER_OUTER_LIP, *L.LOWER_OUTER_LIP),
)


def _sample_map(grid: np.ndarray, triangles: np.ndarray, affines: np.ndarray,
                shape: tuple[int, int], x_first: float, y_first: float,
                step: float) -> tuple[np.ndarray, np.ndarray]:
    """(ny, nx, 2) float32 source coordinates for a grid of samples whose vertex positions
    are ``grid`` (in sample units) and whose first sample sits at (x_first, y_first), and
    which samples some triangle covers (the rest map to themselves)."""
    import cv2

    corners = np.round(grid * (1 << _FIXED_POINT_BITS)).astype(np.int32)[triangles]
    ids = np.full(shape, -1, np.int32)
    for t, triangle in enumerate(corners):
        cv2.fillConvexPoly(ids, triangle, t, cv2.LINE_8, _FIXED_POINT_BITS)
    xs = (x_first + np.arange(shape[1], dtype=np.float32) * step)[None, :]
    ys = (y_first + np.arange(shape[0], dtype=np.float32) * step)[:, None]
    covered = ids >= 0
    picked = affines[np.maximum(ids, 0)]
    out = np.empty((*shape, 2), np.float32)
    out[..., 0] = np.where(covered, picked[..., 0] * xs + picked[..., 1] * ys + picked[..., 2],
                           xs)
    out[..., 1] = np.where(covered, picked[..., 3] * xs + picked[..., 4] * ys + picked[..., 5],
                           ys)
    return out, covered


def _signed_areas(corners: np.ndarray) -> np.ndarray:
    e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    return 0.5 * (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])


def _supersampled(full_map: np.ndarray, local: np.ndarray, triangles: np.ndarray,
                  affines: np.ndarray, folded: np.ndarray, contour: tuple[int, ...],
                  origin: tuple[int, int], pad: int,
                  ) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The exact map at twice the resolution over the box around ``contour``, if a triangle
    there folds over (collapses or flips): each output pixel j gets samples at j - 0.25 and
    j + 0.25, which INTER_AREA halving averages. None where nothing folds."""
    import cv2

    h, w = full_map.shape[:2]
    points = local[list(contour)]
    bx0, by0 = np.maximum(np.floor(points.min(0)).astype(int) - pad, 0)
    bx1, by1 = np.minimum(np.ceil(points.max(0)).astype(int) + pad + 1, (w, h))
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    corners = local[triangles]
    near = ((corners[..., 0].max(1) >= bx0 - 1) & (corners[..., 0].min(1) <= bx1)
            & (corners[..., 1].max(1) >= by0 - 1) & (corners[..., 1].min(1) <= by1))
    if not folded[near].any():
        return None
    grid = (local - (bx0 - 0.25, by0 - 0.25)) / 0.5
    shape = (2 * (by1 - by0), 2 * (bx1 - bx0))
    exact, covered = _sample_map(grid, triangles[near], affines[near], shape,
                                 origin[0] + bx0 - 0.25, origin[1] + by0 - 0.25, 0.5)
    # Samples no nearby triangle covers take the upsampled coarse map.
    fallback = cv2.resize(full_map[by0:by1, bx0:bx1], shape[::-1],
                          interpolation=cv2.INTER_LINEAR)
    fallback[covered] = exact[covered]
    return (int(bx0), int(by0), int(bx1), int(by1)), fallback


def _affines(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """(T, 6) row-major 2x3 affine maps taking each target triangle onto its source triangle;
    a collapsed triangle maps everything to its source centroid."""
    t0, t1, t2 = target[:, 0], target[:, 1], target[:, 2]
    e1, e2 = t1 - t0, t2 - t0
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = np.abs(det) > 1e-6
    safe = np.where(ok, det, 1.0)
    # Inverse of [e1 e2] (columns), giving barycentric (b1, b2) of a point relative to t0.
    inv = np.stack([e2[:, 1], -e2[:, 0], -e1[:, 1], e1[:, 0]], 1) / safe[:, None]
    s0, s1, s2 = source[:, 0], source[:, 1], source[:, 2]
    f1, f2 = s1 - s0, s2 - s0
    linear = np.empty((len(target), 2, 2))
    linear[:, :, 0] = f1 * inv[:, 0:1] + f2 * inv[:, 2:3]
    linear[:, :, 1] = f1 * inv[:, 1:2] + f2 * inv[:, 3:4]
    offset = s0 - np.einsum("tij,tj->ti", linear, t0)
    centroid = source.mean(axis=1)
    linear[~ok] = 0.0
    offset[~ok] = centroid[~ok]
    return np.concatenate([linear[:, 0], offset[:, :1], linear[:, 1], offset[:, 1:]],
                          1).astype(np.float32)


def render_warp(source: WarpSource, target_points: np.ndarray,
                mouth_patch: MouthPatch | None = None) -> np.ndarray:
    """The source image warped so its landmarks land on ``target_points`` ((478, 2+) pixels)."""
    import cv2

    target = np.asarray(target_points, dtype=np.float64)
    if target.shape[0] != L.ALL_POINTS:
        raise InputError(f"expected {L.ALL_POINTS} target points, got {target.shape[0]}")
    vertices = target_vertices(source, target)
    warp_map = backward_map(source, vertices)
    x0, y0, x1, y1 = warp_map.box
    warped = cv2.remap(source.image, warp_map.coordinates, None, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REFLECT)
    for (bx0, by0, bx1, by1), coordinates in warp_map.details:
        fine = cv2.remap(source.image, coordinates, None, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)
        warped[by0:by1, bx0:bx1] = cv2.resize(fine, (bx1 - bx0, by1 - by0),
                                              interpolation=cv2.INTER_AREA)
    fill_mouth(warped, (x0, y0), source, vertices[: L.ALL_POINTS], mouth_patch)
    output = source.image.copy()
    weight = warp_map.mask.astype(np.float32) * (1.0 / 255.0)
    output[y0:y1, x0:x1] = cv2.blendLinear(warped, source.image[y0:y1, x0:x1], weight,
                                           1.0 - weight)
    return output
