"""Face identity: dlib's 128-D face descriptor, and dlib's frontal face detector.

The descriptor is dlib's ResNet face recognition model (``dlib_face_recognition_resnet_model_v1``)
applied to a face aligned by the 68-point shape predictor; both ``.dat`` files ship inside the
``face_recognition_models`` wheel, so nothing is downloaded. Two descriptors of the same person
are usually closer than 0.6 (euclidean); fgemotalk asks for less than 0.4 between a source
portrait and the frames generated from it, i.e. the identity must survive clearly.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fgemotalk_cli.errors import InputError, WeightsError

#: Usual dlib threshold: below it two descriptors are taken to be the same person.
SAME_PERSON_DISTANCE = 0.6
#: What fgemotalk requires between a source portrait and its generated frames.
MAX_SOURCE_DISTANCE = 0.4

SHAPE_PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"

# HOG detection time grows with pixel count while faces in portraits are large, so detection
# runs on a copy whose longer side is at most this; small frames are upsampled once instead so
# that faces in 256 px crops are still found.
_DETECT_MAX_SIDE = 800
_UPSAMPLE_BELOW_SIDE = 400


@dataclass(frozen=True)
class FaceBox:
    """An axis-aligned face rectangle in pixels of the image it was found in."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)


def face_recognition_models_dir() -> Path:
    """The ``models`` folder of the installed face_recognition_models package.

    The package is located without importing it: its ``__init__`` needs ``pkg_resources``,
    which recent setuptools no longer provides.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            "dlib's face models are missing: install the 'face_recognition_models' package "
            "(pip install face_recognition_models)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _model_file(name: str, models_dir: Path | None) -> Path:
    path = (models_dir or face_recognition_models_dir()) / name
    if not path.is_file():
        raise WeightsError(f"dlib model file not found: {path} (reinstall face_recognition_models)")
    return path


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """dlib wants a contiguous HxWx3 uint8 array; accept gray and RGBA too."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise InputError(f"expected an 8-bit image, got dtype {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    elif array.ndim != 3 or array.shape[2] != 3:
        raise InputError(f"expected an RGB or gray image, got an array of shape {array.shape}")
    return np.ascontiguousarray(array)


class DlibFaceDetector:
    """dlib's HOG frontal face detector, with size handling for large and small images."""

    def __init__(self) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """All faces, largest first, in the pixel coordinates of ``image``."""
        import cv2

        rgb = _as_rgb_uint8(image)
        longer_side = max(rgb.shape[:2])
        scale = min(1.0, _DETECT_MAX_SIDE / longer_side)
        small = rgb if scale == 1.0 else cv2.resize(
            rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
        )
        upsample = 1 if longer_side < _UPSAMPLE_BELOW_SIDE else 0
        boxes = [
            FaceBox(r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale)
            for r in self._detector(small, upsample)
        ]
        return sorted(boxes, key=lambda box: box.area, reverse=True)

    def largest(self, image: np.ndarray) -> FaceBox | None:
        boxes = self.detect(image)
        return boxes[0] if boxes else None


class IdentityEmbedder:
    """Maps the largest face of an RGB image to dlib's 128-D identity descriptor."""

    def __init__(self, models_dir: Path | None = None, jitters: int = 0) -> None:
        """``jitters`` > 0 averages descriptors of that many perturbed crops (slower, steadier)."""
        import dlib

        self._shape_predictor = dlib.shape_predictor(
            str(_model_file(SHAPE_PREDICTOR_FILE, models_dir))
        )
        self._descriptor = dlib.face_recognition_model_v1(
            str(_model_file(DESCRIPTOR_FILE, models_dir))
        )
        self._detector = DlibFaceDetector()
        self._jitters = max(0, int(jitters))

    def embed(self, rgb: np.ndarray, box: FaceBox | None = None) -> np.ndarray | None:
        """Descriptor (float64, shape (128,)) of ``box`` or of the largest face; None if none."""
        import dlib

        image = _as_rgb_uint8(rgb)
        if box is None:
            box = self._detector.largest(image)
            if box is None:
                return None
        rect = dlib.rectangle(
            int(round(box.left)), int(round(box.top)),
            int(round(box.right)), int(round(box.bottom)),
        )
        shape = self._shape_predictor(image, rect)
        # dlib's num_jitters counts crops including the original; 1 means no jitter.
        descriptor: Any = self._descriptor.compute_face_descriptor(
            image, shape, self._jitters + 1
        )
        return np.asarray(descriptor, dtype=np.float64)


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two descriptors; < 0.6 usually means the same person."""
    first = np.asarray(a, dtype=np.float64).reshape(-1)
    second = np.asarray(b, dtype=np.float64).reshape(-1)
    if first.shape != second.shape:
        raise InputError(
            f"identity descriptors differ in size ({first.size} vs {second.size})"
        )
    return float(np.linalg.norm(first - second))
