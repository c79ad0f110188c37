"""Gaze in reenactment: where the irises look, from the driver's iris points or the source's.

The face mesh's iris points move with the eyes, but as raw offsets in face units a driver's
gaze would move the source's irises by the driver's eye size, not the source's, and during a
blink the iris points are guesses. Gaze is therefore measured in *eye coordinates*: the iris
centre relative to the line between the eye's corners, in eye widths (along the line and across
it), which means the same on any eye.

- ``driver``: the source's irises take the driver's change of gaze since its reference frame
  (the mean of both eyes: eyes move together), added to the source's own gaze. Frames where
  the driver's eyes are too nearly closed for the iris points to be trusted hold the last
  trusted gaze.
- ``source``: the irises keep the source's own gaze, riding with the eyes and the head.

Either way the iris centre is kept inside the eye opening: along the eye, far enough from the
corners for the iris to fit; across, between the lids (a closing lid covers the iris rather
than pushing it out of the eye). Only the iris points move: the warp mesh has the visible iris
points as vertices, so the iris slides over the white. [ours]
"""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.choices import GAZE_MODES, GazeMode
from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.errors import InputError

#: Eye opening (lid gap at the iris over eye width) below which iris points are not trusted.
MIN_TRUSTED_OPENING = 0.12
#: The most the gaze may change from the source's, in eye widths (about 35 degrees of turn).
_MAX_SHIFT = 0.22
_LID_MARGIN = 0.1  # of the lid gap, kept between the iris centre and each lid


def _eye_axes(face: np.ndarray, corners: tuple[int, int]) -> tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray, float]:
    """(middle, along, across, width) of an eye in the face frame's x-y plane: ``along``
    points towards the subject's left for both eyes (so both eyes looking one way read
    alike), ``across`` down the face."""
    outer, inner = face[corners[0], :2], face[corners[1], :2]
    width = max(float(np.linalg.norm(inner - outer)), 1e-6)
    along = (inner - outer) / width
    if along[0] < 0:
        along = -along
    return (outer + inner) / 2, along, np.array([-along[1], along[0]]), width


def eye_gaze(face: np.ndarray) -> np.ndarray:
    """(2, 2) gaze of the right and left eye: the iris centre relative to the middle of the
    corner line, in eye widths along the eye (towards the subject's left) and across it
    (down)."""
    gaze = np.zeros((2, 2))
    for index, (corners, _, _, iris) in enumerate(L.EYES):
        middle, along, across, width = _eye_axes(face, corners)
        offset = face[iris[0], :2] - middle
        gaze[index] = (offset @ along / width, offset @ across / width)
    return gaze


def eye_openings(face: np.ndarray) -> np.ndarray:
    """(2,) lid gap at each iris centre over the eye width."""
    openings = np.zeros(2)
    for index, (corners, upper, lower, iris) in enumerate(L.EYES):
        _, _, _, width = _eye_axes(face, corners)
        u = face[[iris[0]], 0]
        top = L.polyline_at(face[list(upper), 0], face[list(upper), 1], u)
        bottom = L.polyline_at(face[list(lower), 0], face[list(lower), 1], u)
        openings[index] = float(bottom[0] - top[0]) / width
    return openings


class GazeTransfer:
    """Sets the source's iris points in each target face (source face frame) for one video."""

    def __init__(self, source_face: np.ndarray, reference_face: np.ndarray,
                 mode: GazeMode = "driver",
                 visible_iris: tuple[list[int], ...] = ([], [])) -> None:
        """``visible_iris``: per eye (right first), the iris points the source shows between
        its lids (``AUGeometry.visible_iris``); they stay between the lids."""
        if mode not in GAZE_MODES:
            raise InputError(f"--gaze must be one of {', '.join(GAZE_MODES)}, not '{mode}'")
        self.mode = mode
        self.visible_iris = visible_iris
        self.source_gaze = eye_gaze(source_face)
        self._iris_shapes = [source_face[list(iris), :2] - source_face[iris[0], :2]
                             for *_, iris in L.EYES]
        self._reference: np.ndarray | None = None
        self._set_reference(reference_face)
        self.shift = np.zeros(2)  # the gaze change applied now (eye widths)
        self.untrusted_frames = 0

    def _set_reference(self, face: np.ndarray) -> np.ndarray | None:
        """The driver's reference gaze, from this face if its irises can be trusted."""
        if eye_openings(face).min() >= MIN_TRUSTED_OPENING:
            self._reference = eye_gaze(face).mean(axis=0)
        return self._reference

    def update(self, driver_face: np.ndarray) -> None:
        """Take this driver frame's gaze (driver face frame points) if its irises can be
        trusted; otherwise the last trusted gaze holds."""
        if self.mode != "driver":
            return
        if eye_openings(driver_face).min() < MIN_TRUSTED_OPENING:
            self.untrusted_frames += 1
            return
        # A reference frame that blinked: the first frame with open eyes is the reference.
        reference = self._reference if self._reference is not None else self._set_reference(
            driver_face)
        if reference is None:
            return
        shift = eye_gaze(driver_face).mean(axis=0) - reference
        self.shift = np.clip(shift, -_MAX_SHIFT, _MAX_SHIFT)

    def apply(self, face: np.ndarray) -> np.ndarray:
        """``face`` (478, 3 source face frame) with each iris placed at the gaze, inside its
        eye opening."""
        out = face.copy()
        for index, (corners, upper, lower, iris) in enumerate(L.EYES):
            middle, along, across, width = _eye_axes(face, corners)
            radius = float(np.max(np.linalg.norm(self._iris_shapes[index], axis=1)))
            gaze = self.source_gaze[index] + self.shift
            # Along the eye the iris stays clear of the corners (by 0.8 of its radius).
            reach = max(0.5 - 0.8 * radius / width, 0.05)
            gaze[0] = np.clip(gaze[0], -reach, reach)
            centre = middle + width * (gaze[0] * along + gaze[1] * across)
            top = float(L.polyline_at(face[list(upper), 0], face[list(upper), 1],
                                      np.array([centre[0]]))[0])
            bottom = float(L.polyline_at(face[list(lower), 0], face[list(lower), 1],
                                         np.array([centre[0]]))[0])
            margin = _LID_MARGIN * max(bottom - top, 0.0)
            centre[1] = np.clip(centre[1], top + margin, max(bottom - margin, top + margin))
            # The source's own iris shape (the driver's iris points are its eye, not ours).
            out[list(iris), :2] = centre + self._iris_shapes[index]
            shown = list(self.visible_iris[index])
            if shown:
                u = out[shown, 0]
                tops = L.polyline_at(face[list(upper), 0], face[list(upper), 1], u)
                bottoms = L.polyline_at(face[list(lower), 0], face[list(lower), 1], u)
                margins = _LID_MARGIN * np.maximum(bottoms - tops, 0.0)
                out[shown, 1] = np.clip(out[shown, 1], tops + margins,
                                        np.maximum(bottoms - margins, tops + margins))
        return out
