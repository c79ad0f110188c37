"""The frame's backward map for a moving head: the head moves with the head's motion (the
affine that the warp mesh's outer rings follow, 3-D turned), the body follows a share of its
translation, and the neck blends between them (a raised head stretches its neck rather than
opening a hole in it). Computed on a coarse grid and upsampled over the box of output pixels
whose map can reach the person (:mod:`fgemotalk_cli.engines.warp.layers`); beyond it a frame
is the plate.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp.layers import Box, SourceLayers

# The face mesh's own map fades out this much further down the neck than the head layer
# (IODs), so a dropped jaw stays whole.
_FACE_MAP_EXTRA_IOD = 0.6
#: Share of the head's translation the neck and body follow: a talking head's shoulders move
#: with it (and a shaking camera moves both), but less.
BODY_FOLLOW = 0.5
#: Step of the coarse grid of the frame's backward map, in working pixels (it is affine
#: almost everywhere, so a coarse grid upsampled is exact enough).
FRAME_GRID_STEP = 8


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """The inverse of a (2, 3) affine map, in closed form: a LAPACK call per frame would wake
    OpenBLAS's helper threads for a 2x2 matrix (see :mod:`fgemotalk_cli.pipelines.threads`)."""
    (a, b), (c, d) = affine[:, :2]
    determinant = a * d - b * c
    linear = np.array([[d, -b], [-c, a]], np.float64) / determinant
    return np.concatenate([linear, -linear @ affine[:, 2:]], axis=1)


@dataclass(frozen=True)
class FrameMap:
    """The frame's backward map at the output resolution, before the face mesh, over ``box``:
    beyond it the map samples no person, so the frame there is the plate."""

    box: Box  # x0, y0, x1, y1 in output (full) pixels
    coordinates: np.ndarray  # (h, w, 2) float32 source x, y in output (full) pixels
    face_weight: np.ndarray  # (h, w) float32: how far down the face mesh's own map reaches
    # The parts of ``box`` (relative to it) whose map may sample beyond the photo's edge,
    # one beside each of the frame's sides where any does (none: nothing does).
    beyond_edge: tuple[Box, ...] = ()


def layered_map(layers: SourceLayers, head_forward: np.ndarray, work_size: tuple[int, int],
                full_size: tuple[int, int], keep: Box = (0, 0, 0, 0)) -> FrameMap:
    """The head (affine ``head_forward``: source to target working pixels) over a body that
    follows its translation by :data:`BODY_FOLLOW`, on a coarse grid upsampled to
    ``full_size``; only over the pixels whose map can reach the person, and ``keep``."""
    width, _ = full_size
    head = layers.head
    scale = width / work_size[0]
    step, work = _frame_grid(full_size, work_size[0])
    backward = invert_affine(head_forward)
    rigid = work @ backward[:, :2].T + backward[:, 2]
    weight, face_weight = head.weights(rigid, (0.0, _FACE_MAP_EXTRA_IOD))
    head_shift = head_forward[:, :2] @ head.origin + head_forward[:, 2] - head.origin
    body = work - BODY_FOLLOW * head_shift
    blended = body + weight[..., None] * (rigid - body)
    coordinates = ((blended + 0.5) * scale - 0.5).astype(np.float32)
    box = _union(_reach_box(coordinates, layers.person_box, step, full_size), keep)
    return FrameMap(box, _upsampled(coordinates, step, box), _upsampled(face_weight, step, box),
                    _beyond_edge(coordinates, step, full_size, box))


