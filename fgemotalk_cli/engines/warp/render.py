"""Dense image warp from source landmarks to target landmarks.

Per frame, each target triangle of the warp mesh (:mod:`fgemotalk_cli.engines.warp.mesh`) gets the
affine map back to its source triangle; the triangles are rasterised (openings first, so skin
drawn later covers a closed eye or mouth) on a coarse grid over the head only, the backward
map is upsampled and ``cv2.remap`` samples the source. Around the eyes and lips, where folds
make the map jump, the map is sampled at twice the resolution and the result averaged down
(anti-aliased lid and lip edges). The mouth interior is filled where the lips part further
than in the source (:mod:`fgemotalk_cli.engines.warp.mouth`), and lid skin where the upper
lids came down (:mod:`fgemotalk_cli.engines.warp.lids`).

When the head itself moves (translation, zoom, turns), the frame is composited from layers
(:mod:`fgemotalk_cli.engines.warp.layers`): the head and hair follow the head, the body stays,
the neck blends, and the background plate fills what the head uncovers. When it does not (an
AU edit), a feathered head mask holds everything beyond the face exactly still.

The warp is computed at a working resolution (long side at most :data:`WORK_SIDE`); a larger
source keeps its size: the map is upsampled and applied to the full-resolution photo, and
only the painted mouth and lids come from the working resolution.

Everything that depends only on the source is computed once in :func:`prepare_source`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.au_geometry import AUGeometry
from fgemotalk_cli.engines.warp.compose import (
    FaceWarp,
    FrameLayers,
    head_moves,
    layered_frame,
    paste_box,
    pasted_frame,
    sample_face,
)
from fgemotalk_cli.engines.warp.eye_whites import open_eye_whites
from fgemotalk_cli.engines.warp.glasses import GlassesLayer, split_glasses, wears_glasses
from fgemotalk_cli.engines.warp.layers import SourceLayers, build_layers
from fgemotalk_cli.engines.warp.lids import LidStyle, fill_lids
from fgemotalk_cli.engines.warp.lips import meet_lips
from fgemotalk_cli.engines.warp.mesh import (
    WarpMesh,
    build_warp_mesh,
    signed_areas,
    triangle_heights,
    warp_targets,
)
from fgemotalk_cli.engines.warp.mouth import MouthPatch, MouthStyle, fill_mouth
from fgemotalk_cli.engines.warp.raster import rasterise_map
from fgemotalk_cli.engines.warp.shading import ShadingStyle, shade_expression
from fgemotalk_cli.errors import InputError

_FIXED_POINT_BITS = 4
#: Long side of the working resolution the warp is computed at.
WORK_SIDE = 1024
# A head affine that moves no pixel of the frame further than this (working pixels) is still.
_STILL_HEAD_PX = 0.5


@dataclass(frozen=True)
class WarpSource:
    """A source portrait with everything the per-frame warp needs precomputed."""

    image: np.ndarray  # (H, W, 3) uint8 RGB at the working resolution
    points: np.ndarray  # (478, 3) source landmarks, working pixels
    geometry: AUGeometry
    mesh: WarpMesh
    map_step: int  # the backward map is computed every map_step pixels, then upsampled
    mouth_style: MouthStyle
    lid_style: LidStyle
    full_image: np.ndarray  # (H', W', 3) the photo at its own (output) resolution
    scale: float  # full-resolution pixels per working pixel (1 for most portraits)
    glasses: GlassesLayer | None = None  # a rigid frame layer split off the skin, full resolution
    shading: ShadingStyle | None = None  # wrinkles and folds drawn with the expression

    @property
    def full_texture(self) -> np.ndarray:
        """What the output samples at full resolution: the photo, less its glasses."""
        return self.full_image if self.glasses is None else self.glasses.skin_image

    @cached_property
    def texture(self) -> np.ndarray:
        """What the warp samples at the working resolution: the source, less its glasses."""
        if self.glasses is None:
            return self.image
        if self.scale == 1.0:
            return self.glasses.skin_image
        import cv2

        return cv2.resize(self.glasses.skin_image, self.size, interpolation=cv2.INTER_AREA)

    @cached_property
    def texture_rgba(self) -> np.ndarray:
        """:attr:`texture` with a fourth channel: OpenCV remaps four channels about a third
        faster than three (its vectorised path), more than the conversion back costs."""
        import cv2

        return cv2.cvtColor(self.texture, cv2.COLOR_RGB2RGBA)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the working resolution."""
        return self.image.shape[1], self.image.shape[0]

    @property
    def full_size(self) -> tuple[int, int]:
        """(width, height) of the output."""
        return self.full_image.shape[1], self.full_image.shape[0]

    @cached_property
    def layers(self) -> SourceLayers:
        """Person, background plate and head region: built on the first frame that moves the
        head (an AU edit never needs them)."""
        return build_layers(self.full_image, self.scale, self.geometry.frame, self.points)

    @property
    def vertices(self) -> np.ndarray:
        return self.mesh.vertices

    @property
    def triangles(self) -> np.ndarray:
        return self.mesh.triangles


