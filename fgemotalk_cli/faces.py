"""Find faces, measure their head pose, crop them out and paste them back.

Landmarks come from MediaPipe FaceMesh (the legacy solutions API, whose models ship inside the
mediapipe wheel): 468 surface points, plus 10 iris points (468..477) when refined. "Left" and
"right" always mean the subject's own left and right, as in MediaPipe's names: in a frontal
photo the subject's left eye is on the image's right.

Coordinates are pixels of the analysed image: x to the right, y down, and z (MediaPipe's depth,
scaled by the image width like x) growing away from the camera, so a nose tip has a smaller z
than the cheeks. The mesh's fixed data (canonical shape, triangles, named regions) lives in
:mod:`fgemotalk_cli.face_model`, cropping and pasting back in :mod:`fgemotalk_cli.face_crop`;
both are re-exported here.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.errors import InputError, NoFaceError
from fgemotalk_cli.face_crop import FaceCrop, check_rgb, crop_face, paste_back
from fgemotalk_cli.face_model import (
    MESH_POINTS,
    canonical_face_mesh,
    eye_centres,
    mesh_triangles,
    mirror_indices,
    region_indices,
    rigid_indices,
)

__all__ = [
    "FaceCrop", "FaceLandmarks", "FaceMeshDetector", "HeadPose", "canonical_face_mesh",
    "crop_face", "detect_source_face", "estimate_head_pose", "mesh_triangles", "mirror_indices",
    "paste_back", "region_indices", "rotation_from_angles",
]

# Detection runs on a copy no larger than this: MediaPipe looks at faces through a 128 px
# detector and a 192/256 px landmark crop, so more pixels only cost time (and a 4k frame costs
# tens of milliseconds just to hand over). Points are mapped back to the full image.
DEFAULT_MAX_DETECTION_SIDE = 1280


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


class FaceMeshDetector:
    """MediaPipe FaceMesh as a context manager; ``detect`` returns faces largest first.

    ``video_mode=True`` tracks faces from frame to frame (feed frames in order, one video per
    detector): faster and steadier than detecting every frame afresh. Images whose longer
    side exceeds ``max_detection_side`` are analysed downscaled; points are returned in
    pixels of the image passed in.
    """

    def __init__(
        self,
        video_mode: bool = False,
        max_faces: int = 4,
        refine_landmarks: bool = True,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        max_detection_side: int = DEFAULT_MAX_DETECTION_SIDE,
    ) -> None:
        if max_faces < 1:
            raise InputError(f"max_faces must be at least 1, got {max_faces}")
        from mediapipe.python.solutions import face_mesh

        self.video_mode = video_mode
        self.max_detection_side = int(max_detection_side)
        with native_stderr_silenced():
            self._mesh = face_mesh.FaceMesh(
                static_image_mode=not video_mode,
                max_num_faces=max_faces,
                refine_landmarks=refine_landmarks,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )

    def __enter__(self) -> FaceMeshDetector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release MediaPipe's graph; the detector cannot be used afterwards."""
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def detect(self, image_rgb: np.ndarray) -> list[FaceLandmarks]:
        """Faces in an RGB uint8 image, largest (by landmark bounding box) first."""
        import cv2

        if self._mesh is None:
            raise RuntimeError("FaceMeshDetector.detect called after close()")
        image = check_rgb(image_rgb)
        height, width = image.shape[:2]
        longer = max(height, width)
        if longer > self.max_detection_side:
            factor = self.max_detection_side / longer
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            # AREA averages the dropped pixels, so small faces in big images stay free of aliasing.
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        # MediaPipe's C++ logs delegate set-up (and, in video mode, again when tracking is
        # lost) straight to fd 2; a dup2 pair costs microseconds against milliseconds of mesh.
        with native_stderr_silenced():
            results = self._mesh.process(np.ascontiguousarray(image))
        faces = []
        # MediaPipe's coordinates are fractions of the analysed image, so scaling them by the
        # original size lands them in full-image pixels whatever the detection downscale was.
        scale = np.array([width, height, width], dtype=np.float64)
        for face in results.multi_face_landmarks or []:
            normalised = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float64)
            faces.append(FaceLandmarks((normalised * scale).astype(np.float32), (width, height)))
        faces.sort(key=_bbox_area, reverse=True)
        return faces


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a moment.

    MediaPipe's TensorFlow Lite and absl code write INFO/WARNING lines straight to fd 2 when a
    graph starts, which no Python logging setting reaches; our contract is that stderr shows
    only a progress bar and, on bad input, one error line.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _bbox_area(face: FaceLandmarks) -> float:
    x0, y0, x1, y1 = face.bbox()
    return (x1 - x0) * (y1 - y0)


def detect_source_face(image_rgb: np.ndarray, face_index: int = 0) -> FaceLandmarks:
    """The ``face_index``-th largest face of a still image (0 = the largest), or an error."""
    if face_index < 0:
        raise InputError(f"the face index must be 0 or more (0 = largest face), got {face_index}")
    image = check_rgb(image_rgb)
    with FaceMeshDetector(video_mode=False, max_faces=max(4, face_index + 1)) as detector:
        faces = detector.detect(image) or _detect_in_tiles(detector, image)
    if not faces:
        height, width = image.shape[:2]
        raise NoFaceError(f"no face found in the {width}x{height} image")
    if face_index >= len(faces):
        found = f"{len(faces)} face" + ("s" if len(faces) > 1 else "")
        raise InputError(
            f"face index {face_index} asks for face number {face_index + 1}, but the image has "
            f"{found} (faces are numbered from 0, largest first)"
        )
    return faces[face_index]


def _detect_in_tiles(detector: FaceMeshDetector, image: np.ndarray) -> list[FaceLandmarks]:
    """Faces found in nine overlapping half-size tiles, largest first.

    MediaPipe's face detector sees the whole image at 128 px and misses faces narrower than
    about a tenth of it (a full-body photo). Half-size tiles double the face's share of the
    view; with half-tile steps every face up to a quarter of the image lies whole in one tile.
    """
    height, width = image.shape[:2]
    tile_width, tile_height = max(width // 2, 2), max(height // 2, 2)
    found: list[FaceLandmarks] = []
    for top in (0, (height - tile_height) // 2, height - tile_height):
        for left in (0, (width - tile_width) // 2, width - tile_width):
            tile = image[top:top + tile_height, left:left + tile_width]
            for face in detector.detect(tile):
                points = face.points + np.array([left, top, 0], dtype=np.float32)
                candidate = FaceLandmarks(points, (width, height))
                # Overlapping tiles see the same face twice; keep its larger (less cut) copy.
                same = [i for i, other in enumerate(found) if _overlap(candidate, other) > 0.3]
                if not same:
                    found.append(candidate)
                elif _bbox_area(candidate) > _bbox_area(found[same[0]]):
                    found[same[0]] = candidate
    found.sort(key=_bbox_area, reverse=True)
    return found


def _overlap(first: FaceLandmarks, second: FaceLandmarks) -> float:
    """Intersection over union of two faces' bounding boxes."""
    ax0, ay0, ax1, ay1 = first.bbox()
    bx0, by0, bx1, by1 = second.bbox()
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = _bbox_area(first) + _bbox_area(second) - inter
    return inter / union if union > 0 else 0.0


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
    :func:`fgemotalk_cli.face_model.rigid_indices`), so smiling or opening the mouth does not
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