def _beyond_edge(coordinates: np.ndarray, step: int, full_size: tuple[int, int],
                 box: Box) -> tuple[Box, ...]:
    """The parts of ``box`` (relative to it) whose upsampled map can sample beyond the
    photo's edge: the cells with a corner sample beyond it (bilinear, a cell stays within its
    corners' range), as one box beside each side of the frame they lie nearest (a head that
    rolls sends its corners beyond two edges: a single box round them all was the whole
    frame, and its edge alpha cost a remap of the whole box)."""
    width, height = full_size
    # The grid has samples beyond the frame on every side (see :func:`_frame_grid`): there
    # the map is taken at the frame's own edge, interpolated towards the next sample in, so
    # a still map names nothing.
    first = 0.5 * step - 0.5 - step
    at_edge = coordinates.astype(np.float64)
    for axis, size in ((1, width), (0, height)):
        positions = first + step * np.arange(coordinates.shape[axis])
        for index in np.flatnonzero((positions < 0) | (positions > size - 1)):
            inward = index + 1 if positions[index] < 0 else index - 1
            edge = 0.0 if positions[index] < 0 else size - 1.0
            share = (edge - positions[index]) / (positions[inward] - positions[index])
            here = np.take(at_edge, index, axis=axis)
            there = np.take(at_edge, inward, axis=axis)
            if axis == 1:
                at_edge[:, index] = here + share * (there - here)
            else:
                at_edge[index, :] = here + share * (there - here)
    x, y = at_edge[..., 0], at_edge[..., 1]
    tolerance = 1e-3
    outside = ((x < -tolerance) | (x > width - 1 + tolerance) | (y < -tolerance)
               | (y > height - 1 + tolerance))
    if not outside.any():
        return ()
    cells = outside[:-1, :-1] | outside[:-1, 1:] | outside[1:, :-1] | outside[1:, 1:]
    rows, columns = np.indices(cells.shape)
    # Each cell's nearest side of the grid: top, bottom, left, right.
    sides = np.argmin(np.stack([rows, cells.shape[0] - 1 - rows, columns,
                                cells.shape[1] - 1 - columns]), axis=0)
    bx0, by0, bx1, by1 = box
    parts = []
    for side in range(4):
        x0, y0, x1, y1 = _cells_box(cells & (sides == side), step, full_size)
        x0, y0 = max(x0, bx0) - bx0, max(y0, by0) - by0
        x1, y1 = min(x1, bx1) - bx0, min(y1, by1) - by0
        if x1 > x0 and y1 > y0:
            parts.append((x0, y0, x1, y1))
    return tuple(parts)


@functools.lru_cache(maxsize=8)
def _frame_grid(full_size: tuple[int, int], work_width: int) -> tuple[int, np.ndarray]:
    """The coarse grid of :func:`layered_map` for an output size: its step (full pixels) and
    (ny, nx, 2) sample positions in working pixels (read-only; the same for every frame)."""
    width, height = full_size
    scale = width / work_width
    step = max(2, round(FRAME_GRID_STEP * scale))
    # One sample beyond the frame on every side, so the upsampled grid interpolates out to
    # the edges (cv2.resize places sample i at (i + 0.5) * step - 0.5 - step after the crop).
    nx, ny = width // step + 3, height // step + 3
    first = 0.5 * step - 0.5 - step
    xs = first + step * np.arange(nx)
    ys = first + step * np.arange(ny)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)  # (ny, nx, 2) full pixels
    work = (grid + 0.5) / scale - 0.5
    work.setflags(write=False)
    return step, work