def working_resolution(full_image: np.ndarray, full_points: np.ndarray,
                       work_side: int = WORK_SIDE) -> tuple[np.ndarray, np.ndarray, float]:
    """The image and its landmarks at the working resolution (long side at most
    ``work_side``), with the full-resolution pixels per working pixel."""
    import cv2

    height, width = full_image.shape[:2]
    scale = max(1.0, max(height, width) / work_side)
    if scale == 1.0:
        return full_image, full_points, 1.0
    work_size = (max(1, round(width / scale)), max(1, round(height / scale)))
    scale = width / work_size[0]
    image = cv2.resize(full_image, work_size, interpolation=cv2.INTER_AREA)
    points = full_points.copy()
    points[:, :2] = (full_points[:, :2] + 0.5) / scale - 0.5
    points[:, 2] = full_points[:, 2] / scale
    return image, points, float(scale)


def prepare_source(image: np.ndarray, landmarks: object,
                   work_side: int = WORK_SIDE) -> WarpSource:
    """Precompute the warp mesh, map resolution and mouth colours of a source portrait
    (``landmarks`` in ``image``'s pixels); output frames have ``image``'s size."""

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"the warp engine needs an RGB uint8 image, got {image.shape} "
                         f"{image.dtype}")
    full_image = np.ascontiguousarray(image)
    image, points, scale = working_resolution(full_image, L.as_points(landmarks), work_side)
    geometry = AUGeometry.from_landmarks(points)
    # Work on a grid about one fiftieth of the eye distance: fine enough for lids and lips.
    map_step = int(np.clip(round(geometry.frame.iod_px / 50.0), 1, 4))
    mouth_style = MouthStyle.from_source(image, points[:, :2])
    return WarpSource(
        image=np.ascontiguousarray(image), points=points, geometry=geometry,
        mesh=build_warp_mesh(points, geometry.visible_iris), map_step=map_step,
        mouth_style=mouth_style,
        lid_style=LidStyle.from_source(image, points[:, :2], mouth_style.skin),
        full_image=full_image, scale=float(scale),
        glasses=source_glasses(image, points, full_image, scale),
        shading=ShadingStyle.from_source(image, geometry, points),
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
    ``order`` (see :func:`fgemotalk_cli.engines.warp.mesh.target_vertices`)."""
    import cv2

    step = source.map_step
    width, height = source.size
    count = len(L.FACE_OVAL)
    # The head mask's edge runs between the two rings: beyond it and its feather the output
    # is the source itself, so the map is only needed inside (and inside the outer ring,
    # beyond which no triangle reaches).
    outer = vertices[L.ALL_POINTS + count:]
    middle = 0.55 * vertices[L.ALL_POINTS: L.ALL_POINTS + count] + 0.45 * outer
    feather_px = 0.1 * source.geometry.frame.iod_px
    margin = 3.0 * feather_px + 8 * step
    low = np.maximum(np.maximum(middle.min(0) - margin, outer.min(0)), 0)
    high = np.minimum(np.minimum(middle.max(0) + margin, outer.max(0) + 1), (width, height))
    x0, y0 = np.floor(low / step).astype(int) * step
    x1, y1 = np.ceil(high).astype(int)
    w, h = int(x1 - x0), int(y1 - y0)
    # A coarse sample more than the box needs on every side, so that the upsampled map
    # interpolates out to the box's edges instead of holding the outermost samples.
    nx, ny = w // step + 3, h // step + 3
    mesh = source.mesh
    order = np.arange(len(mesh.triangles)) if order is None else order
    corners = vertices[mesh.triangles] - (x0, y0)  # (T, 3, 2) in box pixels
    affines, doubled_areas = _affines(corners + (x0, y0), mesh.source_corners, step,
                                      mesh.source_heights, mesh.source_centroids)
    # Coarse sample i sits where cv2.resize will put it: x0 - step + (i + 0.5) * step - 0.5.
    first = 0.5 * step - 0.5 - step
    coarse, _ = rasterise_map((corners - first) / step, affines, order, (ny, nx),
                              x0 + first, y0 + first, step)
    full_map = cv2.resize(coarse, (nx * step, ny * step), interpolation=cv2.INTER_LINEAR)
    full_map = full_map[step: step + h, step: step + w]

    # The head mask is smooth: a grid four times coarser is plenty and keeps the blur cheap.
    mask_step = 4 * step
    mx, my = w // mask_step + 2, h // mask_step + 2
    mask_middle = ((middle - (x0, y0) + 0.5) / mask_step - 0.5) * (1 << _FIXED_POINT_BITS)
    mask: np.ndarray = np.zeros((my, mx), np.uint8)
    cv2.fillPoly(mask, [np.round(mask_middle).astype(np.int32)], (255,), cv2.LINE_AA,
                 _FIXED_POINT_BITS)
    mask = cv2.GaussianBlur(mask, (0, 0), max(feather_px / mask_step, 0.5))
    full_mask = cv2.resize(mask, (mx * mask_step, my * mask_step),
                           interpolation=cv2.INTER_LINEAR)[:h, :w]

    # Folded: collapsed to under a tenth of its source area, or flipped.
    source_areas = mesh.source_areas
    folded = doubled_areas * np.sign(source_areas) < 0.2 * np.abs(source_areas)
    # Elementwise over the three corners: a reduction along the short middle axis is slower.
    first_corner, second_corner, third_corner = corners[:, 0], corners[:, 1], corners[:, 2]
    bounds = np.concatenate([np.minimum(np.minimum(first_corner, second_corner), third_corner),
                             np.maximum(np.maximum(first_corner, second_corner), third_corner)],
                            axis=1)
    local = vertices - (x0, y0)
    details = tuple(
        detail for contour in _DETAIL_CONTOURS
        if (detail := _supersampled(full_map, local[list(contour)], corners, affines, order,
                                    folded, bounds, (x0, y0), 2 * step)) is not None)
    return BackwardMap((int(x0), int(y0), int(x1), int(y1)), full_map, full_mask, details)


_DETAIL_CONTOURS = (
    (*L.RIGHT_EYE_CORNERS, *L.RIGHT_UPPER_LID, *L.RIGHT_LOWER_LID),
    (*L.LEFT_EYE_CORNERS, *L.LEFT_UPPER_LID, *L.LEFT_LOWER_LID),
    (*L.UPPER_OUTER_LIP, *L.LOWER_OUTER_LIP),
)


def _supersampled(full_map: np.ndarray, contour: np.ndarray, corners: np.ndarray,
                  affines: np.ndarray, order: np.ndarray, folded: np.ndarray,
                  bounds: np.ndarray, origin: tuple[int, int], pad: int,
                  ) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The exact map at twice the resolution around the triangles that fold over (collapse
    or flip) near ``contour`` (box pixels), where the map jumps: each output pixel j gets
    samples at j - 0.25 and j + 0.25, which INTER_AREA halving averages. None where nothing
    folds. ``bounds`` holds each triangle's x0, y0, x1, y1 in box pixels."""
    import cv2

    h, w = full_map.shape[:2]
    low, high = contour.min(0) - pad, contour.max(0) + pad
    near = ((bounds[:, 2] >= low[0]) & (bounds[:, 0] <= high[0])
            & (bounds[:, 3] >= low[1]) & (bounds[:, 1] <= high[1]))
    folds = near & folded
    if not folds.any():
        return None
    # Only around the folds: a closed mouth folds along its seam, not over the whole lips.
    low = np.maximum(low, bounds[folds, :2].min(0) - pad)
    high = np.minimum(high, bounds[folds, 2:].max(0) + pad)
    bx0, by0 = np.maximum(np.floor(low).astype(int), 0)
    bx1, by1 = np.minimum(np.ceil(high).astype(int) + 1, (w, h))
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    near = ((bounds[:, 2] >= bx0 - 1) & (bounds[:, 0] <= bx1)
            & (bounds[:, 3] >= by0 - 1) & (bounds[:, 1] <= by1))
    shape = (2 * (by1 - by0), 2 * (bx1 - bx0))
    exact, covered = rasterise_map((corners - (bx0 - 0.25, by0 - 0.25)) / 0.5, affines,
                                   order[near[order]], shape, origin[0] + bx0 - 0.25,
                                   origin[1] + by0 - 0.25, 0.5)
    # Samples no nearby triangle covers take the upsampled coarse map.
    fallback = cv2.resize(full_map[by0:by1, bx0:bx1], shape[::-1],
                          interpolation=cv2.INTER_LINEAR)
    np.copyto(fallback, exact, where=covered[..., None])
    return (int(bx0), int(by0), int(bx1), int(by1)), fallback


def _affines(target: np.ndarray, source: np.ndarray, min_height: float,
             source_heights: np.ndarray | None = None,
             source_centroids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(T, 6) float32 row-major 2x3 affine maps taking each target triangle (T, 3, 2) onto
    its source triangle, and twice the target triangles' signed areas.

    The rasteriser marks pixels up to about a sample outside a triangle, and for a sliver
    (a fold, a collapsing lid or lip) the exact map sends those far beyond its source
    triangle: isolated dark or lip-coloured specks. So each affine is taken from the target
    triangle widened to at least ``min_height`` across its longest edge (or to its source's
    own height there, if that is less: a triangle as thin as in the source maps exactly).
    ``source_heights`` are those source heights (:func:`.mesh.triangle_heights`), and
    ``source_centroids`` the source triangles' centroids, if known."""
    e1, e2 = target[:, 1] - target[:, 0], target[:, 2] - target[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    edges = np.stack([e1, e2 - e1, -e2], axis=1)  # from corner k to corner k + 1
    squared = (edges * edges).sum(axis=2)
    longest = squared.argmax(axis=1)
    base = np.sqrt(squared[np.arange(len(target)), longest])
    if source_heights is None:
        source_heights = triangle_heights(source)
    wanted = np.minimum(min_height, source_heights)
    regular = target
    rows = np.flatnonzero((np.abs(det) < wanted * base) & (base > 1e-9))
    if len(rows):
        regular = target.copy()
        edge = edges[rows, longest[rows]] / base[rows, None]
        normal = np.stack([-edge[:, 1], edge[:, 0]], axis=1)  # left of the edge
        # The apex (opposite the longest edge) moves off it, on the side the triangle's
        # winding (or, where it has none, the source's) puts it.
        winding = np.sign(np.where(det[rows] != 0, det[rows], signed_areas(source[rows])))
        apex = (longest[rows] + 2) % 3
        start = target[rows, longest[rows]]
        offset = ((target[rows, apex] - start) * normal).sum(axis=1)
        regular[rows, apex] += normal * (winding * wanted[rows] - offset)[:, None]
        e1 = regular[:, 1] - regular[:, 0]
        e2 = regular[:, 2] - regular[:, 0]
    regular_det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = np.abs(regular_det) > 1e-9
    inverse_det = np.where(ok, 1.0 / np.where(ok, regular_det, 1.0), 0.0)
    f1, f2 = source[:, 1] - source[:, 0], source[:, 2] - source[:, 0]
    # linear = [f1 f2] @ inverse([e1 e2]): the source edges over the target edges.
    a = (f1 * e2[:, 1:2] - f2 * e1[:, 1:2]) * inverse_det[:, None]  # first column
    b = (f2 * e1[:, 0:1] - f1 * e2[:, 0:1]) * inverse_det[:, None]  # second column
    offset_xy = source[:, 0] - a * regular[:, 0, 0:1] - b * regular[:, 0, 1:2]
    if source_centroids is None:
        source_centroids = source.mean(axis=1)
    offset_xy = np.where(ok[:, None], offset_xy, source_centroids)
    affines = np.stack([a[:, 0], b[:, 0], offset_xy[:, 0], a[:, 1], b[:, 1], offset_xy[:, 1]],
                       1)
    return affines.astype(np.float32), det


def render_warp(source: WarpSource, target_points: np.ndarray,
                mouth_patch: MouthPatch | None = None) -> np.ndarray:
    """The source image warped so its landmarks land on ``target_points`` (working pixels):
    (478, 2), or (478, 3) with depth (MediaPipe's z scale), which lets a turned head occlude
    itself and turns the rings around the face in 3-D. The frame has the source's full size."""
    target = np.asarray(target_points, dtype=np.float64)
    if target.shape[0] != L.ALL_POINTS:
        raise InputError(f"expected {L.ALL_POINTS} target points, got {target.shape[0]}")
    target = meet_lips(target, source.points)  # lips stop where they touch (engines/warp/lips.py)
    vertices, order, head_forward = warp_targets(source.mesh, target)
    warp_map = backward_map(source, vertices, order)
    moves = head_moves(head_forward, source.size, _STILL_HEAD_PX)
    # A moving head at the working resolution shows its warped face only where it is pasted
    # over the composite (:func:`.compose.layered_frame`): only that part is sampled (the
    # rest of the box stays black).
    height, width = warp_map.mask.shape
    pixel_box = (paste_box(warp_map.mask) if moves and source.scale == 1.0
                 else (0, 0, width, height))
    warped = sample_face(source.texture, warp_map.coordinates, warp_map.details, pixel_box,
                         source.texture_rgba)
    unpainted = warped.copy() if source.scale != 1.0 else None
    x0, y0 = warp_map.box[:2]
    # Painting hooks: everything drawn into ``warped`` (working resolution, box pixels) shows.
    fill_mouth(warped, (x0, y0), source.mouth_style, vertices[: L.ALL_POINTS], mouth_patch)
    fill_lids(warped, (x0, y0), source.lid_style, vertices[: L.ALL_POINTS])
    open_eye_whites(warped, (x0, y0), source.image, source.points, vertices[: L.ALL_POINTS])
    if source.shading is not None:  # wrinkles and folds (engines/warp/shading.py)
        shade_expression(warped, (x0, y0), source.shading, target)
    face = FaceWarp(warp_map.box, warp_map.mask, warp_map.coordinates, warped, unpainted)
    if moves:
        frame = FrameLayers(source.layers, source.size, head_forward)
        output = layered_frame(source.full_texture, source.scale, face, frame)
    else:
        output = pasted_frame(source.full_texture, source.scale, face)
    if source.glasses is not None:  # the frame over the skin, moved with the head only
        full_target = target[:, :2] if source.scale == 1.0 else (
            (target[:, :2] + 0.5) * source.scale - 0.5)
        source.glasses.paint(output, full_target)
    return output


def source_glasses(image: np.ndarray, points: np.ndarray, full_image: np.ndarray,
                   scale: float) -> GlassesLayer | None:
    """The glasses layer, found at the working resolution (what the detector's thresholds are
    measured at) and split off the photo once, at its full resolution."""
    if not wears_glasses(image, points[:, :2]):
        return None
    full_xy = points[:, :2] if scale == 1.0 else (points[:, :2] + 0.5) * scale - 0.5
    return split_glasses(full_image, full_xy)
