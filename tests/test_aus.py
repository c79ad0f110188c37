"""AU catalogue, `--au` parsing, presets and timelines."""

from __future__ import annotations

from pathlib import Path

import pytest

from fgemotalk_cli.errors import AUError
from fgemotalk_cli.expression.aus import (
    CATALOGUE,
    PAPER_AUS,
    ExpressionControl,
    bundled_presets,
    expression_control,
    load_preset,
    load_timeline,
    parse_au_spec,
)


def test_catalogue_has_paper_set_and_mouth_eye_aus() -> None:
    assert PAPER_AUS == (1, 2, 4, 5, 6, 9, 12)
    for au in (7, 10, 15, 17, 20, 23, 25, 26, 43, 45):
        assert au in CATALOGUE
    assert CATALOGUE[12].name == "Lip Corner Puller"
    assert all(unit.region for unit in CATALOGUE.values())


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (["12=4"], {12: 4.0}),
        (["12=4,1=2.5"], {12: 4.0, 1: 2.5}),
        (["12=4", "1=2.5"], {12: 4.0, 1: 2.5}),
        (["AU12=0"], {12: 0.0}),
        ([" 4 = 5 "], {4: 5.0}),
        (["6=.5"], {6: 0.5}),
    ],
)
def test_parse_valid(specs: list[str], expected: dict[int, float]) -> None:
    assert parse_au_spec(specs) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("13=2", "AU 13 is not supported"),
        ("12=6", "outside 0..5"),
        ("12=-1", "outside 0..5"),
        ("12=nan", "malformed"),
        ("12", "malformed"),
        ("=4", "malformed"),
        ("twelve=4", "malformed"),
        ("12=4,", "empty AU entry"),
        ("12=4,12=3", "more than once"),
    ],
)
def test_parse_errors(spec: str, message: str) -> None:
    with pytest.raises(AUError, match=message):
        parse_au_spec(spec)


def test_duplicate_across_repeated_options() -> None:
    with pytest.raises(AUError, match="more than once"):
        parse_au_spec(["12=4", "1=1,12=2"])


def test_bundled_presets_follow_paper_and_name_sources() -> None:
    presets = bundled_presets()
    assert set(presets) >= {"happy", "sad", "disgust", "surprise", "fear", "anger", "contempt",
                            "neutral"}
    assert set(presets["happy"].aus) == {1, 12}
    assert set(presets["sad"].aus) == {4, 5, 9}
    assert set(presets["disgust"].aus) == {4, 6, 9}
    assert presets["neutral"].aus == {}
    for preset in presets.values():
        assert preset.source, f"{preset.name} must name its source"
        assert all(0 <= v <= 5 for v in preset.aus.values())


def test_explicit_au_overrides_preset() -> None:
    control = expression_control(["12=1,6=2"], "happy", "replace")
    assert control.au_intensities == {1: 1.0, 12: 1.0, 6: 2.0}
    assert control.au_mode == "replace"


def test_user_preset_file_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "mine.yaml"
    good.write_text("name: mine\naus: {AU12: 3, 2: 1.5}\n")
    assert load_preset(str(good)).aus == {12: 3.0, 2: 1.5}
    bad = tmp_path / "bad.yaml"
    bad.write_text("aus: {13: 3}\n")
    with pytest.raises(AUError, match="AU 13 is not supported in preset bad.yaml"):
        load_preset(str(bad))
    with pytest.raises(AUError, match="unknown preset 'joyful'; available: anger"):
        load_preset("joyful")
    with pytest.raises(AUError, match="preset file not found"):
        load_preset(str(tmp_path / "missing.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("aus: {12: [\n")
    with pytest.raises(AUError, match="not valid YAML"):
        load_preset(str(broken))


def test_timeline_interpolates_and_holds(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "keyframes:\n"
        "  - {time: 1.0, aus: {12: 0}}\n"
        "  - {time: 2.0, aus: {12: 4, 1: 2}}\n"
        "  - {time: 4.0, preset: sad}\n"
    )
    timeline = load_timeline(path)
    assert timeline.at(0.0) == {1: 0.0, 4: 0.0, 5: 0.0, 9: 0.0, 12: 0.0}
    assert timeline.at(1.5)[12] == pytest.approx(2.0)
    assert timeline.at(1.5)[1] == pytest.approx(1.0)
    assert timeline.at(3.0)[12] == pytest.approx(2.0)
    assert timeline.at(3.0)[4] == pytest.approx(1.5)
    assert timeline.at(10.0)[4] == 3.0 and timeline.at(10.0)[12] == 0.0


def test_smooth_timeline_eases(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("interpolation: smooth\nkeyframes:\n - {time: 0, aus: {12: 0}}\n"
                    " - {time: 1, aus: {12: 5}}\n")
    timeline = load_timeline(path)
    assert timeline.at(0.1)[12] < 0.5  # slower than linear near a keyframe
    assert timeline.at(0.5)[12] == pytest.approx(2.5)
    values = [timeline.at(t / 20)[12] for t in range(21)]
    assert values == sorted(values)


def test_control_combines_constant_and_timeline(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("keyframes:\n - {time: 0, aus: {12: 0}}\n - {time: 2, aus: {12: 4}}\n")
    control = expression_control(["1=3,12=1"], None, "add", path)
    assert control.at(1.0) == {1: 3.0, 12: 2.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("keyframes: []\n", "no keyframes"),
        ("frames: []\n", "needs a 'keyframes' list"),
        ("keyframes:\n - {aus: {12: 1}}\n", "needs a 'time'"),
        ("keyframes:\n - {time: 1, aus: {12: 1}}\n - {time: 1, aus: {12: 2}}\n",
         "strictly increase"),
        ("interpolation: cubic\nkeyframes:\n - {time: 1, aus: {12: 1}}\n", "linear or smooth"),
        ("keyframes:\n - {time: -1, aus: {12: 1}}\n", "non-negative"),
        ("keyframes:\n - {time: 0, aus: {12: 9}}\n", "outside 0..5 in keyframe 1"),
    ],
)
def test_timeline_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(AUError, match=message):
        load_timeline(path)


def test_bad_mode() -> None:
    with pytest.raises(AUError, match="add or replace"):
        expression_control(["12=1"], None, "multiply")


def test_requested_aus_are_the_moved_ones_and_the_timeline_s(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("keyframes:\n  - {time: 0.0, aus: {4: 1}}\n  - {time: 1.0, aus: {15: 3}}\n")
    control = ExpressionControl(au_intensities={12: 3.0, 6: 0.0}, timeline=load_timeline(path))
    assert control.requested_aus == {4, 12, 15}  # AU 6 at 0 moves nothing
    assert ExpressionControl(au_intensities={12: 0.0}).requested_aus == set()
