"""The AU-response study's summary: means, the weakest face with room, off-target."""

from __future__ import annotations

import pytest

from fgemotalk_cli.evaluation.au_readout_study import (
    SCORE_CEILING,
    ReadoutRow,
    ReadoutStudy,
    has_room,
)
from fgemotalk_cli.expression.readout import CHANGE_RULES, READOUT_RULES


def _row(image: str, source: float, measured: float, off: float = 0.0,
         room: bool = True) -> ReadoutRow:
    return ReadoutRow(image, 26, 5.0, source, measured, off, None, room)


def test_faces_without_room_count_in_the_mean_but_not_in_the_room_figures() -> None:
    study = ReadoutStudy((
        _row("open_mouth", source=4.9, measured=0.0, room=False),  # rests wide open
        _row("closed_a", source=0.1, measured=4.0, off=1.0),
        _row("closed_b", source=1.0, measured=5.0),
    ))
    (entry,) = study.summary()
    assert entry["measured_mean"] == pytest.approx(3.0)
    assert entry["measured_min"] == pytest.approx(4.0)
    assert entry["measured_mean_room"] == pytest.approx(4.5)
    assert entry["faces_with_room"] == 2
    assert entry["off_target_mean"] == pytest.approx(1 / 3)
    header, line = study.table().splitlines()
    assert "faces with room" in header and line.split()[-1] == "4.50"
    assert line.split()[-2] == "2"


def test_room_follows_the_flag_not_the_source_reading() -> None:
    # A face reading 3 at rest that the ruler can still show rising counts; the rule, not a
    # threshold on the reading, decides.
    (entry,) = ReadoutStudy((_row("raised", source=3.0, measured=4.5),
                             _row("wide", source=1.0, measured=0.0, room=False))).summary()
    assert entry["measured_min"] == pytest.approx(4.5)


def test_no_face_with_room_gives_no_room_figures() -> None:
    (entry,) = ReadoutStudy((_row("open_mouth", source=3.0, measured=1.0, room=False),)).summary()
    assert entry["measured_min"] is None and entry["measured_mean_room"] is None
    assert entry["faces_with_room"] == 0


@pytest.mark.parametrize("au", [1, 2, 4, 12, 20, 26, 43])
def test_a_blendshape_read_au_has_room_while_its_reference_rise_fits_under_the_ceiling(
        au: int) -> None:
    span = CHANGE_RULES[au].change_span
    assert has_room(au, READOUT_RULES[au].floor)
    assert has_room(au, SCORE_CEILING - span - 0.01)
    assert not has_room(au, SCORE_CEILING - span + 0.01)


def test_a_face_resting_wide_open_has_no_room_for_a_jaw_drop_but_a_closed_one_has() -> None:
    assert not has_room(26, 0.87)  # liveportrait_d19's rest: jawOpen 0.87
    assert has_room(26, 0.02)


@pytest.mark.parametrize("au", [5, 15])
def test_a_change_read_from_the_mesh_has_no_ceiling(au: int) -> None:
    assert has_room(au, 0.0) and has_room(au, 0.99)
