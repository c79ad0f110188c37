"""Motion transfer: a driver video's head motion and expression carried onto the source face.

For each driver frame, relative to the driver's reference (neutral) frame chosen by the user:
- head pose: the rotation ``R_driver @ R_reference^T``, the eye midpoint's shift in reference
  inter-ocular distances, and the change of scale;
- expression: the landmarks' offsets in the face frame (pose removed, IOD units), so they fit
  a face of any size. Eyelid offsets are rescaled by the ratio of the source's eye opening to
  the reference's, so a driver's blink closes the source's eye exactly.

The source face then gets ``source + expression`` plus the AU edit, placed with the source
pose turned by the driver's relative pose. With ``au_mode="add"`` the requested AU fields are
added on top of whatever the driver does. With ``"replace"`` the requested AUs are set to
absolute values and every other AU stays the driver's: the share of that AU's field the
frame's transferred expression holds (its projection on the field) and the source shows (its
AU read-out, :mod:`fgemotalk_cli.expression.readout`) is taken away before the requested
share is added, so ``--au 12=0`` removes a driver's smile and ``--au 12=4`` holds 4 whatever
the driver does. Eye closures (43/45) cannot be taken away. (Reading each driver frame's AUs
instead was measured worse: a driver's strong smile transfers weaker than it reads, and
removing what it reads over-corrects: `replace 12=4` held 3..5 in 40 % of frames, against
100 % with the projection, bench/au_driver_control.py.)
Frames without a face carry the last motion. Motion is smoothed with the One Euro filter
(:mod:`fgemotalk_cli.faces.smoothing`): expression and pose separately, in face units and radians.

Pose options (as LivePortrait users expect them): ``pose="source"`` keeps the portrait's head
still and takes only the expression; ``pose_scale`` in 0..1 damps the whole head motion
(rotation, shift, zoom). Turns beyond what one photo supports are limited smoothly
(:class:`TurnLimit`): yaw towards :data:`MAX_YAW_DEGREES`, pitch towards
:data:`MAX_PITCH_DEGREES`, and the frames where that happened are counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.choices import POSE_MODES, AUMode, GazeMode, PoseMode
from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.au_fields import JAW_MAX_RADIANS, jaw_field
from fgemotalk_cli.engines.warp.au_geometry import AUGeometry
from fgemotalk_cli.engines.warp.gaze import GazeTransfer
from fgemotalk_cli.errors import InputError
from fgemotalk_cli.faces.landmarks import angles_from_rotation, rotation_from_angles
from fgemotalk_cli.faces.smoothing import OneEuroFilter
from fgemotalk_cli.speech.visemes import MouthShape


@dataclass(frozen=True)
class MotionSmoothing:
    """One Euro settings (min_cutoff in Hz, beta per unit of speed) for the driver motion."""

    expression_min_cutoff: float = 2.0
    expression_beta: float = 8.0  # per IOD/s: lips moving 0.1 IOD/s raise the cutoff 0.8 Hz
    # A head at rest is held steady (2 Hz), a moving one followed closely: the head's motion
    # is large beside landmark noise, and a lagging head misplaces the whole picture.
    pose_min_cutoff: float = 2.0
    pose_beta: float = 20.0  # per rad/s (and per IOD/s for the shift)


#: Relative head turns (yaw) beyond this are limited smoothly: one photo holds little of the
#: far side of a head turned further.
MAX_YAW_DEGREES = 32.0
MAX_PITCH_DEGREES = 25.0


def soft_limit(value: float, limit: float) -> float:
    """``value`` unchanged near 0, bending smoothly towards +-``limit`` (never past it)."""
    knee = 0.75 * limit  # linear up to here, then a tanh shoulder
    if abs(value) <= knee:
        return value
    room = limit - knee
    return float(np.sign(value) * (knee + room * np.tanh((abs(value) - knee) / room)))


@dataclass(frozen=True)
class DriverMotion:
    """One driver frame relative to the reference frame."""

    expression: np.ndarray  # (478, 3) face-unit offsets from the reference expression
    rotation: np.ndarray  # (3, 3) relative head rotation, in image coordinates
    shift: np.ndarray  # (2,) eye-midpoint shift in reference IODs
    scale: float  # driver IOD over reference IOD

    @classmethod
    def still(cls) -> DriverMotion:
        return cls(np.zeros((L.ALL_POINTS, 3)), np.eye(3), np.zeros(2), 1.0)


def driver_motion(reference: L.FaceFrame, reference_face: np.ndarray,
                  landmarks: object) -> DriverMotion:
    """The motion of ``landmarks`` relative to the reference frame (``reference_face`` is the
    reference's landmarks in its own face frame)."""
    points = L.as_points(landmarks)
    frame = L.face_frame(points)
    return DriverMotion(
        expression=frame.to_face(points) - reference_face,
        rotation=frame.rotation @ reference.rotation.T,
        shift=(frame.origin[:2] - reference.origin[:2]) / reference.iod_px,
        scale=frame.iod_px / reference.iod_px,
    )


def eye_openings(face: np.ndarray) -> np.ndarray:
    """Mean lid gap of each eye (subject's right, left) in face units."""
    gaps = [face[list(lower), 1] - face[list(upper), 1]
            for upper, lower in ((L.RIGHT_UPPER_LID, L.RIGHT_LOWER_LID),
                                 (L.LEFT_UPPER_LID, L.LEFT_LOWER_LID))]
    return np.array([max(float(np.mean(gap)), 1e-3) for gap in gaps])


#: Where a head turns about, in the face frame (IODs: sideways, down, away from the camera):
#: behind the eyes at about the ears' depth, a little below them (the top of the neck).
NECK_PIVOT = np.array([0.0, 0.6, 1.3])


def pivot_shift(geometry: AUGeometry, rotation: np.ndarray) -> np.ndarray:
    """(2,) eye-midpoint shift in IODs that makes ``rotation`` (relative, image axes) turn the
    head about its neck (:data:`NECK_PIVOT`) rather than about the eyes: for head turns made
    up from angles (speech gestures, review sheets). A driver's measured shift needs none."""
    pivot = geometry.frame.rotation @ NECK_PIVOT
    return (pivot - rotation @ pivot)[:2]


def place(geometry: AUGeometry, face: np.ndarray, motion: DriverMotion) -> np.ndarray:
    """(478, 3) image points (x, y, depth) of ``face`` (source face frame) with the motion's
    head pose."""
    source = geometry.frame
    origin = source.origin.copy()
    origin[:2] += motion.shift * source.iod_px
    frame = L.FaceFrame(origin=origin, rotation=motion.rotation @ source.rotation,
                        iod_px=source.iod_px * motion.scale)
    return frame.to_image(face)


class MotionTransfer:
    """Per-video state of a reenactment: the reference, the filters and the last motion.

    ``target_points`` is called once per driver frame, in time order.
    """

    def __init__(self, geometry: AUGeometry, reference_landmarks: object,
                 au_mode: AUMode = "add", smoothing: MotionSmoothing | None = MotionSmoothing(),
                 pose: PoseMode = "driver", pose_scale: float = 1.0,
                 gaze: GazeMode = "driver") -> None:
        if au_mode not in ("add", "replace"):
            raise InputError(f"au_mode must be 'add' or 'replace', got {au_mode!r}")
        if pose not in POSE_MODES:
            raise InputError(f"pose must be one of {', '.join(POSE_MODES)}, got {pose!r}")
        if not 0.0 <= pose_scale <= 1.0:
            raise InputError(f"--pose-scale must be within 0..1, got {pose_scale}")
        self.geometry = geometry
        self.au_mode = au_mode
        self.pose = pose
        self.pose_scale = float(pose_scale)
        #: Frames whose head turn was limited, and the largest turn asked for (degrees).
        self.limited_frames = 0
        self.largest_turn_degrees = 0.0
        points = L.as_points(reference_landmarks)
        self.reference = L.face_frame(points)
        self.reference_face = self.reference.to_face(points)
        # Lid offsets scale by this ratio: a driver with narrow eyes closing them fully must
        # close the source's eyes fully too, not part-way or past the lower lid.
        ratio = np.clip(eye_openings(geometry.face) / eye_openings(self.reference_face), 0.4, 2.5)
        self._lid_gain = np.ones(L.ALL_POINTS)
        for eye, gain in zip(geometry.regions.eyes, ratio):
            zone = np.maximum(eye.upper_zone, eye.lower_zone)
            self._lid_gain += (gain - 1.0) * zone
        self.smoothing = smoothing
        self._filters = self._make_filters() if smoothing else None
        self.last_motion = DriverMotion.still()
        self.frames_without_face = 0
        #: The source's own AU read-out: `replace` takes it away before setting a value.
        self.source_aus: dict[int, float] = {}
        #: Where the irises look (engines/warp/gaze.py): the driver's gaze or the source's.
        self.gaze = GazeTransfer(geometry.face, self.reference_face, gaze, geometry.visible_iris)

    def _make_filters(self) -> tuple[OneEuroFilter, OneEuroFilter]:
        s = self.smoothing
        if s is None:
            raise ValueError("filters need MotionSmoothing settings")
        return (OneEuroFilter(s.expression_min_cutoff, s.expression_beta),
                OneEuroFilter(s.pose_min_cutoff, s.pose_beta))

    def motion(self, driver_landmarks: object | None, time_seconds: float) -> DriverMotion:
        """The (smoothed) driver motion at this frame; the previous one when there is no face."""
        if driver_landmarks is None:
            self.frames_without_face += 1
            return self.last_motion
        raw = driver_motion(self.reference, self.reference_face, driver_landmarks)
        if self._filters is not None:
            raw = self._smooth(raw, time_seconds)
        raw = self.apply_pose_options(raw)
        self.last_motion = raw
        return raw

    def apply_pose_options(self, motion: DriverMotion) -> DriverMotion:
        """The head motion as the pose options want it: none, damped, and turns limited."""
        if self.pose == "source":
            still = DriverMotion.still()
            return DriverMotion(motion.expression, still.rotation, still.shift, still.scale)
        import cv2

        rotation, shift, scale = motion.rotation, motion.shift, motion.scale
        if self.pose_scale != 1.0:
            vector = cv2.Rodrigues(rotation)[0] * self.pose_scale
            rotation = cv2.Rodrigues(vector)[0]
            shift = shift * self.pose_scale
            scale = float(scale ** self.pose_scale)
        # Angles about the source head's own axes, which is where the photo runs out.
        axes = self.geometry.frame.rotation
        yaw, pitch, roll = angles_from_rotation(axes.T @ rotation @ axes)
        limited_yaw = soft_limit(yaw, MAX_YAW_DEGREES)
        limited_pitch = soft_limit(pitch, MAX_PITCH_DEGREES)
        self.largest_turn_degrees = max(self.largest_turn_degrees, abs(yaw), abs(pitch))
        if abs(limited_yaw - yaw) > 0.5 or abs(limited_pitch - pitch) > 0.5:
            self.limited_frames += 1
        if (limited_yaw, limited_pitch) != (yaw, pitch):
            rotation = axes @ rotation_from_angles(limited_yaw, limited_pitch, roll) @ axes.T
        return DriverMotion(motion.expression, rotation, shift, scale)

    def _smooth(self, motion: DriverMotion, time_seconds: float) -> DriverMotion:
        import cv2

        if self._filters is None:
            return motion
        expression_filter, pose_filter = self._filters
        rotation_vector = cv2.Rodrigues(motion.rotation)[0].ravel()
        pose = np.concatenate([rotation_vector, motion.shift, [np.log(motion.scale)]])
        expression = expression_filter(motion.expression, time_seconds)
        pose = pose_filter(pose, time_seconds)
        return DriverMotion(expression=expression,
                            rotation=cv2.Rodrigues(pose[:3])[0],
                            shift=pose[3:5], scale=float(np.exp(pose[5])))

    def removed_shares(self, au_intensities: Mapping[int, float],
                       expression: np.ndarray) -> dict[int, float]:
        """Per requested AU, the field share the source face and this frame's transferred
        expression already show: what `replace` takes away before adding the requested value.

        The expression's share is its least-squares projection on the AU's own field (the
        same field the request is rendered with), so what is removed is exactly what the
        transfer put there, whatever the driver's face reads; negative when the driver's
        reference showed more of the AU than this frame. The source's share comes from its
        AU read-out through its calibrated response (its own smile is removed by 12=0 too).
        """
        fields = dict(self.geometry.au_fields)
        fields[26] = jaw_field(self.geometry.regions, JAW_MAX_RADIANS)
        removed = {}
        for au in au_intensities:
            if au not in fields:  # eye closures: an open eye has no field to subtract
                continue
            field_ = fields[au]
            driven = float(np.sum(expression * field_) / max(np.sum(field_ * field_), 1e-12))
            removed[au] = driven + self.geometry.share(au, self.source_aus.get(au, 0.0))
        return removed

    def target_points(self, driver_landmarks: object | None, time_seconds: float,
                      au_intensities: Mapping[int, float] | None = None,
                      mouth: MouthShape | None = None) -> np.ndarray:
        """(478, 3) image points (x, y, depth) of the source for this driver frame and AUs."""
        motion = self.motion(driver_landmarks, time_seconds)
        au_intensities = au_intensities or {}
        expression = motion.expression.copy()
        expression[:, 1] *= self._lid_gain
        base = self.geometry.face + expression
        removed = (self.removed_shares(au_intensities, expression)
                   if self.au_mode == "replace" and au_intensities else None)
        face = base + self.geometry.offsets(au_intensities, mouth, base=base,
                                            removed_shares=removed)
        self.gaze.update(self.reference_face + motion.expression)
        face = self.gaze.apply(face)
        return place(self.geometry, face, motion)
