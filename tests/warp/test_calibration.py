"""Closed-loop AU calibration: tables solved per face from renders read back by the model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fgemotalk_cli.engines.warp.calibration import (
    CALIBRATED_AUS,
    MAX_SHARE,
    PROBE_SHARES,
    _Probe,
    calibrate,
    calibrated_source,
    calibration_crop,
)
from fgemotalk_cli.engines.warp.engine import edit_source, target_from_controls
from fgemotalk_cli.evaluation.au_readout_study import readout_study
from fgemotalk_cli.expression.blendshapes import BlendshapeReader
from fgemotalk_cli.expression.readout import CHANGE_RULES, READOUT_RULES


@pytest.fixture(scope="module")
def reader():
    with BlendshapeReader(video_mode=False) as model:
        yield model


@pytest.fixture(scope="module")
def calibrated(warp_cases, reader):
    return calibrated_source(warp_cases[0].source, reader)


def test_tables_are_monotone_bounded_and_start_at_zero(calibrated) -> None:
    source, calibration = calibrated
    assert set(calibration.response) <= {*CALIBRATED_AUS, 45}
    assert {12, 26} <= set(calibration.response)
    for au, table in calibration.response.items():
        assert len(table) == 6 and table[0] == 0.0
        assert all(b >= a for a, b in zip(table, table[1:]))
        assert table[-1] <= MAX_SHARE.get(au, PROBE_SHARES[-1]) + 1e-9
        assert source.geometry.share(au, 5.0) == pytest.approx(table[-1])
    assert calibration.response.get(45) == calibration.response.get(43)
    assert calibration.source_aus and 6 not in calibration.source_aus  # not estimated


def test_calibrated_smile_reads_as_requested(warp_cases, calibrated, reader) -> None:
    source, _ = calibrated
    rule = READOUT_RULES[12]
    base = rule.score(reader.read(warp_cases[0].image).scores)
    readings = [rule.score(reader.read(edit_source(source, {12: k})).scores) - base
                for k in (1.0, 3.0, 5.0)]
    assert readings[0] > 0.02  # intensity 1 is visible, not lost in the model's dead zone
    assert readings[0] < readings[1] < readings[2]
    assert rule.intensity(rule.floor + readings[2]) > 3.5


def test_a_face_the_model_cannot_see_keeps_the_general_table(warp_cases) -> None:
    class Blind:
        def read(self, image, time_seconds=0.0):
            return None

    calibration = calibrate(warp_cases[0].source, Blind())
    assert calibration.response == {} and "no face" in calibration.notes[0]
    source, _ = calibrated_source(warp_cases[0].source, Blind())
    assert source.geometry is warp_cases[0].source.geometry


def test_readout_study_of_an_identity_edit_measures_nothing(warp_cases) -> None:
    image = warp_cases[0].image
    study = readout_study({"s42": image}, [12, 1], [1, 5], lambda picture, vector: picture)
    assert [row.measured for row in study.rows] == [0.0] * 4
    assert all(row.off_target == 0.0 and row.off_target_au is None for row in study.rows)
    entry = study.summary()[0]
    assert entry["au"] == 1 and entry["measured_mean"] == 0.0


def test_readout_study_in_context_reads_against_the_context_alone(warp_cases) -> None:
    # AU 5 read as in real wide eyes, with the brows raised: the reference is the face with
    # the context alone, every edit carries the context, and the context's own AUs are no
    # off-target movement of the AU studied.
    from fgemotalk_cli.engines.warp.engine import edit_source

    source = warp_cases[0].source
    asked: list[dict[int, float]] = []

    def edit(picture, vector):
        asked.append(dict(vector))
        return edit_source(source, vector)

    context = {1: 4.0, 2: 4.0}
    study = readout_study({"s42": warp_cases[0].image}, [5], [5], edit, context)
    assert asked == [context, {1: 4.0, 2: 4.0, 5: 5.0}]
    (row,) = study.rows
    assert row.off_target_au not in (1, 2) and row.measured > 1.0
    alone = readout_study({"s42": warp_cases[0].image}, [1], [4], edit)
    assert alone.rows[0].measured > 1.0  # what the context itself moves, which is not counted


def test_removed_shares_give_back_negative_projections(warp_cases) -> None:
    from fgemotalk_cli.engines.warp.motion import MotionTransfer

    geometry = warp_cases[0].source.geometry
    transfer = MotionTransfer(geometry, warp_cases[0].source.points, au_mode="replace",
                              smoothing=None)
    smile = geometry.au_fields[12]
    removed = transfer.removed_shares({12: 0.0, 43: 0.0}, -0.5 * smile)
    assert removed[12] == pytest.approx(-0.5) and 43 not in removed
    geometry = replace(warp_cases[0].source, geometry=geometry).geometry
    assert np.allclose(geometry.offsets({12: 0.0}, removed_shares={12: -0.5}),
                       geometry.offsets({}, removed_shares={12: -0.5}))


def test_the_engine_calibrates_only_the_aus_a_job_asks_for(warp_cases) -> None:
    from fgemotalk_cli.engines.warp.au_geometry import GENERAL_RESPONSE
    from fgemotalk_cli.engines.warp.engine import WarpEngine

    case = warp_cases[0]
    engine = WarpEngine(calibrate="auto")
    state = engine.prepare(case.image, case.landmarks)
    assert state.calibrator is None  # nothing asked for yet: nothing read or rendered
    engine.edit(state, [{12: 3.0}], "add")
    assert state.calibrator is not None and state.calibrator.tried == {12}
    assert state.source.geometry.response[12] == state.calibrator.response[12]
    assert state.source.geometry.response[4] == GENERAL_RESPONSE[4]  # not asked for
    engine.edit(state, [{4: 2.0, 12: 1.0}], "add")
    assert state.calibrator.tried == {4, 12}
    off = WarpEngine(calibrate="off")
    state = off.prepare(case.image, case.landmarks)
    off.edit(state, [{12: 3.0}], "add")
    assert state.calibrator is None and state.source.geometry.response[12] == GENERAL_RESPONSE[12]


def test_headroom_scales_added_aus_but_not_what_replace_removes(warp_cases) -> None:
    geometry = warp_cases[0].source.geometry
    roomy = geometry.with_headroom({12: 0.25})
    added = roomy.offsets({12: 4.0}) - roomy.offsets({})
    full = geometry.offsets({12: 4.0}) - geometry.offsets({})
    assert np.abs(added).max() < 0.4 * np.abs(full).max()
    assert np.allclose(roomy.offsets({}, removed_shares={12: 0.5}),
                       geometry.offsets({}, removed_shares={12: 0.5}))
    assert roomy.with_response({12: roomy.response[12]}).headroom == {12: 0.25}
    # `replace` takes the face's own smile away first: the value it sets gets the full share.
    assert np.allclose(roomy.offsets({12: 4.0}, removed_shares={12: 1.0}),
                       geometry.offsets({12: 4.0}, removed_shares={12: 1.0}))


def test_a_face_already_at_the_top_of_an_au_gets_only_its_room(warp_cases) -> None:
    from fgemotalk_cli.engines.warp.calibration import MIN_ROOM, FaceCalibrator

    rule = READOUT_RULES[12]

    class Saturated:  # reads a broad smile and the same mesh whatever the render shows
        def read(self, image, time_seconds=0.0):
            from fgemotalk_cli.expression.blendshapes import BlendshapeFace

            scores = dict.fromkeys(("mouthSmileLeft", "mouthSmileRight"), rule.strong + 0.1)
            return BlendshapeFace({**dict.fromkeys(_ALL_SHAPES, 0.0), **scores},
                                  warp_cases[0].landmarks)

    calibrator = FaceCalibrator(warp_cases[0].source, Saturated())
    assert calibrator.solve([12, 1]) == {}
    assert calibrator.headroom == {12: MIN_ROOM}  # AU 1 reads 0 here: no room limit


_ALL_SHAPES = sorted({name for rule in READOUT_RULES.values() for name in rule.blendshapes})


def test_a_calibrated_frown_reads_on_the_mesh(warp_cases, reader) -> None:
    """AU 15 is solved on the mesh read-out (mouthFrown misses real ones): the solved
    strengths read back on that scale, rising with the intensity."""
    from fgemotalk_cli.engines.warp.calibration import FaceCalibrator
    from fgemotalk_cli.expression.readout import CHANGE_RULES

    case = warp_cases[0]
    calibrator = FaceCalibrator(case.source, reader)
    tables = calibrator.solve([15])
    assert set(tables) == {15}
    source = replace(case.source, geometry=case.source.geometry.with_response(tables))
    rest = reader.read(case.image)
    rule = CHANGE_RULES[15]
    readings = [rule.change_intensity(rule.signal(reader.read(edit_source(source, {15: k})))
                                      - rule.signal(rest)) for k in (1.0, 5.0)]
    assert 0.3 < readings[0] < readings[1]
    assert readings[1] > 2.5


def test_wide_eyes_raise_the_lid_as_far_as_real_ones_on_every_face(warp_cases,
                                                                    reader) -> None:
    """AU 5 is a lid rise measured on real wide eyes, not a read-out's: calibrating leaves
    its table, and at 5 the upper lid stands 0.04-0.06 IOD above its rest on every face
    (d7's strongest real wide eyes: 0.035). Following the landmarker, which sees a third of
    a rendered lid's move, raised it 0.08-0.12 IOD: a white dome over the iris."""
    from fgemotalk_cli.engines.warp.calibration import FaceCalibrator

    for case in warp_cases:
        assert FaceCalibrator(case.source, reader).solve([5]) == {}
        points = case.source.points[:, :2]
        target = target_from_controls(case.source, {5: 5.0})[:, :2]
        iod = float(np.linalg.norm(points[263] - points[33]))
        rise = np.mean([points[159, 1] - target[159, 1], points[386, 1] - target[386, 1]]) / iod
        assert 0.04 < rise < 0.065, (case.name, rise)


def test_intensity_5_stops_at_the_strength_that_reads_the_most() -> None:
    """Where the read-out falls again past some strength (a move past what the landmarker
    believes), 5 takes the strength that read the most, not the last one that the monotone
    response carries the same reading out to."""
    rule = CHANGE_RULES[12]
    probe = _Probe(crop=None, reader=None, base=None, au=12)  # type: ignore[arg-type]
    readings = {0.3: 0.4, 0.6: 1.9, 1.2: 2.6, 1.5: 3.0, 2.0: 1.2}  # intensity units
    for share, reading in readings.items():
        probe.shares.append(share)
        probe.changes.append(rule.change_at(reading))
        probe.usable.append(share)
    table = probe.solve(fallback_top=2.0)
    assert table[5] == pytest.approx(1.5)
    assert all(b > a for a, b in zip(table, table[1:]))
    # A response that keeps rising still goes to its largest strength.
    probe.changes[-1] = rule.change_at(3.4)
    assert probe.solve(fallback_top=2.0)[5] > 1.5


def test_an_au_that_reads_only_with_another_keeps_the_general_table() -> None:
    """Strengths within the read-out's noise are usable (nothing else moved) but say nothing:
    where every strength that reads also moves another AU more than half as much, the face
    keeps the general table instead of a table solved on noise."""
    rule = CHANGE_RULES[20]
    probe = _Probe(crop=None, reader=None, base=None, au=20)  # type: ignore[arg-type]
    for share, change, usable in ((0.3, 0.001, True), (0.6, 0.002, True),
                                  (1.2, 0.06, False), (2.6, 0.39, False)):
        probe.shares.append(share)
        probe.changes.append(change)
        if usable:
            probe.usable.append(share)
    assert not probe.reads_alone()
    probe.usable.append(1.2)  # one strength that reads on its own is enough
    assert probe.reads_alone() and probe.peak() == 1.2
    assert 0.002 < 2 * rule.noise < 0.06


def test_a_face_table_stays_within_half_and_one_and_a_half_of_the_general_table() -> None:
    """A read-out that over-reads a face (s2's frown: the calibration crop reads 5 at 0.6 of
    the field, the whole picture 1.1, and the sheet shows a slight frown) cannot shrink its
    intensity 5 below half the general one, as one that under-reads cannot stretch the table
    past 1.5x; the low intensities keep the face's own curve."""
    from fgemotalk_cli.engines.warp.au_geometry import GENERAL_RESPONSE
    from fgemotalk_cli.engines.warp.calibration import (
        MAX_GAIN_OVER_GENERAL,
        MIN_GAIN_UNDER_GENERAL,
    )

    general = np.asarray(GENERAL_RESPONSE[4])
    for readings in ({0.3: 3.3, 0.6: 5.0, 1.2: 5.0}, {0.3: 0.0, 1.2: 0.1, 2.6: 1.0}):
        probe = _Probe(crop=None, reader=None, base=None, au=4)  # type: ignore[arg-type]
        for share, reading in readings.items():
            probe.shares.append(share)
            probe.changes.append(CHANGE_RULES[4].change_at(reading))
            probe.usable.append(share)
        table = np.asarray(probe.solve(fallback_top=2.6))
        assert table[5] >= MIN_GAIN_UNDER_GENERAL * general[5] - 1e-9
        assert np.all(table <= MAX_GAIN_OVER_GENERAL * general + 1e-9)
        assert all(b > a for a, b in zip(table, table[1:]))
        if readings[0.3] > 0:  # the over-read face: intensity 1 stays where it reads 1
            assert table[1] < MIN_GAIN_UNDER_GENERAL * general[1]
            assert np.diff(table).max() <= 0.5 * table[5]  # lifted smoothly, no step at 5
    under_read = np.asarray(probe.solve(fallback_top=2.6))  # the last face read
    assert under_read[5] > general[5]


def test_a_low_browed_face_reaches_its_brow_raise_at_4_within_the_bound() -> None:
    """AU 1's general table is low at 4 (a median over brows resting raised and low ones), so
    1.5 times it capped a face with the read-out's dead zone at 4 (sadtalker_sad's probes
    below read 3.2 there): the brow raises' bound follows their intensity 5 along the square
    of the intensity, which frees 4 and leaves the trace at 1 and intensity 5 bounded as
    before."""
    from fgemotalk_cli.engines.warp.au_geometry import GENERAL_RESPONSE
    from fgemotalk_cli.engines.warp.calibration import MAX_GAIN_OVER_GENERAL, upper_bound

    general = np.asarray(GENERAL_RESPONSE[1])
    bound = upper_bound(1)
    assert bound[4] > MAX_GAIN_OVER_GENERAL * general[4] + 0.1
    assert bound[1] == pytest.approx(MAX_GAIN_OVER_GENERAL * general[1])
    assert bound[5] == pytest.approx(MAX_GAIN_OVER_GENERAL * general[5])
    assert np.all(np.diff(bound) > 0)
    assert np.allclose(upper_bound(4), MAX_GAIN_OVER_GENERAL * np.asarray(GENERAL_RESPONSE[4]))
    probe = _Probe(crop=None, reader=None, base=None, au=1)  # type: ignore[arg-type]
    for share, change in ((0.25, 0.01), (0.51, 0.03), (1.02, 0.33), (1.61, 0.75), (2.2, 0.93)):
        probe.shares.append(share)
        probe.changes.append(change)
        probe.usable.append(share)
    table = np.asarray(probe.solve(fallback_top=2.2))
    assert MAX_GAIN_OVER_GENERAL * general[4] + 0.05 < table[4] <= bound[4] + 1e-9
    assert table[1] <= bound[1] + 1e-9 and table[5] <= bound[5] + 1e-9
    assert all(b > a for a, b in zip(table, table[1:]))


def test_a_face_whose_scores_read_wide_eyes_still_gets_the_lid_raise(warp_cases) -> None:
    """AU 5's change is read from the mesh (no ceiling): a photo whose eyeWide score reads 5
    (cartoon eyes) while the mesh does not follow the lid keeps the whole general table,
    where a broad smile that cannot read broader gets only its room."""
    from fgemotalk_cli.engines.warp.calibration import MIN_ROOM, FaceCalibrator

    saturated = {name: READOUT_RULES[au].strong + 0.1
                 for au in (5, 12) for name in READOUT_RULES[au].blendshapes}

    class WideEyedSmile:  # broad smile, wide eyes, the same mesh whatever the render shows
        def read(self, image, time_seconds=0.0):
            from fgemotalk_cli.expression.blendshapes import BlendshapeFace

            return BlendshapeFace({**dict.fromkeys(_ALL_SHAPES, 0.0), **saturated},
                                  warp_cases[0].landmarks)

    calibrator = FaceCalibrator(warp_cases[0].source, WideEyedSmile())
    assert calibrator.solve([5, 12]) == {}
    assert calibrator.headroom == {12: MIN_ROOM}


def test_probes_rendered_ahead_read_as_probes_rendered_one_by_one(warp_cases, reader) -> None:
    crop = calibration_crop(warp_cases[0].source)
    base = reader.read(crop.image)
    assert base is not None
    shares = [0.5, 1.0, 2.0]
    one_by_one, ahead = _Probe(crop, reader, base, 12), _Probe(crop, reader, base, 12)
    for share in shares:
        one_by_one.measure(share)
    ahead.measure_all(shares)
    assert ahead.shares == one_by_one.shares == [0.0, *shares]
    assert ahead.changes == one_by_one.changes and ahead.usable == one_by_one.usable
    assert max(ahead.changes) > 0  # the smile was drawn and read
