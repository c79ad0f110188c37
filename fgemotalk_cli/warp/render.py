"""Dense image warp from source landmarks to target landmarks.

Per frame, each target triangle of the warp mesh (:mod:`fgemotalk_cli.warp.mesh`) gets the
affine map back to its source triangle; the triangles are rasterised (openings first, so skin
drawn later covers a closed eye or mouth) on a coarse grid over the head only, the backward
map is upsampled and ``cv2.remap`` samples the source. Around the eyes and lips, where folds
make the map jump, the map is sampled at twice the resolution and the result averaged down
(anti-aliased lid and lip edges). A feathered head mask holds everything beyond the head
still, and the mouth interior is filled where the lips part further than in the source
(:mod:`fgemotalk_cli.warp.mouth`).

Everything that depends only on the source is computed once in :func:`prepare_source`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.warp import layout as L
from fgemotalk_cli.warp.au_geometry import AUGeometry
from fgemotalk_cli.warp.mesh import WarpMesh, build_warp_mesh, signed_areas, target_vertices
from fgemotalk_cli.warp.mouth import MouthPatch, MouthStyle, fill_mouth

_FIXED_POINT_BITS = 4


@dataclass(frozen=True)
class WarpSource:
    """A source portrait with everything the per-frame warp needs precomputed."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    points: np.ndarray  # (478, 3) source landmarks, pixels
    geometry: AUGeometry
    mesh: WarpMesh
    map_step: int  # the backward map is computed every map_step pixels, then upsampled
    mouth_style: MouthStyle

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]

    @property
    def vertices(self) -> np.ndarray:
        return self.mesh.vertices

    @property
    def triangles(self) -> np.ndarray:
        return self.mesh.triangles


def prepare_source(image: np.ndarray, landmarks: object) -> WarpSource:
    """Precompute the warp mesh, map resolution and mouth colours of a source portrait."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"the warp engine needs an RGB uint8 image, got {image.shape} "
                         f"{image.dtype}")
    points = L.as_points(landmarks)
    geometry = AUGeometry.from_landmarks(points)
    # Work on a grid about one fiftieth of the eye distance: fine enough for lids and lips.
    map_step = int(np.clip(round(geometry.frame.iod_px / 50.0), 1, 4))
    return WarpSource(
        image=np.ascontiguousarray(image), points=points, geometry=geometry,
        mesh=build_warp_mesh(points, geometry.visible_iris), map_step=map_step,
        mouth_style=MouthStyle.from_source(image, points[:, :2]),
    )


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


def backward_map(source: WarpSource, vertices: np.ndarray,
                 order: np.ndarray | None = None) -> BackwardMap:
    """The backward map for the warp vertices ``vertices``, drawing the triangles in
    ``order`` (see :func:`fgemotalk_cli.warp.mesh.target_vertices`)."""
    import cv2

    step = source.map_step
    width, height = source.size
    both = np.concatenate([source.vertices, vertices])
    x0, y0 = np.floor(np.maximum(both.min(0), 0) / step).astype(int) * step
    x1, y1 = np.minimum(np.ceil(both.max(0)) + 1, (width, height)).astype(int)
    nx, ny = int(np.ceil((x1 - x0) / step)), int(np.ceil((y1 - y0) / step))
    order = np.arange(len(source.triangles)) if order is None else order
    triangles = source.triangles[order]
    affines = _affines(vertices[triangles], source.vertices[triangles])
    # Coarse sample i sits where cv2.resize will put it: x0 + (i + 0.5) * step - 0.5.
    grid = (vertices - (x0, y0) + 0.5) / step - 0.5
    coarse, _ = _sample_map(grid, triangles, affines, (ny, nx),
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
    source_areas = source.mesh.source_areas[order]
    target_areas = signed_areas(vertices[triangles])
    folded = target_areas * np.sign(source_areas) < 0.1 * np.abs(source_areas)
    details = tuple(
        detail for contour in _DETAIL_CONTOURS
        if (detail := _supersampled(full_map, local, triangles, affines, folded,
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
    """The source image warped so its landmarks land on ``target_points``: (478, 2) pixels,
    or (478, 3) with depth (MediaPipe's z scale), which lets a turned head occlude itself."""
    import cv2

    target = np.asarray(target_points, dtype=np.float64)
    if target.shape[0] != L.ALL_POINTS:
        raise InputError(f"expected {L.ALL_POINTS} target points, got {target.shape[0]}")
    vertices, order = target_vertices(source.mesh, target)
    warp_map = backward_map(source, vertices, order)
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
