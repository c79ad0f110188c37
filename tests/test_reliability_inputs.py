"""Hostile-but-realistic inputs: truncated media, hostile YAML and checkpoints, the JSON contract.

Each bad input must give exit code 2, exactly one line on stderr, nothing on stdout and
nothing in the output folder (real subprocesses, as a shell loop would run them).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fgemotalk_cli.errors import AUError
from fgemotalk_cli.safe_yaml import load_user_yaml
from tests.reliability_helpers import assert_user_error, cut_file, run_cli, write_face_clip

# Nine levels of nine-fold aliases: 9**9 (387 million) strings from a 700-byte file.
BILLION_LAUGHS = (
    "name: lol\naus: {12: 3}\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * 9)}]\n" for k in range(1, 9))
    + "description: [*l8, *l8, *l8, *l8, *l8, *l8, *l8, *l8, *l8]\n"
)


@pytest.fixture(scope="module")
def inputs(shared_media: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    clip = folder / "driver.mp4"
    write_face_clip(shared_media / "driving" / "liveportrait_d5.mp4", clip, seconds=2.0)
    files = {
        "portrait": shared_media / "portraits" / "sadtalker_sad.png",
        "driver": clip,
        "cut_to_40": cut_file(clip, folder / "cut_to_40.mp4", 0.4),
        "cut_to_85": cut_file(clip, folder / "cut_to_85.mp4", 0.85),
    }
    texts = {
        "laughs.yaml": BILLION_LAUGHS,
        "typo.yaml": "name: typo\naus: {12: 3}\nintensty: 2\n",
        "broken.yaml": "stage: 1\nrun_dir: [runs/a\ndata: {roots: [d]}\n",
        "stage7.yaml": "stage: 7\n",
        "weights.pth": "these are not weights\n" * 20,
    }
    for name, text in texts.items():
        (folder / name).write_text(text)
        files[name] = folder / name
    (folder / "a_folder").mkdir()
    files["a_folder"] = folder / "a_folder"
    files.update(_checkpoints(folder))
    return files


def _checkpoints(folder: Path) -> dict[str, Path]:
    import torch

    from models.checkpoint import FORMAT_NAME, FORMAT_VERSION

    marker = folder / "payload_ran"

    class Payload:  # what a malicious "checkpoint" carries: code run by plain pickle.load
        def __reduce__(self) -> tuple:
            return (os.system, (f"touch {marker}",))

    header = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "config": {},
              "au_list": [12], "stages": ["stage1"]}
    torch.save({**header, "parts": {}, "extra": {"trainer": Payload()}}, folder / "pickled.pt")
    torch.save({**header, "parts": {"encoder": 5}}, folder / "bad_parts.pt")
    torch.save({**header, "parts": {"encoder": {"w": torch.zeros(50_000)}}}, folder / "whole.pt")
    return {"pickled.pt": folder / "pickled.pt", "payload_ran": marker,
            "bad_parts.pt": folder / "bad_parts.pt",
            "truncated.pt": cut_file(folder / "whole.pt", folder / "truncated.pt", 0.5)}


# Each case: the command line (given the inputs and an empty output folder) and words its one
# error line must hold.
Case = Callable[[dict[str, Path], Path], list[object]]
BAD_INPUTS: dict[str, tuple[Case, str]] = {
    "billion-laughs preset": (lambda f, out: ["edit-au", f["portrait"], "--preset",
                                              f["laughs.yaml"], "-o", out / "e.png"],
                              "YAML alias"),
    "unknown preset key": (lambda f, out: ["edit-au", f["portrait"], "--preset", f["typo.yaml"],
                                           "-o", out / "e.png"], "unknown key(s) intensty"),
    "billion-laughs training config": (lambda f, out: ["train", f["laughs.yaml"]],
                                       "YAML alias"),
    "broken training YAML": (lambda f, out: ["train", f["broken.yaml"]],
                             "is not valid YAML (line 3"),
    "stage 7": (lambda f, out: ["train", f["stage7.yaml"]], "stage must be 1, 2 or 3, got 7"),
    "folder as training config": (lambda f, out: ["train", f["a_folder"]], "is a folder"),
    "folder as checkpoint": (lambda f, out: ["info", f["a_folder"]], "is a folder"),
    "pickled payload checkpoint": (lambda f, out: ["info", f["pickled.pt"]],
                                   "pickled Python objects"),
    "truncated checkpoint": (lambda f, out: ["info", f["truncated.pt"]], "truncated or corrupted"),
    "parts not a mapping": (lambda f, out: ["info", f["bad_parts.pt"]], "part 'encoder'"),
    "image as driver": (lambda f, out: ["reenact", f["portrait"], f["portrait"], "-o",
                                        out / "r.mp4"], "is an image, not a video"),
    "text as LPIPS weights": (lambda f, out: ["eval", f["driver"], "--reference", f["driver"],
                                              "--lpips-weights", f["weights.pth"]],
                              "not a PyTorch weights file"),
    "video cut to 40%": (lambda f, out: ["reenact", f["portrait"], f["cut_to_40"], "-o",
                                         out / "r.mp4"], "frames could be decoded"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_nothing_written(inputs: dict[str, Path],
                                                           tmp_path: Path, case: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    build, words = BAD_INPUTS[case]
    args = build(inputs, out)
    started = time.monotonic()
    # --json where the command has it: an error must still be one stderr line, no stdout.
    extra = {"info": ["--json"], "eval": ["--quiet", "--json"], "reenact": ["--quiet", "--json"]}
    result = run_cli(*args, *extra.get(str(args[0]), ["--quiet"]), cwd=tmp_path, timeout=60)
    line = assert_user_error(result, out)
    assert line.startswith("error: ") and words in line, line
    assert len(line) < 400, line  # a sentence, not pages of library internals
    assert "weights_only" not in line  # never advise turning the unpickling safety off
    if "billion" in case:
        assert time.monotonic() - started < 30  # it used to grow ~30 MB/s until killed
    assert not inputs["payload_ran"].exists()


def test_aliases_are_refused_before_anything_is_built(inputs: dict[str, Path]) -> None:
    started = time.perf_counter()
    with pytest.raises(AUError, match="alias"):
        load_user_yaml(inputs["laughs.yaml"], "preset file", AUError)
    assert time.perf_counter() - started < 0.5


def test_a_truncated_driver_warns_with_counts(inputs: dict[str, Path], tmp_path: Path) -> None:
    result = run_cli("reenact", inputs["portrait"], inputs["cut_to_85"], "-o", tmp_path / "r.mp4",
                     "--quiet", "--json", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr[-2000:]
    (warning,) = json.loads(result.stdout)["warnings"]
    assert "looks truncated: only" in warning and "of its 60 frames decoded" in warning
    # Without --json (and --quiet, which silences stderr) it is a line beside the progress bar.
    result = run_cli("reenact", inputs["portrait"], inputs["cut_to_85"], "-o", tmp_path / "t.mp4",
                     cwd=tmp_path)
    assert f"warning: {warning}" in result.stderr_lines
    assert result.stdout_lines == [str(tmp_path / "t.mp4")]


def test_prepare_skips_damaged_clips_and_says_so(inputs: dict[str, Path], tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("cut_to_40", "cut_to_85"):
        (videos / f"{name}.mp4").write_bytes(inputs[name].read_bytes())
    result = run_cli("prepare", videos, tmp_path / "data", "--size", "64", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr_lines if line.startswith("warning: ")]
    assert len(warnings) == 2 and all("skipped" in line for line in warnings)
    assert any("truncated" in line for line in warnings)
    summary = json.loads(result.stdout)
    assert summary["clips"] == 0 and summary["skipped"] == 2 and len(summary["warnings"]) == 2
    assert list((tmp_path / "data" / "clips").iterdir()) == []  # no half-written clip


def test_damaged_packets_are_skipped_not_fatal(inputs: dict[str, Path], tmp_path: Path) -> None:
    """Garbage over a stretch of the file used to abort the whole run at that packet."""
    from fgemotalk_cli.media.video import DecodeReport, iter_frames

    data = inputs["driver"].read_bytes()
    warnings = []
    for fraction in (0.3, 0.6, 0.7):
        damaged = bytearray(data)
        start = int(len(damaged) * fraction)
        damaged[start:start + 400] = b"\xff" * 400
        path = tmp_path / f"damaged_{fraction}.mp4"
        path.write_bytes(bytes(damaged))
        report = DecodeReport()
        frames = sum(1 for _ in iter_frames(path, report=report))
        assert frames == report.decoded_frames >= 30
        warnings.append(report.warning())
    assert any(w and "unreadable packet(s) skipped" in w for w in warnings), warnings


@pytest.mark.parametrize(
    ("expected", "exact", "decoded", "finished", "warns"),
    [
        (60, True, 60, True, False),
        (60, True, 59, True, False),  # one frame of rounding between header and stream
        (60, True, 50, True, True),
        (60, True, 10, False, False),  # the caller stopped reading: nothing is known missing
        (100, False, 92, True, False),  # duration * fps estimates get 10% of slack
        (100, False, 80, True, True),
        (0, False, 5, True, False),  # no header count at all
    ],
)
def test_decode_report_counts_missing_frames(expected: int, exact: bool, decoded: int,
                                             finished: bool, warns: bool) -> None:
    from fgemotalk_cli.media.video import DecodeReport

    report = DecodeReport(Path("clip.mp4"), expected, exact, decoded, 0, finished)
    assert (report.warning() is not None) is warns
    if warns:
        assert f"only {decoded} of its {expected} frames decoded" in report.warning()
