"""`fgemotalk batch`: job files, per-job failures, resuming, one JSON line per job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fgemotalk_cli.batch import read_jobs, run_batch
from fgemotalk_cli.errors import InputError


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
