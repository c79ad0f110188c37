"""The mesh read-out of AU 5 and 15: rules, geometry, and real expressions against their rest."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.expression.analysis import analyze_media
from fgemotalk_cli.expression.blendshapes import BlendshapeReader
from fgemotalk_cli.expression.landmark_readout import (
    LANDMARK_RULES,
    brow_heights,
    corner_drop,
    face_units,
    lid_above_iris,
)
from fgemotalk_cli.expression.readout import CHANGE_RULES, READOUT_RULES
from fgemotalk_cli.faces.mesh_model import canonical_face_mesh
from fgemotalk_cli.media.video import iter_frames


def test_rules_read_jitter_as_zero_strong_as_five_and_invert() -> None:
    for rule in LANDMARK_RULES.values():
        assert 0 < rule.jitter < rule.strong
        assert rule.change_intensity(rule.jitter) == 0.0
        assert rule.change_intensity(-rule.strong) == 0.0  # falls are another action
        assert rule.change_intensity(rule.strong) == pytest.approx(5.0)
        for k in (0.5, 1.0, 3.0, 4.5):
            assert rule.change_intensity(rule.change_at(k)) == pytest.approx(k)
    assert CHANGE_RULES[5] is LANDMARK_RULES[5] and CHANGE_RULES[15] is LANDMARK_RULES[15]
    assert CHANGE_RULES[12] is READOUT_RULES[12]


def _pixels(face: np.ndarray, degrees: float, iod_px: float = 90.0) -> np.ndarray:
    """Canonical face units placed in an image: turned in plane, scaled, shifted."""
    angle = np.deg2rad(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                         [0, 0, 1]])
    return face @ rotation.T * iod_px + np.array([256.0, 240.0, 0.0])


def test_measures_follow_the_moved_points_whatever_the_pose() -> None:
    mesh = canonical_face_mesh().astype(np.float64)
    rest = np.zeros((478, 3))
    rest[:len(mesh)] = mesh[:478]
    rest[468:473] = rest[[159, 145]].mean(0)  # the iris points: centre and ring, mid-eye
    rest[473:478] = rest[[386, 374]].mean(0)
    frown, wide = rest.copy(), rest.copy()
    frown[[61, 291], 1] += 0.03  # corners down (y down the face), the rest of the lips still
    wide[[159, 386], 1] -= 0.02  # upper lids up
    for degrees in (0.0, 12.0):
        base = face_units(_pixels(rest, degrees))
        assert corner_drop(face_units(_pixels(frown, degrees))) - corner_drop(base) == (
            pytest.approx(0.03, abs=0.004))
        assert lid_above_iris(face_units(_pixels(wide, degrees))) - lid_above_iris(base) == (
            pytest.approx(0.02, abs=0.003))
        assert lid_above_iris(face_units(_pixels(frown, degrees))) == (
            pytest.approx(lid_above_iris(base), abs=0.003))


def test_brow_heights_follow_a_raise_of_the_brow_and_not_the_pose() -> None:
    mesh = canonical_face_mesh().astype(np.float64)
    rest = np.zeros((478, 3))
    rest[:len(mesh)] = mesh[:478]
    raised = rest.copy()
    tails = [46, 276]  # the outer end of each brow's lower row
    raised[tails, 1] -= 0.05  # up the face (y down)
    raised[[55, 285], 1] -= 0.02  # the inner ends a little
    for degrees in (0.0, 15.0):
        before = np.array(brow_heights(face_units(_pixels(rest, degrees))))
        after = np.array(brow_heights(face_units(_pixels(raised, degrees, iod_px=60.0))))
        assert np.all(before > 0.05)  # brows lie above the eye line
        assert after - before == pytest.approx([0.05, 0.0, 0.02], abs=0.004)


def _read_frames(path: Path, wanted: set[int]) -> dict[int, object]:
    faces = {}
    with BlendshapeReader(video_mode=False) as reader:
        for index, frame in enumerate(islice(iter_frames(path), max(wanted) + 1)):
            if index in wanted:
                faces[index] = reader.read(frame.image)
    return faces


def test_real_sad_mouth_and_wide_eyes_read_strong_and_rest_reads_zero(
        shared_media: Path) -> None:
    """d18's sad mouth (mouthFrown 0.00 there) and d7's wide eyes, against each clip's
    neutral first frame; d7's blink reads as no AU 5 and its wide eyes as no AU 15."""
    frown, wide = LANDMARK_RULES[15], LANDMARK_RULES[5]
    sad = _read_frames(shared_media / "driving" / "liveportrait_d18.mp4", {0, 4, 176, 184})
    assert max(READOUT_RULES[15].score(sad[i].scores) for i in (176, 184)) < 0.03  # blind
    rest = frown.signal(sad[0])
    assert frown.change_intensity(frown.signal(sad[4]) - rest) < 1.0
    assert min(frown.change_intensity(frown.signal(sad[i]) - rest) for i in (176, 184)) > 3.0
    eyes = _read_frames(shared_media / "driving" / "liveportrait_d7.mp4", {0, 24, 138})
    rest = wide.signal(eyes[0])
    assert wide.change_intensity(wide.signal(eyes[138]) - rest) > 3.5
    assert wide.change_intensity(wide.signal(eyes[24]) - rest) == 0.0  # eyes closed
    assert frown.change_intensity(frown.signal(eyes[138]) - frown.signal(eyes[0])) < 1.0


def test_analyze_with_a_reference_frame_reads_the_sad_mouth(shared_media: Path) -> None:
    clip = shared_media / "driving" / "liveportrait_d18.mp4"
    against_rest = analyze_media(clip, max_frames=186, reference_frame=0)
    sad = range(176, 186)
    assert np.median([against_rest.frames[i].aus[15] for i in sad]) > 3.0  # mouthFrown: 0
    assert np.median([against_rest.frames[i].aus[15] for i in range(1, 10)]) < 0.5
    assert against_rest.frames[0].aus[15] == 0.0 and against_rest.frames[0].aus[5] == 0.0
    assert max(against_rest.frames[i].aus[12] for i in sad) < 1.0  # the others: as before
    assert any("against frame 0" in note for note in against_rest.notes)
    with pytest.raises(InputError, match="past the last frame"):
        analyze_media(clip, max_frames=3, reference_frame=5)
    photo = analyze_media(shared_media / "portraits" / "sadtalker_sad.png", reference_frame=0)
    assert any("no effect on a single image" in note for note in photo.notes)
