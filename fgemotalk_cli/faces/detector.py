"""Find faces: MediaPipe FaceMesh (the legacy solutions API, whose models ship inside the
mediapipe wheel), the largest face of a photo, and a tiled retry for small or odd faces."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from fgemotalk_cli.errors import InputError, NoFaceError
from fgemotalk_cli.faces.crop import check_rgb
from fgemotalk_cli.faces.landmarks import FaceLandmarks
from fgemotalk_cli.faces.mediapipe_import import import_mediapipe

# Detection runs on a copy no larger than this: MediaPipe looks at faces through a 128 px
# detector and a 192/256 px landmark crop, so more pixels only cost time (and a 4k frame costs
# tens of milliseconds just to hand over). Points are mapped back to the full image.
DEFAULT_MAX_DETECTION_SIDE = 1280


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
        import_mediapipe()
        from mediapipe.python.solutions import face_mesh

        self.video_mode = video_mode
        self.max_faces = max_faces
        self.max_detection_side = int(max_detection_side)
        # MediaPipe's C++ logs to fd 2 from its own threads; the command line filters that once
        # for the whole process (fgemotalk_cli.process), never by redirecting fds from here.
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
        results = self._mesh.process(np.ascontiguousarray(image))
        faces = []
        # MediaPipe's coordinates are fractions of the analysed image, so scaling them by the
        # original size lands them in full-image pixels whatever the detection downscale was.
        scale = np.array([width, height, width], dtype=np.float64)
        for face in results.multi_face_landmarks or []:
            normalised = landmark_array(face)
            faces.append(FaceLandmarks((normalised * scale).astype(np.float32), (width, height)))
        faces.sort(key=_bbox_area, reverse=True)
        return faces


class VideoFaceTracker:
    """The faces of one video's frames, fed in order, largest first: FaceMesh tracking them.

    MediaPipe's tracking graph runs its face detector again on every frame until it tracks
    as many faces as it may (``max_num_faces``). A four-face tracker on a one-face clip thus
    pays a detection per frame, about 2.4 of its 7.9 CPU ms, and finds the same face (its
    points are the same to the bit). So the tracker looks with room for several faces until
    a frame shows some; when that frame shows one face and only the largest is wanted, a
    one-face graph takes over from that frame on (it detects the face afresh on it, as the
    first graph did). A face entering later is then not picked up, and the tracker stays on
    the face it follows instead of jumping to a newcomer that looks larger.
    """

    def __init__(self, face_index: int = 0) -> None:
        if face_index < 0:
            raise InputError(f"the face index must be 0 or more, got {face_index}")
        self.face_index = face_index
        self._tracker = FaceMeshDetector(video_mode=True, max_faces=max(4, face_index + 1))
        self._settled = False

    def __enter__(self) -> VideoFaceTracker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def max_faces(self) -> int:
        """How many faces the current graph may track (1 once it follows a single face)."""
        return self._tracker.max_faces

    def close(self) -> None:
        self._tracker.close()

    def detect(self, image_rgb: np.ndarray) -> list[FaceLandmarks]:
        """The frame's faces, largest first (the next frame of the same video each call)."""
        faces = self._tracker.detect(image_rgb)
        if not self._settled and faces:
            self._settled = True
            if len(faces) == 1 and self.face_index == 0:
                single = FaceMeshDetector(video_mode=True, max_faces=1)
                self._tracker.close()
                self._tracker = single
                faces = single.detect(image_rgb) or faces
        return faces


# One landmark of a NormalizedLandmarkList as protobuf serialises it when only x, y and z are
# set (FaceMesh's output): field 1, a 15-byte message of fields 1, 2 and 3, little-endian floats.
_LANDMARK_RECORD = np.dtype([("tag", "u1"), ("size", "u1"), ("x_tag", "u1"), ("x", "<f4"),
                             ("y_tag", "u1"), ("y", "<f4"), ("z_tag", "u1"), ("z", "<f4")])
_RECORD_TAGS = {"tag": 0x0A, "size": 15, "x_tag": 0x0D, "y_tag": 0x15, "z_tag": 0x1D}


def landmark_array(landmarks: object) -> np.ndarray:
    """(N, 3) float64 x, y, z of a MediaPipe NormalizedLandmarkList.

    Read from its serialised bytes, whose layout is fixed while only x, y and z are set: 478
    points' attributes one by one cost 0.21 ms a frame of tracking, the bytes 0.02 ms. Any
    other layout (visibility or presence set) is read point by point."""
    raw = landmarks.SerializeToString()  # type: ignore[attr-defined]
    if raw and len(raw) % _LANDMARK_RECORD.itemsize == 0:
        records = np.frombuffer(raw, _LANDMARK_RECORD)
        if all(np.all(records[field] == value) for field, value in _RECORD_TAGS.items()):
            return np.stack([records["x"], records["y"], records["z"]], axis=1).astype(np.float64)
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark],  # type: ignore[attr-defined]
                    dtype=np.float64)


def _bbox_area(face: FaceLandmarks) -> float:
    x0, y0, x1, y1 = face.bbox()
    return (x1 - x0) * (y1 - y0)


def detect_source_face(image_rgb: np.ndarray, face_index: int = 0) -> FaceLandmarks:
    """The ``face_index``-th largest face of a still image (0 = the largest), or an error."""
    if face_index < 0:
        raise InputError(f"the face index must be 0 or more (0 = largest face), got {face_index}")
    image = check_rgb(image_rgb)
    with _still_detector(max(4, face_index + 1)) as detector:
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


def detect_still_faces(image_rgb: np.ndarray, max_faces: int = 4) -> list[FaceLandmarks]:
    """Faces in one still image, largest first, from the process's shared still detector."""
    with _still_detector(max_faces) as detector:
        return detector.detect(image_rgb)


# One still-image detector per face count, kept for the whole process: the source portrait,
# a driver's reference frame and every job of a batch use it, instead of each building
# (and warming up) its own MediaPipe graph. The lock serialises users on other threads.
_still_detectors: dict[int, FaceMeshDetector] = {}
_still_lock = threading.Lock()


@contextmanager
def _still_detector(max_faces: int) -> Iterator[FaceMeshDetector]:
    with _still_lock:
        detector = _still_detectors.get(max_faces)
        if detector is None:
            detector = _still_detectors[max_faces] = FaceMeshDetector(
                video_mode=False, max_faces=max_faces)
        yield detector


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
