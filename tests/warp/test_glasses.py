"""Glasses are a rigid layer: found on faces that wear them, kept still by a brow raise."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.engine import edit_source
from fgemotalk_cli.engines.warp.glasses import similarity, split_glasses
from fgemotalk_cli.engines.warp.glasses_frame import best_path
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


def _brow_mask(source) -> np.ndarray:
    brows = np.zeros(source.full_image.shape[:2], np.uint8)
    for contour in (L.RIGHT_BROW_LOWER + tuple(reversed(L.RIGHT_BROW_UPPER)),
                    L.LEFT_BROW_LOWER + tuple(reversed(L.LEFT_BROW_UPPER))):
        cv2.fillPoly(brows, [np.round(source.points[list(contour), :2]).astype(np.int32)], (1,))
    return brows.astype(bool)


def test_the_frame_mask_is_the_frame_not_the_brows(spectacled) -> None:
    glasses = spectacled.glasses
    assert glasses is not None and spectacled.scale == 1.0
    xy = spectacled.points[:, :2]
    iod = float(np.linalg.norm(xy[263] - xy[33]))
    hard = np.zeros(spectacled.image.shape[:2], np.uint8)
    x0, y0, x1, y1 = glasses.box
    hard[y0:y1, x0:x1] = glasses.alpha > 0.5
    # A frame a few hundredths of an IOD wide around two lenses, not a band over the brows.
    assert hard.sum() < 0.25 * iod * iod
    assert (hard.astype(bool) & _brow_mask(spectacled)).sum() < 0.1 * _brow_mask(spectacled).sum()
    # Whole: one piece, as the frame is.
    count, labels = cv2.connectedComponents(hard)
    sizes = np.bincount(labels[hard.astype(bool)])
    assert sizes.max() >= 0.95 * hard.sum()
    # Only the pixels under the frame are inpainted in the skin layer.
    changed = np.abs(glasses.skin_image.astype(int) - spectacled.image).sum(2) > 0
    assert changed.sum() <= 1.05 * hard.sum()


@pytest.mark.parametrize("aus", [{4: 5}, {1: 5, 2: 5}])
def test_the_brows_move_behind_the_frame(spectacled, aus) -> None:
    moved = np.abs(edit_source(spectacled, aus).astype(int) - spectacled.image).sum(2)
    assert (moved[_brow_mask(spectacled)] > 15).mean() > 0.8  # none of the brow is frozen


def test_the_tracer_alone_finds_no_frame_on_bare_faces(portraits) -> None:
    # Without the detector's gate in front of it: unsure means no layer.
    for name in ("sadtalker_sad.png", "face_recognition_obama.jpg", "vexpress_vasa1_13_ref.jpg",
                 "liveportrait_s42.jpg"):
        image = load_image(next(p for p in portraits if p.name == name))
        source = prepare_source(image, detect_source_face(image))
        assert split_glasses(source.image, source.points[:, :2]) is None, name


def test_the_ring_path_follows_the_continuous_line_not_a_stronger_stroke() -> None:
    directions, samples = 60, 40
    score = np.zeros((directions, samples))
    score[:, 20] = 1.5  # a rim all around
    score[10:14, 5] = 3.0  # a short, stronger stroke nearer the eye (a lash, a crease)
    score[40:44, 35] = 3.0  # and one further out (a brow's edge)
    assert np.array_equal(best_path(score, closed=True), np.full(directions, 20))


def test_the_skin_under_the_frame_takes_the_bare_skins_colour(spectacled) -> None:
    """Inpainted from its edges, the band under the frame took the lens bevel's grey; under
    a brow raise it stretched into a grey block above the frame. On the face it now takes
    the colour of the bare skin around the frame."""
    from fgemotalk_cli.engines.warp import glasses_skin

    glasses = spectacled.glasses
    assert glasses is not None and spectacled.scale == 1.0
    image = spectacled.image
    x0, y0, x1, y1 = glasses.box
    band = np.zeros(image.shape[:2], np.uint8)
    band[y0:y1, x0:x1] = glasses.alpha > 0.99
    xy = spectacled.points[:, :2]
    iod = float(np.linalg.norm(xy[263] - xy[33]))
    closed, lenses = glasses_skin._enclosed(band, iod)
    face = glasses_skin._face(xy, band.shape)
    bare = glasses_skin._bare_skin_around(closed | lenses, xy, iod, face)
    on_face = (band > 0) & face
    skin = image[bare].astype(float).mean(0)
    inpainted = cv2.inpaint(image, band * 255, max(3.0, 0.02 * iod), cv2.INPAINT_TELEA)
    before = np.abs(inpainted[on_face].astype(float).mean(0) - skin).max()
    after = np.abs(glasses.skin_image[on_face].astype(float).mean(0) - skin).max()
    assert before > 10  # the inpainting alone is off the skin's colour
    assert after < 0.6 * before
