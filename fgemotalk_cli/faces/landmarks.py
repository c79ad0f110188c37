"""A face's landmarks and its head pose: the data every other part of the tool passes around.

Landmarks come from MediaPipe FaceMesh (:mod:`fgemotalk_cli.faces.detector`): 468 surface
points, plus 10 iris points (468..477) when refined. "Left" and "right" always mean the
subject's own left and right, as in MediaPipe's names: in a frontal photo the subject's left eye
is on the image's right.

Coordinates are pixels of the analysed image: x to the right, y down, and z (MediaPipe's depth,
scaled by the image width like x) growing away from the camera, so a nose tip has a smaller z
than the cheeks. The mesh's fixed data (canonical shape, triangles, named regions) lives in
:mod:`fgemotalk_cli.faces.mesh_model`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.faces.mesh_model import (
    MESH_POINTS,
    canonical_face_mesh,
    eye_centres,
    rigid_indices,
)


@dataclass(frozen=True, eq=False)
class FaceLandmarks:
    """One face's mesh in pixels of the image it was found in.

    ``points`` is (478, 3) float32 with refined landmarks (468 without): x, y in pixels, z in
    the same pixel scale (MediaPipe's z times the image width). ``image_size`` is (width, height).
    """

    points: np.ndarray
    image_size: tuple[int, int]

    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1): the smallest image rectangle holding every point."""
        xy = self.points[:, :2]
        x0, y0 = xy.min(axis=0)
        x1, y1 = xy.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    def eye_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(subject's right, subject's left) eye centres in the image, each (x, y).

        An eye centre is the midpoint of that eye's two corners, which, unlike the iris, does
        not move with the gaze.
        """
        right, left = eye_centres(self.points)
        return right[:2].astype(np.float64), left[:2].astype(np.float64)

    def interocular_distance(self) -> float:
        """Pixels between the two eye centres, measured in the image plane."""
        right, left = self.eye_centres()
        return float(np.linalg.norm(left - right))


@dataclass(frozen=True, eq=False)
class HeadPose:
    """Rigid head pose from a similarity fit of the canonical face mesh.

    The mesh maps into the image as ``points ~ scale * rotation @ canonical + (*center, depth)``,
    with ``rotation = Rz(roll) @ Rx(pitch) @ Ry(yaw)`` (see :func:`rotation_from_angles`).
    In degrees: yaw > 0 when the subject turns to their own right (the nose moves towards
    the image's left), pitch > 0 when they look down, roll > 0 when the head tilts clockwise
    in the image (towards the subject's left shoulder). All three are 0 for the mean pose of
    frontal portrait photos.

    ``scale`` is the fitted inter-ocular distance in pixels: the canonical mesh is measured
    in inter-ocular distances, so unlike the 2-D distance between the eyes it does not shrink
    when the head turns. ``center`` is where the canonical origin (the centroid of the 468
    mesh points, inside the head behind the nose) projects in the image, in pixels.
    ``depth`` is the canonical origin's z, in the landmarks' pixel-scaled depth.
    ``fit_error`` is the root-mean-square residual of the fit in inter-ocular distances:
    expressions leave it under about 0.05; far above 0.1 the landmarks are unreliable.
    """

    yaw: float
    pitch: float
    roll: float
    scale: float
    center: tuple[float, float]
    rotation: np.ndarray
    fit_error: float = 0.0
    depth: float = 0.0


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The 3x3 head rotation ``Rz(roll) @ Rx(pitch) @ Ry(yaw)`` for angles in degrees."""
    y, p, r = np.deg2rad([yaw, pitch, roll])
    about_y = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    about_x = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    about_z = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return about_z @ about_x @ about_y


def _angles_from_rotation(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees, the inverse of :func:`rotation_from_angles`."""
    pitch = math.asin(float(np.clip(rotation[2, 1], -1.0, 1.0)))
    yaw = math.atan2(-rotation[2, 0], rotation[2, 2])
    roll = math.atan2(-rotation[0, 1], rotation[1, 1])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


#: The public name of the inverse of :func:`rotation_from_angles`.
angles_from_rotation = _angles_from_rotation


def _similarity_fit(
    model: np.ndarray, observed: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares ``observed ~ scale * rotation @ model + shift`` (Umeyama, PAMI 1991)."""
    model_mean, observed_mean = model.mean(axis=0), observed.mean(axis=0)
    model_centred, observed_centred = model - model_mean, observed - observed_mean
    covariance = observed_centred.T @ model_centred / len(model)
    u, singular, vt = np.linalg.svd(covariance)
    # Flip the weakest axis if needed so the result is a rotation, never a reflection.
    sign = np.ones(3)
    sign[2] = np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float((singular * sign).sum() / (model_centred**2).sum(axis=1).mean())
    shift = observed_mean - scale * rotation @ model_mean
    return scale, rotation, shift


def estimate_head_pose(landmarks: FaceLandmarks) -> HeadPose:
    """Head pose by a similarity fit of the canonical mesh to the face's rigid points.

    Only points that expressions barely move take part (see
    :func:`fgemotalk_cli.faces.mesh_model.rigid_indices`), so smiling or opening the mouth does not
    read as a nod.
    """
    points = np.asarray(landmarks.points, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] < MESH_POINTS or points.shape[1] != 3:
        raise InputError(
            f"expected at least {MESH_POINTS} 3-D face mesh points, got {points.shape}"
        )
    rigid = rigid_indices()
    model = canonical_face_mesh().astype(np.float64)[rigid]
    scale, rotation, shift = _similarity_fit(model, points[rigid])
    if scale <= 0:
        raise InputError("degenerate face landmarks: the head pose fit collapsed")
    residual = points[rigid] - (scale * model @ rotation.T + shift)
    fit_error = float(np.sqrt((residual**2).sum(axis=1).mean()) / scale)
    yaw, pitch, roll = _angles_from_rotation(rotation)
    return HeadPose(
        yaw=yaw, pitch=pitch, roll=roll, scale=scale, center=(float(shift[0]), float(shift[1])),
        rotation=rotation, fit_error=fit_error, depth=float(shift[2]),
    )
