"""Named parts of the MediaPipe 478-point face mesh and the face's own frame.

Everything the warp engine knows about faces is expressed in the *face frame*: origin midway
between the eye centres, x towards the subject's left eye (image right for a frontal face),
y down the face, z away from the camera, and one unit = the inter-ocular distance (IOD,
between the midpoints of each eye's two corners). In that frame a frontal neutral face looks
the same whatever its size, position or roll in the picture, so displacement fields written
once (in :mod:`fgemotalk_cli.warp.au_geometry`) fit every face and follow its head pose.

The frame is estimated from the landmarks themselves (eye corners, nasion and subnasale, which
expressions barely move) so that source, driver and target frames share one convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.errors import InputError

# Contours ordered from the subject's right (image left) to the subject's left, corners shared.
UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
UPPER_OUTER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LOWER_OUTER_LIP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
MOUTH_CORNERS = (61, 291, 78, 308)

# Eyelid margins from the outer corner to the inner corner; corners listed separately.
RIGHT_EYE_CORNERS = (33, 133)  # subject's right eye: outer, inner
LEFT_EYE_CORNERS = (263, 362)
RIGHT_UPPER_LID = (246, 161, 160, 159, 158, 157, 173)
RIGHT_LOWER_LID = (7, 163, 144, 145, 153, 154, 155)
LEFT_UPPER_LID = (466, 388, 387, 386, 385, 384, 398)
LEFT_LOWER_LID = (249, 390, 373, 374, 380, 381, 382)
RIGHT_IRIS = (468, 469, 470, 471, 472)  # centre first
LEFT_IRIS = (473, 474, 475, 476, 477)

# Brows from the outer end to the inner end.
RIGHT_BROW_LOWER = (46, 53, 52, 65, 55)
RIGHT_BROW_UPPER = (70, 63, 105, 66, 107)
LEFT_BROW_LOWER = (276, 283, 282, 295, 285)
LEFT_BROW_UPPER = (300, 293, 334, 296, 336)

NOSE_TIP = 1
SUBNASALE = 2
NASION = 168
NOSTRIL_WINGS = (98, 327, 64, 294, 129, 358, 48, 278)
CHIN = 152

# Clockwise from the top of the forehead.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)

MESH_POINTS = 468
ALL_POINTS = 478

# The nasion-to-subnasale line leans about 7 degrees out of the image plane on a frontal face
# (the nose base sits in front of the nasion); turning the frame back by this much makes a
# frontal neutral face come out with an identity rotation.
_NOSE_LINE_PITCH_RADIANS = np.deg2rad(7.0)


def as_points(landmarks: object) -> np.ndarray:
    """(478, 3) float64 pixel coordinates from a ``FaceLandmarks`` or an array."""
    points = getattr(landmarks, "points", landmarks)
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] != ALL_POINTS or array.shape[1] != 3:
        raise InputError(
            f"expected {ALL_POINTS} face mesh landmarks with x, y, z (refined MediaPipe mesh), "
            f"got an array of shape {array.shape}"
        )
    return array


@dataclass(frozen=True)
class FaceFrame:
    """Where a face sits in the picture: ``image = origin + iod_px * rotation @ face``."""

    origin: np.ndarray  # (3,) pixels; z in MediaPipe's pixel-scaled depth
    rotation: np.ndarray  # (3, 3), columns are the face axes in image coordinates
    iod_px: float

    def to_face(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - self.origin) @ self.rotation / self.iod_px

    def to_image(self, face_points: np.ndarray) -> np.ndarray:
        return self.origin + self.iod_px * face_points @ self.rotation.T

    def offsets_to_image(self, face_offsets: np.ndarray) -> np.ndarray:
        """(N, 3) face-unit displacements as (N, 2) image pixels (orthographic projection)."""
        return (self.iod_px * face_offsets @ self.rotation.T)[:, :2]

    def with_changes(
        self, rotation: np.ndarray | None = None, origin: np.ndarray | None = None,
        iod_px: float | None = None,
    ) -> FaceFrame:
        return FaceFrame(
            origin=self.origin if origin is None else np.asarray(origin, dtype=np.float64),
            rotation=self.rotation if rotation is None else np.asarray(rotation, np.float64),
            iod_px=self.iod_px if iod_px is None else float(iod_px),
        )


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints of each eye's corners: (subject's right, subject's left)."""
    right = (points[RIGHT_EYE_CORNERS[0]] + points[RIGHT_EYE_CORNERS[1]]) / 2
    left = (points[LEFT_EYE_CORNERS[0]] + points[LEFT_EYE_CORNERS[1]]) / 2
    return right, left


def face_frame(landmarks: object) -> FaceFrame:
    """The face frame of one set of landmarks (see the module docstring)."""
    points = as_points(landmarks)
    right, left = eye_centres(points)
    x_axis = left - right
    iod = float(np.linalg.norm(x_axis))
    if iod < 1e-6:
        raise InputError("face landmarks are degenerate (both eyes at the same place)")
    x_axis /= iod
    down = points[SUBNASALE] - points[NASION]
    y_axis = down - x_axis * float(down @ x_axis)
    y_axis /= max(float(np.linalg.norm(y_axis)), 1e-9)
    z_axis = np.cross(x_axis, y_axis)
    cos, sin = np.cos(_NOSE_LINE_PITCH_RADIANS), np.sin(_NOSE_LINE_PITCH_RADIANS)
    y_axis, z_axis = cos * y_axis + sin * z_axis, -sin * y_axis + cos * z_axis
    rotation = np.stack([x_axis, y_axis, z_axis], axis=1)
    return FaceFrame(origin=(right + left) / 2, rotation=rotation, iod_px=iod)


def rotation_from_degrees(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """A face-frame rotation: yaw turns about y, pitch nods about x, roll tilts about z."""
    y, p, r = np.deg2rad([yaw, pitch, roll])
    about_y = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    about_x = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    about_z = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return about_z @ about_x @ about_y


def polyline_at(poly_u: np.ndarray, poly_v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Height of a polyline (sorted by u) at each u; flat beyond its ends."""
    order = np.argsort(poly_u)
    return np.interp(u, poly_u[order], poly_v[order])


def smoothstep(edge0: float | np.ndarray, edge1: float | np.ndarray,
               x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
