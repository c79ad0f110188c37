"""The AU-response study's summary: means, the weakest face with room, off-target."""

from __future__ import annotations

import pytest

from fgemotalk_cli.evaluation.au_readout_study import ReadoutRow, ReadoutStudy


def _row(image: str, source: float, measured: float, off: float = 0.0) -> ReadoutRow:
    return ReadoutRow(image, 26, 5.0, source, measured, off, None)


def test_faces_without_room_count_in_the_mean_but_not_in_the_room_figures() -> None:
    study = ReadoutStudy((
        _row("open_mouth", source=4.9, measured=0.0),  # rests wide open: no room to rise
        _row("closed_a", source=0.1, measured=4.0, off=1.0),
        _row("closed_b", source=1.0, measured=5.0),
    ))
    (entry,) = study.summary()
    assert entry["measured_mean"] == pytest.approx(3.0)
    assert entry["measured_min"] == pytest.approx(4.0)
    assert entry["measured_mean_room"] == pytest.approx(4.5)
    assert entry["off_target_mean"] == pytest.approx(1 / 3)
    header, line = study.table().splitlines()
    assert "faces with room" in header and line.split()[-1] == "4.50"


def test_no_face_with_room_gives_no_room_figures() -> None:
    (entry,) = ReadoutStudy((_row("open_mouth", source=3.0, measured=1.0),)).summary()
    assert entry["measured_min"] is None and entry["measured_mean_room"] is None
