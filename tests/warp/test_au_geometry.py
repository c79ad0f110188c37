"""The AU geometry model on real landmarks: responses, saturation, pose, closures."""

from __future__ import annotations

import numpy as np
import pytest

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.articulation import (
    _MAX_CLOSING_SHARE,
    SPEECH_OPENING_IOD,
    midline_gap,
)
from fgemotalk_cli.engines.warp.au_fields import JAW_MAX_RADIANS, jaw_field
from fgemotalk_cli.engines.warp.au_geometry import (
    SUPPORTED_WARP_AUS,
    AUGeometry,
    au_displacements,
    intensity_response,
)
from fgemotalk_cli.errors import AUError
from fgemotalk_cli.faces.landmarks import rotation_from_angles
from fgemotalk_cli.speech.visemes import MouthShape

pytestmark = pytest.mark.media


@pytest.fixture(scope="module")
def geometry(warp_cases) -> AUGeometry:
    return warp_cases[0].source.geometry


def _magnitude(offsets: np.ndarray) -> float:
    return float(np.linalg.norm(offsets, axis=1).max())


def test_intensity_response_is_monotonic_from_zero_to_one() -> None:
    values = [intensity_response(i) for i in np.linspace(0, 5, 21)]
    assert values[0] == 0.0 and values[-1] == pytest.approx(1.0)
    assert np.all(np.diff(values) > 0)


@pytest.mark.parametrize("au", SUPPORTED_WARP_AUS)
def test_each_au_moves_the_face_more_with_intensity(geometry: AUGeometry, au: int) -> None:
    magnitudes = [_magnitude(geometry.offsets({au: i})) for i in range(6)]
    assert magnitudes[0] == 0.0
    assert np.all(np.diff(magnitudes) > 0), magnitudes
    # Every field stays a facial movement, not a distortion: under 0.7 IOD anywhere in the
    # image plane (a wide jaw drop also turns the chin back, in depth).
    assert 0.04 < _magnitude(geometry.offsets({au: 5})[:, :2]) < 0.7


def test_unknown_au_and_bad_intensity_are_errors(geometry: AUGeometry) -> None:
    with pytest.raises(AUError, match="cannot drive AU 14"):
        geometry.offsets({14: 2})
    with pytest.raises(AUError, match="outside"):
        geometry.offsets({12: 7})


def test_combined_aus_saturate_softly(geometry: AUGeometry) -> None:
    single = [geometry.offsets({au: 5}) for au in (12, 20, 15)]
    combined = geometry.offsets({12: 5, 20: 5, 15: 5})
    limit = 1.3 * geometry.knee + 1e-9
    assert np.all(np.linalg.norm(combined, axis=1) <= limit)
    # ...while still moving more than the strongest single AU somewhere.
    assert _magnitude(combined) > max(_magnitude(s) for s in single) * 0.99


def test_a_wide_jaw_drop_is_not_soft_clipped(geometry: AUGeometry) -> None:
    # AU 26 alone is a single control: past the speech jaw's share (1) the lower face turns
    # fully by its share, instead of saturating at 1.3 times the speech jaw's move.
    chin = []
    for top in (1.0, 1.4, 1.8):
        wide = geometry.with_response({26: (0.0, 0.2, 0.4, 0.6, 0.8, top)})
        moved = wide.offsets({26: 5.0})
        turned = jaw_field(wide.regions, JAW_MAX_RADIANS * top)
        np.testing.assert_allclose(moved[L.CHIN], turned[L.CHIN], atol=1e-6)
        chin.append(float(np.linalg.norm(moved[L.CHIN])))
    assert chin[2] / chin[0] > 1.7


def test_eye_closure_puts_upper_lids_on_lower_lids(geometry: AUGeometry) -> None:
    for au in (43, 45):
        face = geometry.face + geometry.offsets({au: 5})
        for upper, lower in ((L.RIGHT_UPPER_LID, L.RIGHT_LOWER_LID),
                             (L.LEFT_UPPER_LID, L.LEFT_LOWER_LID)):
            gap = face[list(lower), 1] - face[list(upper), 1]
            assert np.abs(gap).max() < 1e-6
    half = geometry.face + geometry.offsets({45: 2.5})
    lower, upper = list(L.RIGHT_LOWER_LID), list(L.RIGHT_UPPER_LID)
    source_gap = geometry.face[lower, 1] - geometry.face[upper, 1]
    half_gap = half[lower, 1] - half[upper, 1]
    assert np.allclose(half_gap, 0.5 * source_gap, atol=0.01)


def _inner_gap(face: np.ndarray) -> float:
    return float(np.mean(face[list(L.LOWER_INNER_LIP[1:-1]), 1]
                         - face[list(L.UPPER_INNER_LIP[1:-1]), 1]))


def test_speech_jaw_opens_every_face_alike(geometry: AUGeometry) -> None:
    """The same speech shape gives the same lip gap on a closed, a parted and a wide-open
    photo of the face, and no speech shape leaves the photo's jaw alone."""
    closed = geometry.face + geometry.offsets({}, MouthShape(jaw_open=0.0, closure=1.0))
    # The widest photo jaw speech closes back (articulation's closing limit, 22.5 degrees);
    # AU 26 at 5 (1.8 of the field, 27 degrees) opens past it, like a yawn.
    widest = tuple(_MAX_CLOSING_SHARE * k / 5 for k in range(6))
    wide = geometry.face + geometry.with_response({26: widest}).offsets({26: 5.0})
    assert midline_gap(wide) > 0.35
    assert midline_gap(geometry.face + geometry.offsets({26: 5.0})) > midline_gap(wide)
    for face in (closed, geometry.face, wide):
        other = AUGeometry(face, geometry.frame)
        for jaw_open in (0.3, 0.6):
            gap = midline_gap(face + other.offsets({}, MouthShape(jaw_open=jaw_open)))
            assert gap == pytest.approx(jaw_open * SPEECH_OPENING_IOD, abs=0.015)
        assert np.allclose(other.offsets({}), 0.0)


