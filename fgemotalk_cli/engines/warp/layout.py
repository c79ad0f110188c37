"""The face frame the warp engine works in, and the mesh contours it names.

Everything the warp engine knows about faces is expressed in the *face frame*: origin midway
between the eye centres, x towards the subject's left eye (image right for a frontal face),
y down the face, z away from the camera, and one unit = the inter-ocular distance (IOD). These
are the axes and unit of :func:`fgemotalk_cli.faces.mesh_model.canonical_face_mesh`, and the
rotation and scale come from :func:`fgemotalk_cli.faces.landmarks.estimate_head_pose`; only the
origin moves to the eyes, which the AU fields are written around. In that frame a neutral
frontal face looks the same whatever its size, position or roll in the picture, so displacement
fields written once (:mod:`fgemotalk_cli.engines.warp.au_fields`) fit every face and follow its
head pose.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import overload

import numpy as np

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.faces import mesh_model as fm
from fgemotalk_cli.faces.landmarks import FaceLandmarks, estimate_head_pose

# The mesh's named contours (fgemotalk_cli.faces.mesh_model), under the names this package uses:
# lip contours run from the subject's right corner to the left one, corners included;
# lid margins run from the outer to the inner corner, corners excluded.
UPPER_INNER_LIP = fm.UPPER_LIP_INNER
LOWER_INNER_LIP = fm.LOWER_LIP_INNER
UPPER_OUTER_LIP = fm.UPPER_LIP_OUTER
LOWER_OUTER_LIP = fm.LOWER_LIP_OUTER
MOUTH_CORNERS = fm.LIP_CORNERS
RIGHT_EYE_CORNERS = fm.RIGHT_EYE_CORNERS  # outer, inner
LEFT_EYE_CORNERS = fm.LEFT_EYE_CORNERS
RIGHT_UPPER_LID = fm.RIGHT_EYE_UPPER[1:-1]
RIGHT_LOWER_LID = fm.RIGHT_EYE_LOWER[1:-1]
LEFT_UPPER_LID = fm.LEFT_EYE_UPPER[1:-1]
LEFT_LOWER_LID = fm.LEFT_EYE_LOWER[1:-1]
RIGHT_IRIS = fm.RIGHT_IRIS  # centre first
LEFT_IRIS = fm.LEFT_IRIS
#: Per eye, the subject's right then left: (corners (outer, inner), upper lid, lower lid, iris).
EYES = ((RIGHT_EYE_CORNERS, RIGHT_UPPER_LID, RIGHT_LOWER_LID, RIGHT_IRIS),
        (LEFT_EYE_CORNERS, LEFT_UPPER_LID, LEFT_LOWER_LID, LEFT_IRIS))
RIGHT_BROW_LOWER = fm.RIGHT_BROW[:5]  # outer end to inner end
RIGHT_BROW_UPPER = fm.RIGHT_BROW[5:]
LEFT_BROW_LOWER = fm.LEFT_BROW[:5]
LEFT_BROW_UPPER = fm.LEFT_BROW[5:]
FACE_OVAL = fm.FACE_OVAL  # clockwise from the top of the forehead
SUBNASALE = fm.SUBNASALE
NOSE_TIP = 1
CHIN = 152
MESH_POINTS = fm.MESH_POINTS
ALL_POINTS = fm.ALL_POINTS


def eye_opening(eye: int) -> list[int]:
    """The eye-opening polygon of eye 0 (right) or 1 (left): outer corner, upper lid, inner
    corner, lower lid back."""
    (outer, inner), upper, lower, _ = EYES[eye]
    return [outer, *upper, inner, *reversed(lower)]


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


@lru_cache(maxsize=1)
def _canonical_eye_midpoint() -> np.ndarray:
    right, left = fm.eye_centres(fm.canonical_face_mesh())
    return (right + left).astype(np.float64) / 2


def face_frame(landmarks: object) -> FaceFrame:
    """The face frame of one set of landmarks (see the module docstring)."""
    points = as_points(landmarks)
    pose = estimate_head_pose(FaceLandmarks(points, (0, 0)))
    # The eye midpoint as the fit places it (steadier than the detected eye corners, which
    # blinks pull about); depth, which only the jaw hinge uses, from the detected corners.
    origin = np.empty(3)
    origin[:2] = np.asarray(pose.center) + pose.scale * (
        pose.rotation @ _canonical_eye_midpoint())[:2]
    right, left = fm.eye_centres(points)
    origin[2] = (right[2] + left[2]) / 2
    return FaceFrame(origin=origin, rotation=np.asarray(pose.rotation, np.float64),
                     iod_px=float(pose.scale))


def polyline_at(poly_u: np.ndarray, poly_v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Height of a polyline (sorted by u) at each u; flat beyond its ends."""
    order = np.argsort(poly_u)
    return np.interp(u, poly_u[order], poly_v[order])


@overload
def smoothstep(edge0: float | np.ndarray, edge1: float | np.ndarray,
               x: np.ndarray) -> np.ndarray: ...
@overload
def smoothstep(edge0: float, edge1: float, x: float) -> float: ...
def smoothstep(edge0: float | np.ndarray, edge1: float | np.ndarray,
               x: float | np.ndarray) -> float | np.ndarray:
    # minimum(maximum()) is np.clip's result without its Python-level dispatch (this runs
    # a dozen times a frame).
    t = np.minimum(np.maximum((x - edge0) / (edge1 - edge0), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)