def _reach_box(coordinates: np.ndarray, person_box: Box, step: int,
               full_size: tuple[int, int]) -> Box:
    """The output pixels whose upsampled map can sample a person pixel.

    The upsampled map is bilinear between coarse samples, so over a cell it stays within its
    four corners' range (each axis apart); folded back into the frame, as the remap's
    reflected border samples it, a cell can only reach the person if that range meets the
    person's box, widened by the one pixel a bilinear sample reaches. The cells that can make
    the box."""
    width, height = full_size
    px0, py0, px1, py1 = person_box
    if px1 <= px0 or py1 <= py0:
        return (0, 0, 0, 0)

    def cell_range(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        corners = (values[:-1, :-1], values[:-1, 1:], values[1:, :-1], values[1:, 1:])
        low = np.minimum(np.minimum(corners[0], corners[1]), np.minimum(corners[2], corners[3]))
        high = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
        # The range reflected at the frame's edges (BORDER_REFLECT: -1 - x, 2 size - 1 - x);
        # a range across an edge folds onto the edge and the larger of its two sides.
        low_in, high_in = _reflected(low, size), _reflected(high, size)
        folded_low, folded_high = np.minimum(low_in, high_in), np.maximum(low_in, high_in)
        folded_low = np.where(low < 0, 0.0, folded_low)
        folded_high = np.where(high > size - 1, size - 1.0, folded_high)
        return folded_low, folded_high

    (x_low, x_high) = cell_range(coordinates[..., 0], width)
    (y_low, y_high) = cell_range(coordinates[..., 1], height)
    reaches = ((x_high > px0 - 2) & (x_low < px1 + 1) & (y_high > py0 - 2) & (y_low < py1 + 1))
    return _cells_box(reaches, step, full_size)


def _cells_box(cells: np.ndarray, step: int, full_size: tuple[int, int]) -> Box:
    """The output pixels (x0, y0, x1, y1) the true ``cells`` of the coarse grid span."""
    width, height = full_size
    rows, columns = np.flatnonzero(cells.any(axis=1)), np.flatnonzero(cells.any(axis=0))
    if not len(rows):
        return (0, 0, 0, 0)

    # Cell i (samples i and i + 1) spans output pixels (i - 0.5) * step - 0.5 .. (i + 0.5) *
    # step - 0.5 (see the grid above).
    def pixels(first_cell: int, last_cell: int, size: int) -> tuple[int, int]:
        low = int(np.floor((first_cell - 0.5) * step - 0.5))
        high = int(np.ceil((last_cell + 0.5) * step - 0.5)) + 1
        return max(low, 0), min(high, size)

    x0, x1 = pixels(int(columns[0]), int(columns[-1]), width)
    y0, y1 = pixels(int(rows[0]), int(rows[-1]), height)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else (0, 0, 0, 0)


def _reflected(values: np.ndarray, size: int) -> np.ndarray:
    """Positions mirrored into 0..size - 1 as BORDER_REFLECT samples them (once each side)."""
    return np.clip(np.where(values < 0, -1.0 - values,
                            np.where(values > size - 1, 2.0 * size - 1.0 - values, values)),
                   0, size - 1)


def _union(first: Box, second: Box) -> Box:
    if first[2] <= first[0] or first[3] <= first[1]:
        return second
    if second[2] <= second[0] or second[3] <= second[1]:
        return first
    return (min(first[0], second[0]), min(first[1], second[1]),
            max(first[2], second[2]), max(first[3], second[3]))


def _upsampled(values: np.ndarray, step: int, box: Box) -> np.ndarray:
    """The coarse grid ``values`` upsampled ``step`` times (INTER_LINEAR) over ``box`` of the
    output: the samples around the box only, resized, give the same pixels as the whole grid
    (with a sample of margin, the resize's own border handling stays outside the box)."""
    import cv2

    x0, y0, x1, y1 = box
    channels = values.shape[2:]
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0, *channels), np.float32)
    # Output pixel x is upsampled pixel x + step, which interpolates samples
    # floor((x + step + 0.5) / step - 0.5) and the next one.
    ny, nx = values.shape[:2]
    j0 = max(int(np.floor((x0 + step + 0.5) / step - 0.5)) - 1, 0)
    j1 = min(int(np.floor((x1 - 1 + step + 0.5) / step - 0.5)) + 2, nx - 1)
    i0 = max(int(np.floor((y0 + step + 0.5) / step - 0.5)) - 1, 0)
    i1 = min(int(np.floor((y1 - 1 + step + 0.5) / step - 0.5)) + 2, ny - 1)
    block = np.ascontiguousarray(values[i0: i1 + 1, j0: j1 + 1].astype(np.float32))
    big = cv2.resize(block, (block.shape[1] * step, block.shape[0] * step),
                     interpolation=cv2.INTER_LINEAR)
    left, top = x0 + step - j0 * step, y0 + step - i0 * step
    return big[top: top + (y1 - y0), left: left + (x1 - x0)]
