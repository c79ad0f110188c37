"""Glasses are a rigid layer: found on faces that wear them, kept still by a brow raise."""

from __future__ import annotations

import numpy as np
import pytest

from fgemotalk_cli.engines.warp.engine import edit_source
from fgemotalk_cli.engines.warp.glasses import similarity
from fgemotalk_cli.engines.warp.render import prepare_source
from fgemotalk_cli.faces.detector import detect_source_face
from fgemotalk_cli.media.images import load_image
from fgemotalk_cli.media.video import iter_frames

pytestmark = pytest.mark.media


def test_similarity_recovers_a_known_motion() -> None:
    rng = np.random.default_rng(3)
    source = rng.uniform(0, 100, (8, 2))
    angle, scale, shift = 0.1, 1.2, np.array([5.0, -3.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = similarity(source, source @ rotation.T + shift)
    assert np.allclose(matrix[:, :2], rotation) and np.allclose(matrix[:, 2], shift)


@pytest.fixture(scope="module")
def spectacled(driving_clips):
    clip = next(p for p in driving_clips if p.name == "vexpress_vasa1_7_gt.mp4")
    image = next(iter(iter_frames(clip))).image
    return prepare_source(image, detect_source_face(image))


def test_bare_faces_have_no_glasses_layer(portraits) -> None:
    for name in ("sadtalker_sad.png", "face_recognition_obama.jpg", "sadtalker_art_20.png"):
        image = load_image(next(p for p in portraits if p.name == name))
        assert prepare_source(image, detect_source_face(image)).glasses is None, name


def test_a_brow_raise_leaves_the_frame_where_it_was(spectacled) -> None:
    glasses = spectacled.glasses
    assert glasses is not None
    assert np.array_equal(edit_source(spectacled, {}), spectacled.image)
    raised = edit_source(spectacled, {1: 5, 2: 5})
    x0, y0, x1, y1 = glasses.box
    frame = glasses.alpha > 0.99
    moved = np.abs(raised[y0:y1, x0:x1].astype(int) - spectacled.image[y0:y1, x0:x1]).sum(2)
    assert np.median(moved[frame]) <= 2  # the frame's pixels stay put
    # ...while the brows above it did move (the edit is not a no-op).
    assert np.abs(raised.astype(int) - spectacled.image).sum(2).max() > 60
