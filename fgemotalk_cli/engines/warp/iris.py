"""The iris layer: the source's own irises drawn where the gaze puts them, inside the lids.

Moving the iris points of the warp mesh would drag the white with them and squeeze the iris
into a crescent against the eye corner (the mesh has no sclera to uncover). So with the
driver's gaze (:mod:`.gaze`) the warp keeps each iris where the *source* looks, and this layer
then repaints the eye opening: the source's eye with its iris filled in by the surrounding
white and lid shadow (an inpainted plate, made once per source), carried onto the target eye
by the affine of its corners and lids, and over it the source's iris disc at the gaze
position. The target's lid contours clip both, so the lids cover the iris as it moves and a
closing eye hides it; the lid margins and lashes outside the opening stay the warp's.
Painted on the output frame at full resolution, after the warp. [ours]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.render import WarpSource

_MIN_MOVE_PX = 0.25  # iris moves smaller than this are left to the warp
_BOX_MARGIN = 0.35  # of the eye width around the eye's corners and lids


def _opening(points: np.ndarray, eye: int) -> np.ndarray:
    """(n, 2) eye-opening polygon: outer corner, upper lid, inner corner, lower lid."""
    return points[L.eye_opening(eye), :2]


def _eye_anchor_points(points: np.ndarray, eye: int) -> np.ndarray:
    (outer, inner), upper, lower, _ = L.EYES[eye]
    return points[[outer, inner, *upper, *lower], :2]


def _to_full(points: np.ndarray, scale: float) -> np.ndarray:
    return points[:, :2] if scale == 1.0 else (points[:, :2] + 0.5) * scale - 0.5


@dataclass(frozen=True)
class EyePlate:
    """One source eye at full resolution: its box, the eye without the iris, the iris."""

    origin: np.ndarray  # (2,) box top left in the full image
    plate: np.ndarray  # (h, w, 3) float32: the eye region, iris inpainted away
    iris: np.ndarray  # (h, w, 3) float32: the eye region as photographed
    iris_alpha: np.ndarray  # (h, w) float32: the visible iris disc (inside the source lids)
    anchors: np.ndarray  # (n, 2) source corners and lid points, full pixels
    centre: np.ndarray  # (2,) source iris centre, full pixels


@dataclass(frozen=True)
class IrisLayer:
    """Both eyes of a source, ready to show any gaze."""

    eyes: tuple[EyePlate | None, EyePlate | None]
    source_points: np.ndarray  # (478, 2) source landmarks, working pixels

    @classmethod
    def from_source(cls, source: WarpSource) -> IrisLayer:
        import cv2

        image = source.full_texture
        points = _to_full(source.points, source.scale)
        eyes: list[EyePlate | None] = []
        for eye in range(2):
            iris = list(L.EYES[eye][3])
            centre = points[iris[0]]
            radius = float(np.mean(np.linalg.norm(points[iris[1:]] - centre, axis=1)))
            opening = _opening(points, eye)
            width = float(np.linalg.norm(opening[0] - opening[len(opening) // 2]))
            if radius < 1.5 or width < 6:
                eyes.append(None)
                continue
            low = np.floor(opening.min(0) - _BOX_MARGIN * width).astype(int)
            high = np.ceil(opening.max(0) + _BOX_MARGIN * width).astype(int)
            low = np.maximum(low, 0)
            high = np.minimum(high, (image.shape[1], image.shape[0]))
            crop = np.ascontiguousarray(image[low[1]: high[1], low[0]: high[0]])
            box_shape = crop.shape[:2]
            inside = np.zeros(box_shape, np.uint8)
            cv2.fillPoly(inside, [np.round(opening - low).astype(np.int32)], (1,))
            disc = np.zeros(box_shape, np.uint8)
            cv2.circle(disc, tuple(int(v) for v in np.round(centre - low)),
                       int(np.ceil(radius * 1.1)), (1,), -1)
            # The plate: the iris (and its dark rim) filled from the white and lids around it.
            hole = cv2.dilate(disc & inside, np.ones((3, 3), np.uint8))
            plate = cv2.inpaint(crop, hole, max(2.0, 0.3 * radius), cv2.INPAINT_TELEA)
            alpha = cv2.GaussianBlur((disc & inside).astype(np.float32), (0, 0), 0.6)
            eyes.append(EyePlate(origin=low.astype(np.float64), plate=plate.astype(np.float32),
                                 iris=crop.astype(np.float32), iris_alpha=alpha,
                                 anchors=_eye_anchor_points(points, eye), centre=centre))
        return cls(eyes=(eyes[0], eyes[1]), source_points=source.points[:, :2].copy())

    def warp_target(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the target with each iris back where the source looks, relative to the target's
        eye; the requested iris centres), in working pixels."""
        out = np.asarray(target, np.float64).copy()
        requested = np.zeros((2, 2))
        for eye in range(2):
            (outer, inner), _, _, iris = L.EYES[eye]
            requested[eye] = out[iris[0], :2]
            if self.eyes[eye] is None:  # too small to repaint: the warp moves this iris
                continue
            gaze = _in_eye(self.source_points[iris[0]], _axes(self.source_points[[outer, inner]]))
            home = _from_eye(gaze, _axes(out[[outer, inner], :2]))
            out[list(iris), :2] += home - requested[eye]
        return out, requested

    def paint(self, frame: np.ndarray, target: np.ndarray, requested: np.ndarray,
              scale: float) -> None:
        """Each iris drawn at its ``requested`` centre (working pixels) into the output
        ``frame`` (full resolution, in place), inside the target's eye openings."""
        import cv2

        full = _to_full(target, scale)
        wanted = _to_full(requested, scale)
        for eye, plate in enumerate(self.eyes):
            if plate is None:
                continue
            anchors = _eye_anchor_points(full, eye)
            matrix, _ = cv2.estimateAffinePartial2D(plate.anchors, anchors)
            if matrix is None:
                continue
            home = matrix[:, :2] @ plate.centre + matrix[:, 2]
            if np.linalg.norm(wanted[eye] - home) < _MIN_MOVE_PX:
                continue
            opening = _opening(full, eye)
            low = np.maximum(np.floor(opening.min(0)).astype(int) - 2, 0)
            high = np.minimum(np.ceil(opening.max(0)).astype(int) + 3,
                              (frame.shape[1], frame.shape[0]))
            if np.any(high - low < 3):
                continue
            size = (int(high[0] - low[0]), int(high[1] - low[1]))
            # Source box pixels -> target box pixels, for the plate and the moved iris.
            to_box = np.asarray(matrix, np.float64).copy()
            to_box[:, 2] += to_box[:, :2] @ plate.origin - low
            eye_plate = cv2.warpAffine(plate.plate, to_box, size, flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_REPLICATE)
            moved = to_box.copy()
            moved[:, 2] += wanted[eye] - home
            iris = cv2.warpAffine(plate.iris, moved, size, flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
            alpha = cv2.warpAffine(plate.iris_alpha, moved, size, flags=cv2.INTER_LINEAR)
            composite = eye_plate + (iris - eye_plate) * alpha[..., None]
            mask = np.zeros((size[1], size[0]), np.uint8)
            cv2.fillPoly(mask, [np.round((opening - low) * 8).astype(np.int32)], (255,),
                         cv2.LINE_AA, 3)
            # Inside the opening only, a pixel short of the lid margins (lashes stay).
            inside = cv2.erode(mask, np.ones((3, 3), np.uint8)).astype(np.float32) / 255.0
            weight = cv2.GaussianBlur(inside, (0, 0), 0.7)[..., None]
            box = frame[low[1]: high[1], low[0]: high[0]].astype(np.float32)
            frame[low[1]: high[1], low[0]: high[0]] = np.clip(
                box + weight * (composite - box) + 0.5, 0, 255).astype(np.uint8)


def _axes(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(middle, along, across, width) of an eye from its two corners (image pixels)."""
    width = max(float(np.linalg.norm(corners[1] - corners[0])), 1e-6)
    along = (corners[1] - corners[0]) / width
    return (corners[0] + corners[1]) / 2, along, np.array([-along[1], along[0]]), width


def _in_eye(point: np.ndarray, axes: tuple[np.ndarray, np.ndarray, np.ndarray, float]
            ) -> np.ndarray:
    middle, along, across, width = axes
    return np.array([(point - middle) @ along, (point - middle) @ across]) / width


def _from_eye(gaze: np.ndarray, axes: tuple[np.ndarray, np.ndarray, np.ndarray, float]
              ) -> np.ndarray:
    middle, along, across, width = axes
    return middle + width * (gaze[0] * along + gaze[1] * across)

