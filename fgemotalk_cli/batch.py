"""`fgemotalk batch JOBS`: many jobs in one process (or a few), imports and detectors loaded once.

A job file lists one job per line, as JSON Lines or CSV:

    {"command": "speak", "inputs": ["face.jpg", "line.wav"], "output": "out/face.mp4",
     "options": {"preset": "happy", "head_motion": 0.3}}

    command,inputs,output,options
    speak,face.jpg;line.wav,out/face.mp4,preset=happy head_motion=0.3
    edit-au,face.jpg,out/smile.png,au=12=4,1=2

CSV inputs are separated by ``;`` and options are ``name=value`` pairs separated by spaces
(``au`` takes the CLI's ``12=4,1=2``). Relative paths are taken from the job file's folder.
Every line is checked before anything runs; a bad line stops the batch with its line number.
Then each job runs on its own: a failure is reported for that job and the others still run.
An output that exists already is skipped (the batch is resumable) unless ``overwrite``.
With ``workers`` > 1 the jobs are spread over that many processes (spawned, so that no
MediaPipe or encoder thread is forked), each loading the libraries once.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import shlex
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fgemotalk_cli import api
from fgemotalk_cli.errors import InputError, user_error
from fgemotalk_cli.expression.aus import expression_control
from fgemotalk_cli.media.progress import frame_progress
from fgemotalk_cli.options import RunOptions

COMMANDS = ("reenact", "speak", "edit-au")
_INPUT_COUNTS = {"reenact": 2, "speak": 2, "edit-au": 1}
#: Options each command takes in a job file, and the type each value is read as.
_JOB_OPTIONS: dict[str, dict[str, type]] = {
    "reenact": {"au": str, "preset": str, "au_mode": str, "au_timeline": str,
                "neutral_frame": int, "compare": bool},
    "speak": {"au": str, "preset": str, "au_timeline": str, "transcript": str, "language": str,
              "head_motion": float, "still": bool, "fps": float, "seed": int, "compare": bool},
    "edit-au": {"au": str, "preset": str, "au_mode": str, "au_timeline": str},
}
_RUN_OPTIONS: dict[str, type] = {"face_index": int, "crf": int, "batch_size": int}


@dataclass(frozen=True)
class Job:
    """One line of a job file, checked and with its paths resolved."""

    line: int
    command: str
    inputs: tuple[Path, ...]
    output: Path
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchSummary:
    done: int
    skipped: int
    failed: int
    seconds: float


def read_jobs(path: Path) -> list[Job]:
    """All jobs of a JSONL or CSV file (by content: a line starting with ``{`` is JSON)."""
    path = api.require_file(path, "job file")
    text = path.read_text(encoding="utf-8")
    base = path.resolve().parent
    first = next((line for line in text.splitlines() if line.strip()), "")
    rows = _json_rows(text) if first.lstrip().startswith("{") else _csv_rows(text)
    jobs = [_job(number, row, base) for number, row in rows]
    if not jobs:
        raise InputError(f"{path} lists no jobs")
    return jobs


def _json_rows(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"job line {number}: not valid JSON ({error.msg})") from None
        if not isinstance(row, dict):
            raise InputError(f"job line {number}: expected a JSON object")
        yield number, row


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"command", "inputs", "output"} <= set(
            name.strip() for name in reader.fieldnames):
        raise InputError("a CSV job file needs a header with command,inputs,output[,options]")
    for row in reader:
        if None in row:
            raise InputError(f"job line {reader.line_num}: more fields than the header has "
                             '(quote a field that holds commas: "au=12=4,6=2")')
        row = {key.strip(): (value or "").strip() for key, value in row.items()}
        options: dict[str, str] = {}
        for pair in shlex.split(row.get("options", "")):
            name, equals, value = pair.partition("=")
            if not equals:
                raise InputError(f"job line {reader.line_num}: option '{pair}' is not name=value")
            options[name] = value
        yield reader.line_num, {"command": row["command"], "output": row["output"],
                                "inputs": [p.strip() for p in row["inputs"].split(";")
                                           if p.strip()], "options": options}


def _job(number: int, row: Mapping[str, Any], base: Path) -> Job:
    where = f"job line {number}"
    command = row.get("command")
    if command not in COMMANDS:
        raise InputError(f"{where}: command must be one of {', '.join(COMMANDS)}, not {command!r}")
    inputs = row.get("inputs")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or len(inputs) != _INPUT_COUNTS[command]:
        raise InputError(f"{where}: {command} takes {_INPUT_COUNTS[command]} input(s)")
    if not row.get("output"):
        raise InputError(f"{where}: every job needs an output (a resumed batch skips the "
                         "outputs that exist)")
    options = row.get("options") or {}
    if not isinstance(options, dict):
        raise InputError(f"{where}: options must be an object of name: value")
    allowed = {**_JOB_OPTIONS[command], **_RUN_OPTIONS}
    checked: dict[str, Any] = {}
    for name, value in options.items():
        name = str(name).replace("-", "_")
        if name not in allowed:
            raise InputError(f"{where}: {command} has no option '{name}' (it takes "
                             f"{', '.join(sorted(allowed))})")
        checked[name] = _typed(value, allowed[name], f"{where}: option {name}")
    return Job(number, command, tuple(_resolved(base, p) for p in inputs),
               _resolved(base, row["output"]), checked)


def _typed(value: Any, kind: type, where: str) -> Any:
    if kind is bool and isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise InputError(f"{where} must be true or false, not '{value}'")
        return value.lower() in ("true", "1", "yes")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise InputError(f"{where} must be {kind.__name__}, not '{value}'") from None


def _resolved(base: Path, text: str) -> Path:
    path = Path(str(text)).expanduser()
    return path if path.is_absolute() else base / path


def run_job(job: Job, engine: str = "auto", overwrite: bool = False) -> dict[str, Any]:
    """Run one job; its JSON summary (``status``: done, skipped or failed). Never raises for
    a user error: that is the job's failure, reported with its message."""
    record: dict[str, Any] = {"line": job.line, "command": job.command,
                              "output": str(job.output)}
    if job.output.exists() and not overwrite:
        return {**record, "status": "skipped", "reason": "output exists"}
    try:
        result = _call(job, engine, overwrite)
    except Exception as error:  # one job's failure must not stop the others
        shown = user_error(error)
        message = str(shown) if shown is not None else f"internal error: {error!r}"
        return {**record, "status": "failed", "error": message}
    return {**record, "status": "done", **result.to_dict()}


def _call(job: Job, engine: str, overwrite: bool) -> Any:
    opts = dict(job.options)
    run = RunOptions(engine=engine, overwrite=overwrite, show_progress=False,  # type: ignore[arg-type]
                     compare=bool(opts.pop("compare", False)),
                     **{name: opts.pop(name) for name in list(opts) if name in _RUN_OPTIONS})
    au = [part for part in str(opts.pop("au", "")).split(",") if part]
    control = expression_control(au, opts.pop("preset", None),
                                 opts.pop("au_mode", "add"),
                                 opts.pop("au_timeline", None))
    if job.command == "reenact":
        source, driver = job.inputs
        return api.reenact(source, driver, job.output, control=control, options=run, **opts)
    if job.command == "speak":
        source, audio = job.inputs
        still = opts.pop("still", False)
        if still:
            opts["head_motion"], opts["blinks"] = 0.0, False
        return api.speak(source, audio, job.output, control=control, options=run, **opts)
    if control.is_neutral:
        raise InputError("edit-au needs au, preset or au_timeline")
    return api.edit_au(job.inputs[0], job.output, control=control, options=run)


def _run_in_worker(arguments: tuple[Job, str, bool]) -> dict[str, Any]:
    return run_job(*arguments)


def run_batch(jobs: list[Job], workers: int = 1, engine: str = "auto", overwrite: bool = False,
              report: Callable[[dict[str, Any]], None] = print,
              show_progress: bool = True) -> BatchSummary:
    """Run ``jobs``, calling ``report`` with each job's summary as it finishes (completion
    order; each carries its ``line``)."""
    if workers < 1:
        raise InputError("--workers must be at least 1")
    started = time.perf_counter()
    counts = {"done": 0, "skipped": 0, "failed": 0}
    arguments = [(job, engine, overwrite) for job in jobs]
    with frame_progress("batch", len(jobs), show_progress, rate_unit="jobs/s") as bar:
        advance = bar.advance
        if workers == 1 or len(jobs) == 1:
            results: Iterator[dict[str, Any]] = (run_job(*job) for job in arguments)
            _collect(results, counts, report, advance)
        else:
            # Spawned, not forked: a fork would copy MediaPipe's and the encoder's threads
            # half-way through their work. Each worker imports once and runs many jobs.
            context = multiprocessing.get_context("spawn")
            with context.Pool(min(workers, len(jobs))) as pool:
                _collect(pool.imap_unordered(_run_in_worker, arguments), counts, report,
                         advance)
    return BatchSummary(counts["done"], counts["skipped"], counts["failed"],
                        time.perf_counter() - started)


def _collect(results: Iterator[dict[str, Any]], counts: dict[str, int],
             report: Callable[[dict[str, Any]], None], advance: Callable[[], None]) -> None:
    for record in results:
        counts[record["status"]] += 1
        report(record)
        advance()
