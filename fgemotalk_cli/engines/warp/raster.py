"""Rasterise the warp mesh's piecewise-affine backward map on a grid of samples.

Each grid sample takes the affine map of the topmost triangle covering it (later triangles in
the drawing order lie on top); samples no triangle covers map to themselves. Coverage is
OpenCV's ``fillConvexPoly`` with 4 fractional bits and 8-connected edges, which marks every
sample an edge passes through, so shared edges are covered by both triangles and slivers still
mark the samples they cross (the affines are built for that, see ``render._affines``).

Why one ``fillConvexPoly`` call per triangle and not one vectorised numpy pass: a numpy
rasteriser (every triangle tested against the samples of its bounding box, the topmost cover
found by a scatter-max) measured 10 to 50 times slower here (20-100 ms a frame against 2 ms
for about a thousand calls) and could not reproduce OpenCV's edge rule exactly. The calls
cost about 2 us each; the frame's other work (remap, resize, blending) releases the GIL, so
two render workers keep both cores busy (:mod:`fgemotalk_cli.engines.warp.engine`).
"""

from __future__ import annotations

from collections import deque
from itertools import repeat

import numpy as np

#: Corners are passed to OpenCV in fixed point with this many fractional bits (1/16 sample).
FIXED_POINT_BITS = 4

_IDENTITY_AFFINE = np.array([[1, 0, 0, 0, 1, 0]], np.float32)


def topmost_triangles(corners: np.ndarray, order: np.ndarray,
                      shape: tuple[int, int]) -> np.ndarray:
    """(ny, nx) int32: for each grid sample the index of the last triangle in ``order`` that
    covers it, or ``len(corners)`` where none does. ``corners`` (T, 3, 2) are in sample units
    (sample (i, j) sits at x = j, y = i)."""
    import cv2

    ids = np.full(shape, len(corners), np.int32)
    order = np.asarray(order)
    # Only the triangles drawn are put in fixed point (a detail box draws a few dozen), their
    # views taken in one call, not one Python index per triangle, and the calls made by
    # ``map`` rather than a Python loop: it runs about a thousand times a frame, and the
    # loop's own bytecode cost a third as much as the fills.
    fixed = np.round(corners[order] * (1 << FIXED_POINT_BITS)).astype(np.int32)
    count = len(order)
    deque(map(cv2.fillConvexPoly, repeat(ids, count), list(fixed), order.tolist(),
              repeat(cv2.LINE_8, count), repeat(FIXED_POINT_BITS, count)), maxlen=0)
    return ids


def sample_affine_map(ids: np.ndarray, affines: np.ndarray, x_first: float, y_first: float,
                      step: float) -> np.ndarray:
    """(ny, nx, 2) float32 source coordinates: each sample's triangle's affine (``affines``
    (T, 6) row-major 2x3; index T is the identity) applied to the sample's own position, the
    first sample at (``x_first``, ``y_first``) pixels and ``step`` pixels apart."""
    table = np.concatenate([affines, _IDENTITY_AFFINE]).T.copy()  # (6, T + 1)
    # One contiguous plane per coefficient (a gather along the last axis would leave six
    # strided views, which the arithmetic below walks about three times slower).
    a0, a1, a2, a3, a4, a5 = np.take(table, ids, axis=1)
    shape = ids.shape
    xs = (x_first + np.arange(shape[1], dtype=np.float32) * step)[None, :]
    ys = (y_first + np.arange(shape[0], dtype=np.float32) * step)[:, None]
    source_x = a0 * xs
    source_x += a1 * ys
    source_x += a2
    source_y = a3 * xs
    source_y += a4 * ys
    source_y += a5
    out = np.empty((*shape, 2), np.float32)
    out[..., 0] = source_x
    out[..., 1] = source_y
    return out


def rasterise_map(corners: np.ndarray, affines: np.ndarray, order: np.ndarray,
                  shape: tuple[int, int], x_first: float, y_first: float,
                  step: float) -> tuple[np.ndarray, np.ndarray]:
    """The backward map over the grid and which samples a triangle covered (the rest map to
    themselves); see :func:`topmost_triangles` and :func:`sample_affine_map`."""
    ids = topmost_triangles(corners, order, shape)
    return sample_affine_map(ids, affines, x_first, y_first, step), ids != len(affines)
