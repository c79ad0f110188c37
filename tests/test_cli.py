"""The command line: exit codes, one-line errors, nothing left behind (CliRunner and subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fgemotalk_cli.cli import app, main

runner = CliRunner()
COMMANDS = ["reenact", "speak", "edit-au", "train", "eval", "presets", "aus", "info", "prepare"]


@pytest.fixture()
def grey_png(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "grey.png"
    Image.fromarray(np.full((256, 256, 3), 128, np.uint8)).save(path)
    return path


@pytest.fixture()
def garbage_mp4(tmp_path: Path) -> Path:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"this is not a video" * 100)
    return path


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
    assert f"fgemotalk {command}" in result.output


@pytest.mark.parametrize(
    ("au", "message"),
    [
        ("13=2", "AU 13 is not supported"),
        ("12=7", "outside 0..5"),
        ("12:=4", "malformed"),
        ("12=4,,1=2", "empty AU entry"),
        ("12=4,12=1", "more than once"),
        ("smile", "malformed"),
    ],
)
def test_bad_au_strings_exit_2_with_one_line(tmp_path: Path, au: str, message: str,
                                             shared_media: Path) -> None:
    output = tmp_path / "out.mp4"
    source = shared_media / "portraits" / "sadtalker_sad.png"
    driver = shared_media / "driving" / "liveportrait_d1.mp4"
    result = runner.invoke(app, ["reenact", str(source), str(driver), "--au", au,
                                 "-o", str(output)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not output.exists()


def test_missing_source_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["edit-au", str(tmp_path / "nope.png"), "--au", "12=3"])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: input not found: {tmp_path / 'nope.png'}"


def test_unknown_preset_lists_the_available_ones(grey_png: Path) -> None:
    result = runner.invoke(app, ["edit-au", str(grey_png), "--preset", "elated"])
    assert result.exit_code == 2
    assert "unknown preset 'elated'; available:" in result.stderr and "happy" in result.stderr


def test_presets_and_aus_json() -> None:
    presets = json.loads(runner.invoke(app, ["presets", "--json"]).stdout)
    assert presets["happy"] == {"1": 1.0, "12": 2.5}
    aus = json.loads(runner.invoke(app, ["aus", "--json"]).stdout)
    assert [row["au"] for row in aus if row["paper"]] == [1, 2, 4, 5, 6, 9, 12]


def test_neural_without_checkpoint_explains_how_to_get_one(grey_png: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FGEMOTALK_CHECKPOINT", raising=False)
    result = runner.invoke(app, ["edit-au", str(grey_png), "--au", "12=3", "--engine", "neural"])
    assert result.exit_code == 2
    assert "needs a trained checkpoint" in result.stderr and "fgemotalk train" in result.stderr


def test_parser_errors_are_one_line_through_main(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reenact", "--no-such-option"]) == 2
    assert capsys.readouterr().err.strip() == "error: No such option: --no-such-option"


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fgemotalk_cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_subprocess_no_face_in_source(tmp_path: Path, grey_png: Path, shared_media: Path) -> None:
    driver = shared_media / "driving" / "liveportrait_d1.mp4"
    done = _run_cli("reenact", str(grey_png), str(driver), "-o", "out.mp4", "--quiet",
                    cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: no face found in the source image {grey_png}"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grey.png"]


def test_subprocess_unreadable_video(tmp_path: Path, garbage_mp4: Path,
                                     shared_media: Path) -> None:
    source = shared_media / "portraits" / "sadtalker_sad.png"
    done = _run_cli("reenact", str(source), str(garbage_mp4), "-o", "out.mp4", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot read video" in lines[0] and "broken.mp4" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4"]


def test_subprocess_existing_output_is_kept(tmp_path: Path, shared_media: Path) -> None:
    source = shared_media / "portraits" / "sadtalker_sad.png"
    existing = tmp_path / "kept.png"
    existing.write_bytes(b"precious")
    done = _run_cli("edit-au", str(source), "--au", "12=4", "-o", "kept.png", cwd=tmp_path)
    assert done.returncode == 2
    assert "--overwrite" in done.stderr
    assert existing.read_bytes() == b"precious"


def test_subprocess_bad_au_and_missing_audio(tmp_path: Path, shared_media: Path) -> None:
    source = shared_media / "portraits" / "sadtalker_sad.png"
    done = _run_cli("speak", str(source), "missing.wav", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: audio file not found: missing.wav"
    done = _run_cli("speak", str(source), "missing.wav", "--au", "99=1", cwd=tmp_path)
    assert done.returncode == 2 and "AU 99 is not supported" in done.stderr
    assert list(tmp_path.iterdir()) == []


_RUN_PROBE = """
import atexit, sys, threading, time
from pathlib import Path
atexit.register(lambda: print("exit handler ran", flush=True))
if len(sys.argv) > 2:  # a script's own worker thread, still writing when the command ends
    def late(marker=Path(sys.argv[2])):
        time.sleep(0.5)
        marker.write_text("done")
    threading.Thread(target=late).start()
sys.argv = ["fgemotalk", "edit-au", sys.argv[1], "--au", "12=3"]
from fgemotalk_cli.cli import run
run()
"""


def test_the_command_exits_quickly_with_its_code_and_exit_handlers(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.png")
    done = subprocess.run([sys.executable, "-c", _RUN_PROBE, missing], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: input not found")
    assert "exit handler ran" in done.stdout
    marker = tmp_path / "marker"
    done = subprocess.run([sys.executable, "-c", _RUN_PROBE, missing, str(marker)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and marker.read_text() == "done"  # waited for the thread
