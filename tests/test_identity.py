"""dlib identity descriptors and distances."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fgemotalk_cli.errors import InputError, WeightsError
from fgemotalk_cli.evaluation.identity import (
    SAME_PERSON_DISTANCE,
    DlibFaceDetector,
    IdentityEmbedder,
    face_recognition_models_dir,
    identity_distance,
)


@pytest.fixture(scope="module")
def embedder() -> IdentityEmbedder:
    return IdentityEmbedder()


def _embedding(embedder: IdentityEmbedder, portraits: list[Path], name: str) -> np.ndarray:
    path = next(p for p in portraits if p.name == name)
    descriptor = embedder.embed(np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1]))
    assert descriptor is not None, f"no face found in {name}"
    assert descriptor.shape == (128,)
    return descriptor


def test_same_person_is_closer_than_the_threshold(embedder, portraits) -> None:
    happy = _embedding(embedder, portraits, "sadtalker_happy.png")
    sad = _embedding(embedder, portraits, "sadtalker_sad.png")
    assert identity_distance(happy, sad) < SAME_PERSON_DISTANCE
    assert identity_distance(happy, happy) == 0.0


def test_different_people_are_further_than_the_threshold(embedder, portraits) -> None:
    obama = _embedding(embedder, portraits, "face_recognition_obama.jpg")
    other = _embedding(embedder, portraits, "liveportrait_s42.jpg")
    assert identity_distance(obama, other) > SAME_PERSON_DISTANCE


def test_no_face_gives_none(embedder) -> None:
    assert embedder.embed(np.full((120, 160, 3), 200, np.uint8)) is None


def test_detector_returns_the_largest_face_first(portraits) -> None:
    path = next(p for p in portraits if p.name == "face_recognition_obama.jpg")
    image = np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])
    boxes = DlibFaceDetector().detect(image)
    assert boxes and all(a.area >= b.area for a, b in zip(boxes, boxes[1:]))
    # Detection ran on a downscaled copy; the box must be back in full-image pixels.
    assert 150 < boxes[0].width < 500


def test_bad_inputs_are_input_errors(embedder) -> None:
    with pytest.raises(InputError):
        embedder.embed(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(InputError, match="differ"):
        identity_distance(np.zeros(128), np.zeros(64))


def test_missing_model_files_are_weights_errors(tmp_path: Path) -> None:
    assert (face_recognition_models_dir() / "shape_predictor_68_face_landmarks.dat").is_file()
    with pytest.raises(WeightsError, match="not found"):
        IdentityEmbedder(models_dir=tmp_path)
