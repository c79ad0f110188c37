"""The face's outline as a silhouette: the skin a head turn uncovers behind it.

On a face turned a little away, MediaPipe's face oval (``layout.FACE_OVAL``) on the far side
is not the outermost skin: the cheek points next to it project just beyond it, and the
triangles between them and the oval face away from the camera (they are skin round the
corner, which the photo does not show). A 3-D head turn that brings that side towards the
camera moves the oval (deep in the head) out faster than those points, turns the triangles to
face the camera, and each then shows its source sliver mirrored: a thin dark line (the cheek's
edge shading, twice) down the outline, with cheek skin beyond it.

Here the gap that opens (how far the points that lay beyond the oval went back inside it) is
closed: those points keep their place beyond the oval, and the points inside it move out by a
share of the gap that fades over :data:`_FADE_IOD` (and near the eyes and lips), never past
their own source distance to the oval. The folded skin stays behind the outline and the
uncovered width becomes a smooth stretch of the cheek's last strip. Where nothing folds, or
on the side turning away (where the cheek covers the outline, drawn in depth order), the 3-D
turn is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L

# Points further inside the oval than this (IODs, in the source) keep their own 3-D motion;
# from there to the oval they take over more and more of the oval's.
_FADE_IOD = 0.3
# Nor do the contours that carry the expression (lids, eye corners, lips): on a face turned
# away an eye corner can lie within the fade, and moving it alone would reshape the eye. The
# skin near them fades out over this distance (IODs).
_CONTOUR_CLEARANCE_IOD = 0.2
# A gap under this (IODs) is no gap: the rigid fit of an AU edit's target moves the head by a
# hair (the ear points move a little with the brows), and a sub-pixel sliver shows no seam.
_TOLERANCE_IOD = 0.003


@dataclass(frozen=True)
class Silhouette:
    """The landmarks near or beyond the face oval, each with its place on the oval."""

    points: np.ndarray  # (K,) landmark indices
    segments: np.ndarray  # (K,) index into FACE_OVAL of the first point of its nearest edge
    along: np.ndarray  # (K,) position along that edge, 0..1
    depths_px: np.ndarray  # (K,) source distance inside the oval along its normal (< 0 beyond)
    weights: np.ndarray  # (K,) how much of the uncovered width each point takes up, 0..1
    edge_lengths_px: np.ndarray  # (36,) the source oval's edge lengths
    orientation: float  # +1 or -1: which side of the oval's edges is inside
    beyond: np.ndarray  # (B,) positions in ``points`` of those beyond the oval in the source
    # (36, B) bool: which of those lie on an edge at each oval point (the edge before or after)
    gap_members: np.ndarray
    tolerance_px: float  # how much deeper a point must go before it counts (_TOLERANCE_IOD)

    def correction(self, turned: np.ndarray) -> np.ndarray:
        """(478, 2) shifts of the rigidly moved landmarks ``turned`` (478, 2) that keep the
        points near the oval at their source distance inside it (scaled with the oval) where
        the motion uncovers skin there: zero for a still head, a shift, a zoom or a roll."""
        shift = np.zeros((len(turned), 2))
        if not len(self.beyond):
            return shift
        oval = _OvalFrame(turned, self.orientation)
        # The gap the turn opens behind the outline: how far the points that lay beyond the
        # oval went back inside it, at each oval point (the most of the points beside it).
        # Most frames open none (no turn, or one away from the fold): nothing more to do.
        beyond_deeper = self._deeper(oval, turned, self.beyond)[0]
        if not beyond_deeper.any():
            return shift
        gaps = np.where(self.gap_members, beyond_deeper, 0.0).max(axis=1)
        every = slice(None)
        deeper, normals = self._deeper(oval, turned, every)
        first, second = gaps[self.segments], gaps[(self.segments + 1) % len(gaps)]
        gap = first + self.along * (second - first)
        # Each point moves out by its share of the gap, never past its source distance
        # inside the oval: where nothing folds (no gap) a turn widens the skin near the
        # outline as the 3-D turn says, and only the folded skin's width is spread.
        moved = np.minimum(self.weights * gap, deeper)
        shift[self.points] = -moved[:, None] * normals
        return shift

    def _deeper(self, oval: _OvalFrame, xy: np.ndarray, which: np.ndarray | slice,
                ) -> tuple[np.ndarray, np.ndarray]:
        """How much deeper inside the oval than in the source (scaled with the oval) the
        points ``which`` went (less :attr:`tolerance_px`), and the oval's inward normals at
        their places."""
        segments = self.segments[which]
        depths, normals = oval.depths(xy[self.points[which]], segments, self.along[which])
        deeper = depths - self.depths_px[which] * (oval.lengths[segments]
                                                   / self.edge_lengths_px[segments])
        return np.maximum(deeper - self.tolerance_px, 0.0), normals


class _OvalFrame:
    """The face oval of some landmarks: its edges and smoothly turning inward normals."""

    def __init__(self, xy: np.ndarray, orientation: float) -> None:
        self.start = xy[list(L.FACE_OVAL)]
        self.edges = np.roll(self.start, -1, axis=0) - self.start
        self.lengths = np.maximum(np.sqrt((self.edges * self.edges).sum(axis=1)), 1e-9)
        normals = orientation * np.stack([-self.edges[:, 1], self.edges[:, 0]], axis=1)
        normals /= self.lengths[:, None]
        # At each oval point the mean of its two edges' normals, interpolated along each
        # edge: the normal turns smoothly round the oval.
        at_points = normals + np.roll(normals, 1, axis=0)
        self.at_points = at_points / np.maximum(
            np.sqrt((at_points * at_points).sum(axis=1)), 1e-9)[:, None]

    def depths(self, points: np.ndarray, segments: np.ndarray, along: np.ndarray,
               ) -> tuple[np.ndarray, np.ndarray]:
        """How far ``points`` lie inside the oval, each measured from its place on it (edge
        ``segments``, fraction ``along``) along the inward normal there, and those normals."""
        t = along[:, None]
        following = (segments + 1) % len(self.start)
        normal = (1.0 - t) * self.at_points[segments] + t * self.at_points[following]
        normal /= np.maximum(np.sqrt((normal * normal).sum(axis=1)), 1e-9)[:, None]
        on_oval = self.start[segments] + t * self.edges[segments]
        return ((points - on_oval) * normal).sum(axis=1), normal


def silhouette_of(xy: np.ndarray, iod_px: float, contours: np.ndarray) -> Silhouette:
    """The :class:`Silhouette` of a source face's (478, 2) landmarks; ``contours`` (478,)
    bool marks the points that keep their own motion (lids, eye corners, lips, irises)."""
    xy = np.asarray(xy, np.float64)
    oval = np.array(L.FACE_OVAL)
    start = xy[oval]
    edge = np.roll(start, -1, axis=0) - start
    squared = np.maximum((edge * edge).sum(axis=1), 1e-12)
    doubled_area = float((start[:, 0] * np.roll(start[:, 1], -1)
                          - np.roll(start[:, 0], -1) * start[:, 1]).sum())
    orientation = 1.0 if doubled_area > 0 else -1.0
    fade_px = _FADE_IOD * iod_px
    clearance_px = _CONTOUR_CLEARANCE_IOD * iod_px
    kept = xy[np.flatnonzero(contours[: len(xy)])]
    candidates = np.setdiff1d(np.flatnonzero(~contours[: L.MESH_POINTS]), oval)
    # Every candidate against every oval edge at once (a few hundred by 36): its nearest
    # place on each edge, the nearest edge, and its signed distance to the outline. x and y
    # apart: numpy's loops over a last axis of two would cost ten times as much.
    x, y = xy[candidates, 0, None], xy[candidates, 1, None]
    offset_x, offset_y = x - start[:, 0], y - start[:, 1]
    t_all = np.clip((offset_x * edge[:, 0] + offset_y * edge[:, 1]) / squared, 0.0, 1.0)
    gap_x, gap_y = offset_x - t_all * edge[:, 0], offset_y - t_all * edge[:, 1]
    gap_squared = gap_x * gap_x + gap_y * gap_y
    nearest = gap_squared.argmin(axis=1)
    rows = np.arange(len(candidates))
    outline_px = np.sqrt(gap_squared[rows, nearest])
    inside = np.where(_inside_polygon(x, y, start), outline_px, -outline_px)
    near = inside < fade_px
    point_array, segment_array = candidates[near].astype(int), nearest[near].astype(int)
    along_array = t_all[rows[near], nearest[near]].astype(np.float64)
    if len(kept):
        to_kept_x = xy[point_array, 0, None] - kept[:, 0]
        to_kept_y = xy[point_array, 1, None] - kept[:, 1]
        clear = np.sqrt((to_kept_x * to_kept_x + to_kept_y * to_kept_y).min(axis=1))
    else:
        clear = np.full(len(point_array), np.inf)
    weights = ((1.0 - L.smoothstep(0.0, fade_px, np.maximum(inside[near], 0.0)))
               * L.smoothstep(0.0, clearance_px, clear))
    depths, _ = _OvalFrame(xy, orientation).depths(xy[point_array], segment_array, along_array)
    beyond = np.flatnonzero(depths <= 0.0)
    count = len(oval)
    gap_members = np.zeros((count, len(beyond)), bool)
    gap_members[segment_array[beyond], np.arange(len(beyond))] = True
    gap_members[(segment_array[beyond] + 1) % count, np.arange(len(beyond))] = True
    edge_lengths = np.maximum(np.sqrt(squared), 1e-9)
    return Silhouette(point_array, segment_array, along_array, depths,
                      np.asarray(weights, np.float64), edge_lengths, orientation, beyond,
                      gap_members, _TOLERANCE_IOD * iod_px)


def _inside_polygon(x: np.ndarray, y: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(N,) whether the points (``x``, ``y``: (N, 1)) lie inside ``polygon`` (M, 2), by the
    parity of the polygon's edges crossed by a ray from each point towards +x."""
    start_x, start_y = polygon[:, 0], polygon[:, 1]
    end_x, end_y = np.roll(start_x, -1), np.roll(start_y, -1)
    straddles = (start_y > y) != (end_y > y)
    rise = np.where(straddles, end_y - start_y, 1.0)
    crossing_x = start_x + (y - start_y) * (end_x - start_x) / rise
    return (straddles & (x < crossing_x)).sum(axis=1) % 2 == 1
