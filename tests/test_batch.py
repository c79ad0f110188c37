"""`fgemotalk batch`: job files, per-job failures, resuming, one JSON line per job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile

from fgemotalk_cli.batch import read_jobs, run_batch
from fgemotalk_cli.errors import InputError
from fgemotalk_cli.media.audio import load_audio
from fgemotalk_cli.media.encode import VideoWriter
from fgemotalk_cli.media.video import iter_frames, probe_video


@pytest.fixture
def portrait(shared_media: Path) -> Path:
    return shared_media / "portraits" / "sadtalker_sad.png"


def test_reads_jsonl_and_csv_alike(tmp_path: Path, portrait: Path) -> None:
    (tmp_path / "jobs.jsonl").write_text(
        json.dumps({"command": "edit-au", "inputs": [str(portrait)], "output": "out/a.png",
                    "options": {"au": "12=4,6=2", "face-index": 0}}) + "\n\n")
    (tmp_path / "jobs.csv").write_text(
        "command,inputs,output,options\n"
        f'edit-au,{portrait},out/a.png,"au=12=4,6=2 face_index=0"\n')
    from_json, from_csv = read_jobs(tmp_path / "jobs.jsonl"), read_jobs(tmp_path / "jobs.csv")
    assert len(from_json) == len(from_csv) == 1
    for job in (from_json[0], from_csv[0]):
        assert job.command == "edit-au" and job.inputs == (portrait,)
        assert job.output == tmp_path / "out" / "a.png"  # relative to the job file
        assert job.options == {"au": "12=4,6=2", "face_index": 0}


@pytest.mark.parametrize(("line", "message"), [
    ('{"command": "dance", "inputs": ["a.png"], "output": "b.png"}', "command must be one of"),
    ('{"command": "speak", "inputs": ["a.png"], "output": "b.mp4"}', "takes 2 input"),
    ('{"command": "edit-au", "inputs": ["a.png"]}', "needs an output"),
    ('{"command": "edit-au", "inputs": ["a.png"], "output": "b.png", "options": {"fps": 3}}',
     "has no option 'fps'"),
    ('{"command": "speak", "inputs": ["a", "b"], "output": "c", "options": {"fps": "x"}}',
     "must be float"),
    ('{"command": "edit-au", ', "not valid JSON"),
])
def test_a_bad_line_is_named(tmp_path: Path, portrait: Path, line: str, message: str) -> None:
    good = json.dumps({"command": "edit-au", "inputs": [str(portrait)], "output": "x.png",
                       "options": {"au": "12=3"}})
    (tmp_path / "jobs.jsonl").write_text(f"{good}\n{line}\n")
    with pytest.raises(InputError, match=f"job line 2: .*{message}"):
        read_jobs(tmp_path / "jobs.jsonl")


def test_failures_are_per_job_and_a_rerun_skips_what_exists(tmp_path: Path,
                                                             portrait: Path) -> None:
    rows = [
        {"command": "edit-au", "inputs": [str(portrait)], "output": "out/smile.png",
         "options": {"au": "12=4"}},
        {"command": "edit-au", "inputs": ["missing.png"], "output": "out/missing.png",
         "options": {"au": "12=4"}},
        {"command": "edit-au", "inputs": [str(portrait)], "output": "out/brows.png",
         "options": {"preset": "happy"}},
    ]
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    jobs = read_jobs(tmp_path / "jobs.jsonl")
    records: list[dict] = []
    summary = run_batch(jobs, report=records.append, show_progress=False)
    assert (summary.done, summary.skipped, summary.failed) == (2, 0, 1)
    by_line = {record["line"]: record for record in records}
    assert by_line[2]["status"] == "failed" and "not found" in by_line[2]["error"]
    assert (tmp_path / "out" / "smile.png").stat().st_size > 0
    assert not (tmp_path / "out" / "missing.png").exists()
    records.clear()
    again = run_batch(jobs, report=records.append, show_progress=False)
    assert (again.done, again.skipped, again.failed) == (0, 2, 1)


def test_cli_prints_one_json_line_per_job_and_exits_2_on_a_failure(tmp_path: Path,
                                                                   portrait: Path) -> None:
    (tmp_path / "jobs.csv").write_text(
        "command,inputs,output,options\n"
        f"edit-au,{portrait},a.png,au=12=3\n"
        "edit-au,nowhere.png,b.png,au=12=3\n")
    done = subprocess.run([sys.executable, "-m", "fgemotalk_cli", "batch",
                           str(tmp_path / "jobs.csv"), "--workers", "2", "--quiet"],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert done.returncode == 2
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(record["status"] for record in lines) == ["done", "failed"]
    assert (tmp_path / "a.png").exists() and not (tmp_path / "b.png").exists()


@pytest.mark.media
def test_reenact_and_speak_jobs_run_with_their_options(tmp_path: Path, portrait: Path,
                                                       shared_media: Path) -> None:
    """Both two-input commands get source, second input and output in that order, and their
    options (``neutral_frame``, ``still``, ``fps``) reach the pipeline."""
    clip = shared_media / "driving" / "liveportrait_d5.mp4"
    with VideoWriter(tmp_path / "driver.mp4", fps=probe_video(clip).fps,
                     preset="veryfast") as writer:
        for index, frame in enumerate(iter_frames(clip)):
            if index == 8:
                break
            writer.write(frame.image)
    samples, rate = load_audio(shared_media / "audio" / "vexpress_tys_aud.mp3")
    soundfile.write(tmp_path / "speech.wav", samples[: int(0.6 * rate)], rate)
    rows = [
        {"command": "reenact", "inputs": [str(portrait), "driver.mp4"], "output": "re.mp4",
         "options": {"neutral_frame": 2}},
        {"command": "speak", "inputs": [str(portrait), "speech.wav"], "output": "sp.mp4",
         "options": {"still": True, "fps": 10}},
    ]
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    records: list[dict] = []
    summary = run_batch(read_jobs(tmp_path / "jobs.jsonl"), engine="warp",
                        report=records.append, show_progress=False)
    assert (summary.done, summary.failed) == (2, 0), records
    reenacted, spoken = sorted(records, key=lambda record: record["line"])
    assert reenacted["frames"] == 8 and not reenacted["has_audio"]
    assert spoken["frames"] == 6 and spoken["fps"] == 10 and spoken["has_audio"]
    assert probe_video(tmp_path / "re.mp4").frame_count == 8
    assert probe_video(tmp_path / "sp.mp4").frame_count == 6