def test_speech_mouth_controls(geometry: AUGeometry) -> None:
    def shaped(**controls: float) -> np.ndarray:
        return geometry.face + geometry.offsets({}, MouthShape(**controls))

    # jaw_open asks for a gap of the face, whatever the photo's own (this one is parted).
    assert midline_gap(geometry.face) > 0.05
    assert midline_gap(shaped(jaw_open=0.5)) == pytest.approx(0.5 * SPEECH_OPENING_IOD, abs=0.01)
    assert midline_gap(shaped(jaw_open=0.0)) < 0.01
    assert _inner_gap(shaped(jaw_open=1.0)) > _inner_gap(shaped(jaw_open=0.5))
    assert abs(_inner_gap(shaped(jaw_open=0.3, closure=1.0))) < 1e-6
    assert _inner_gap(shaped(lip_to_teeth=1.0)) == pytest.approx(0.035, abs=0.01)

    def width(face: np.ndarray) -> float:
        return float(face[L.UPPER_OUTER_LIP[-1], 0] - face[L.UPPER_OUTER_LIP[0], 0])

    source_width = width(geometry.face)
    assert width(shaped(lip_width=1.0)) > source_width + 0.1
    assert width(shaped(lip_width=-1.0)) < source_width - 0.1
    assert width(shaped(rounding=1.0)) < source_width - 0.15
    with pytest.raises(AUError, match="unknown mouth controls"):
        MouthShape.from_mapping({"jaw": 1.0})


def test_displacements_turn_with_roll_and_shrink_with_yaw(warp_cases) -> None:
    points = np.asarray(warp_cases[0].landmarks.points, np.float64)
    centre = points[:, :2].mean(axis=0)
    upright = au_displacements(points, {1: 5})
    angle = np.deg2rad(25.0)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    rolled = points.copy()
    rolled[:, :2] = (points[:, :2] - centre) @ turn.T + centre
    rolled_moves = au_displacements(rolled, {1: 5})
    assert np.allclose(rolled_moves, upright @ turn.T, atol=0.05 * np.abs(upright).max())

    geometry = AUGeometry.from_landmarks(points)
    frame = geometry.frame
    yawed = L.FaceFrame(frame.origin, frame.rotation @ rotation_from_angles(50, 0, 0),
                        frame.iod_px)
    sideways_frontal = np.abs(geometry.displacements({20: 5})[:, 0]).max()
    sideways_yawed = np.abs(geometry.displacements({20: 5}, frame=yawed)[:, 0]).max()
    assert sideways_yawed < 0.8 * sideways_frontal


def test_smile_bends_the_mouth_without_tearing_or_widening_the_face(geometry) -> None:
    """AU 12 lifts the corners along the zygomaticus while the middle of the lips stays:
    no sideways split at the midline, and the jaw outline does not move."""
    field = geometry.au_fields[12]
    mouth = geometry.regions.mouth
    corners = field[list(L.MOUTH_CORNERS)]
    assert np.all(-corners[:, 1] > 0.12) and np.all(np.abs(corners[:, 0]) < 0.1)
    middle = (np.abs(mouth.mouth_u) < 0.15) & (np.maximum(mouth.upper_zone,
                                                           mouth.lower_zone) > 0.5)
    assert middle.sum() >= 4
    assert np.abs(field[middle, 0]).max() < 0.015
    upper_lip_middle = -field[[0, 13], 1]
    assert np.all(upper_lip_middle < 0.25 * -corners[:, 1].mean())
    face = geometry.face
    jaw_outline = [i for i in L.FACE_OVAL if face[i, 1] > face[L.MOUTH_CORNERS[0], 1]]
    assert np.linalg.norm(field[jaw_outline], axis=1).max() < 0.01


def test_inner_brow_raise_lifts_the_middle_of_the_brow_with_its_inner_end(geometry) -> None:
    """AU 1 (medial frontalis) turns each brow oblique: the inner end up most, the medial half
    of the brow up with it (real inner-brow raises move it all), the tail not at all, and
    nothing of the brow moves down."""
    lift = -geometry.au_fields[1][:, 1]
    for brow in (L.RIGHT_BROW_LOWER, L.LEFT_BROW_LOWER):  # outer end to inner end
        outer, _, middle, medial, inner = (float(lift[i]) for i in brow)
        assert inner > medial > middle > outer >= -1e-6
        assert medial > 0.5 * inner and middle > 0.08 * inner
        assert outer < 0.05 * inner


def test_frown_turns_the_corners_down_and_holds_the_lower_lip_up(geometry) -> None:
    """AU 15 drops the corners while the middle of the lower lip is held up against the upper
    lip by well over a third of that drop, as real sad mouths keep their lips together (d18,
    d8); the upper lip's middle stays, and the corners move out only a little."""
    field = geometry.au_fields[15]
    corners = field[[L.UPPER_OUTER_LIP[0], L.UPPER_OUTER_LIP[-1]]]
    assert np.all(corners[:, 1] > 0.1) and np.all(np.abs(corners[:, 0]) < 0.04)
    drop = float(corners[:, 1].mean())
    lower_lip_middle = -field[[14, 17], 1]
    assert np.all(lower_lip_middle > 0.35 * drop)
    assert np.abs(field[[0, 13], 1]).max() < 0.1 * drop
