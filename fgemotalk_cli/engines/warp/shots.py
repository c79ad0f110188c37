"""Editing a video frame by frame: prepare the face once per shot, not once per frame.

``edit-au`` on a video warps every frame as its own source. A full
:func:`~fgemotalk_cli.engines.warp.render.prepare_source` (face regions, AU and speech fields,
mouth and lid colours) costs about four times the warp itself, and within one shot none of it
changes but the pose, the expression and the openings. :class:`ShotSources` keeps the shot's
AU geometry (its fields are face-unit displacements, applied to each frame's own face as in
:meth:`~fgemotalk_cli.engines.warp.au_geometry.AUGeometry.offsets` with ``base``) and colours,
and per frame rebuilds only what follows the landmarks: the face frame (pose), the warp mesh,
the mouth and lid openings. A cut (the face jumps, or the picture changes wholesale) or a frame
without a face starts a new shot.

Where the frames render in worker processes, a frame travels as a :class:`ShotFrame`: the shot's
source (which each worker keeps, sent once per shot) and the frame's own pixels and points, and
the worker builds the frame's source itself (:meth:`ShotFrame.source`). Built in the job's
process, every frame's source (its copy of the shot's geometry included, ~0.7 MB at 256 px)
crossed the pipe, and the job's process, which also tracks the face, ran short of time first.

A shot's AU calibration (a few tenths of a second of renders read back) may run on a thread of
its own (``calibrations``): the frames after the shot's first are tracked meanwhile, and hold
the shot as a future until their render needs it (:meth:`ShotFrame.shot_source`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.mesh import build_warp_mesh
from fgemotalk_cli.engines.warp.mouth import opening
from fgemotalk_cli.engines.warp.render import WarpSource, prepare_source, working_resolution

#: A face whose landmarks moved more than this (median, in inter-ocular distances) from one
#: frame to the next, or whose size changed by more than this share, is in a new shot.
CUT_MOVEMENT_IOD = 0.35
CUT_SCALE_CHANGE = 0.2
#: Mean absolute change of a 24x24 thumbnail (0..255) above which the picture was cut.
CUT_THUMBNAIL_CHANGE = 28.0
_THUMBNAIL = (24, 24)


@dataclass(frozen=True)
class ShotFrame:
    """One frame of a shot: the shot's source (or its future, while the shot calibrates),
    and this frame's pixels and landmarks (None: the frame is the shot's first, whose source
    the shot's is)."""

    shot: WarpSource | Future[WarpSource]
    image: np.ndarray | None = None
    points: np.ndarray | None = None

    def shot_source(self) -> WarpSource:
        """The shot's source, waiting for its calibration if that still runs."""
        return self.shot.result() if isinstance(self.shot, Future) else self.shot

    def source(self) -> WarpSource:
        if self.image is None or self.points is None:
            return self.shot_source()
        return moved_source(self.shot_source(), self.image, self.points)


class ShotSources:
    """The warp source of each frame of a video, prepared once per shot (see module doc)."""

    def __init__(self, calibrate: Callable[[WarpSource], WarpSource] | None = None,
                 calibrations: Executor | None = None) -> None:
        #: Applied to each shot's first source (its AU calibration, :meth:`~fgemotalk_cli.
        #: engines.warp.engine.WarpEngine.calibrated_shot`): the shot's frames share it.
        self._calibrate = calibrate
        #: Where it runs (one thread: shots calibrate in order, one at a time); None: here.
        self._calibrations = calibrations
        self._shot: WarpSource | Future[WarpSource] | None = None
        self._last_points: np.ndarray | None = None
        self._last_iod = 0.0
        self._last_thumbnail: np.ndarray | None = None
        self.shots = 0  # how many shots were prepared (for reports and tests)

    def no_face(self) -> None:
        """A frame without a face: the next face starts a new shot."""
        self._shot = None

    def source_for(self, image: np.ndarray, landmarks: object) -> WarpSource:
        return self.frame_for(image, landmarks).source()

    def frame_for(self, image: np.ndarray, landmarks: object) -> ShotFrame:
        """This frame within its shot (a new shot at a cut: prepared, calibrated)."""
        points = L.as_points(landmarks)
        iod_px = L.face_frame(points).iod_px
        thumbnail = _thumbnail(image)
        if self._shot is None or self._is_cut(points, iod_px, thumbnail):
            prepared = prepare_source(image, landmarks)
            if self._calibrate is None:
                self._shot = prepared
            elif self._calibrations is None:
                self._shot = self._calibrate(prepared)
            else:
                self._shot = self._calibrations.submit(self._calibrate, prepared)
            self.shots += 1
            frame = ShotFrame(self._shot)
        else:
            frame = ShotFrame(self._shot, image, points)
        self._last_points, self._last_iod, self._last_thumbnail = points, iod_px, thumbnail
        return frame

    def _is_cut(self, points: np.ndarray, iod_px: float, thumbnail: np.ndarray) -> bool:
        assert self._last_points is not None and self._last_thumbnail is not None
        reference = max(self._last_iod, 1e-6)
        moved = float(np.median(np.linalg.norm(points[:, :2] - self._last_points[:, :2],
                                               axis=1))) / reference
        rescaled = abs(iod_px - self._last_iod) / reference
        changed = float(np.abs(thumbnail - self._last_thumbnail).mean())
        return (moved > CUT_MOVEMENT_IOD or rescaled > CUT_SCALE_CHANGE
                or changed > CUT_THUMBNAIL_CHANGE)



def moved_source(shot: WarpSource, full_image: np.ndarray, full_points: np.ndarray,
                 ) -> WarpSource:
    """The shot's source with this frame's pixels, landmarks, pose and openings."""
    image, points, scale = working_resolution(np.ascontiguousarray(full_image), full_points)
    frame = L.face_frame(full_points if scale == 1.0 else points)
    # The shot's fields and guards, this frame's face and pose (what the per-frame warp
    # and `offsets` read); the copy is shallow, the fields are shared and never written.
    geometry = copy.copy(shot.geometry)
    geometry.face = frame.to_face(points)
    geometry.frame = frame
    xy = points[:, :2]
    return WarpSource(
        image=np.ascontiguousarray(image), points=points, geometry=geometry,
        mesh=build_warp_mesh(points, shot.geometry.visible_iris), map_step=shot.map_step,
        mouth_style=dataclasses.replace(shot.mouth_style, source_opening=opening(xy)),
        lid_style=shot.lid_style.with_openings_of(xy),
        full_image=np.ascontiguousarray(full_image), scale=scale,
        # Glasses stay off: a shot's split frame belongs to its first frame's pixels.
        # The full-strength motions and the light belong to the shot; the rest face and
        # depth are this frame's.
        shading=None if shot.shading is None else dataclasses.replace(
            shot.shading, face=geometry.face, depth=np.asarray(points[:, 2], np.float64)),
    )


def _thumbnail(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(image, _THUMBNAIL, interpolation=cv2.INTER_AREA).astype(np.float32)
