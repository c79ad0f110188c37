"""The ``fgemotalk`` command line: parse, call one library function, print.

Every command is a thin skin over :mod:`fgemotalk_cli.api`. User errors arrive as
:class:`~fgemotalk_cli.errors.FgError`; :func:`main` prints them as one line on stderr and exits 2.

The library (NumPy, OpenCV, PyAV, MediaPipe behind :mod:`fgemotalk_cli.api`) is imported inside
the command that runs, so ``fgemotalk --help`` and option errors load only Typer and the option
definitions (tests/test_architecture.py checks that this module's imports stay free of NumPy).
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from fgemotalk_cli import cli_tools  # noqa: F401  (registers presets, aus, eval, info, train, prepare)
from fgemotalk_cli.cli_app import INTERRUPTED_MESSAGE, app, command, report
from fgemotalk_cli.cli_options import (
    AuModeOpt,
    AuOpt,
    BatchOpt,
    CalibrateOpt,
    CheckpointOpt,
    CompareOpt,
    CrfOpt,
    DetailOpt,
    DeviceOpt,
    EngineOpt,
    FaceIndexOpt,
    GazeOpt,
    JsonOpt,
    MaxSizeOpt,
    OutputOpt,
    OverwriteOpt,
    PasteOpt,
    PoseOpt,
    PoseScaleOpt,
    PresetOpt,
    QuietOpt,
    TimelineOpt,
    run_options,
)
from fgemotalk_cli.errors import FgError, InputError
from fgemotalk_cli.expression.aus import (
    check_intensity,
    expression_control,
)
from fgemotalk_cli.process import (
    interrupted_exit_code,
    interrupts_as_exceptions,
    native_log_noise_filtered,
)


@command(
    epilog="Example: fgemotalk reenact face.png driver.mp4 --au 12=4 -o out.mp4",
)
def reenact(
    source: Annotated[Path, typer.Argument(help="Portrait image to animate.")],
    driver: Annotated[Path, typer.Argument(help="Video of a face whose motion drives it.")],
    output: OutputOpt = None,
    au: AuOpt = None,
    preset: PresetOpt = None,
    au_mode: AuModeOpt = "add",
    au_timeline: TimelineOpt = None,
    neutral_frame: Annotated[
        int, typer.Option("--neutral-frame", help="Driver frame taken as the neutral reference.")
    ] = 0,
    pose: PoseOpt = "driver",
    pose_scale: PoseScaleOpt = 1.0,
    gaze: GazeOpt = "driver",
    expression_detail: DetailOpt = False,
    max_size: MaxSizeOpt = 2048,
    calibrate: CalibrateOpt = False,
    engine: EngineOpt = "auto",
    checkpoint: CheckpointOpt = None,
    device: DeviceOpt = "auto",
    face_index: FaceIndexOpt = 0,
    compare: CompareOpt = False,
    paste_back: PasteOpt = True,
    batch_size: BatchOpt = 8,
    crf: CrfOpt = 18,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Drive a portrait with the head motion and expressions of a video."""
    from fgemotalk_cli import api

    control = expression_control(au or [], preset, au_mode, au_timeline)
    options = run_options(engine, checkpoint, device, overwrite, quiet, face_index, batch_size, crf,
                       paste_back, compare, max_size=max_size, pose=pose, pose_scale=pose_scale,
                       calibrate=calibrate, gaze=gaze, expression_detail=expression_detail)

    result = api.reenact(source, driver, output, control=control, options=options,
                         neutral_frame=neutral_frame)
    report(result, as_json, quiet)


@command(
    epilog="Example: fgemotalk speak face.png speech.wav --preset sad --head-motion 0.5",
)
def speak(
    source: Annotated[Path, typer.Argument(help="Portrait image to animate.")],
    audio: Annotated[Path, typer.Argument(help="Speech: wav, mp3, m4a or a video's audio.")],
    output: OutputOpt = None,
    au: AuOpt = None,
    preset: PresetOpt = None,
    au_timeline: TimelineOpt = None,
    transcript: Annotated[
        str | None,
        typer.Option("--transcript", help="Text (or a .txt file) for forced alignment."),
    ] = None,
    language: Annotated[
        str, typer.Option("--language", help="en uses phonemes; others use speech energy.")
    ] = "en",
    head_motion: Annotated[
        float, typer.Option("--head-motion", help="0..1 amount of speech-following head motion.")
    ] = 0.5,
    still: Annotated[bool, typer.Option("--still", help="No head motion, no blinks.")] = False,
    fps: Annotated[float, typer.Option("--fps", help="Output frame rate.")] = 25.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed for blinks and head motion.")] = 0,
    max_size: MaxSizeOpt = 2048,
    calibrate: CalibrateOpt = False,
    engine: EngineOpt = "auto",
    checkpoint: CheckpointOpt = None,
    device: DeviceOpt = "auto",
    face_index: FaceIndexOpt = 0,
    compare: CompareOpt = False,
    paste_back: PasteOpt = True,
    batch_size: BatchOpt = 8,
    crf: CrfOpt = 18,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Animate a portrait speaking an audio clip, with an optional AU expression on top."""
    from fgemotalk_cli import api

    control = expression_control(au or [], preset, "add", au_timeline)
    options = run_options(engine, checkpoint, device, overwrite, quiet, face_index, batch_size, crf,
                       paste_back, compare, max_size=max_size, calibrate=calibrate)

    result = api.speak(
        source, audio, output, control=control, options=options, transcript=transcript,
        language=language, head_motion=0.0 if still else head_motion, blinks=not still,
        fps=fps, seed=seed,
    )
    report(result, as_json, quiet)


@command(
    "edit-au",
    epilog=(
        "Examples: fgemotalk edit-au face.png --au 1=5 -o brows.png | "
        "fgemotalk edit-au clip.mp4 --preset happy | fgemotalk edit-au face.png --grid -o grid.png"
    ),
)
def edit_au(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="Image or video to edit.")],
    output: OutputOpt = None,
    au: AuOpt = None,
    preset: PresetOpt = None,
    au_mode: AuModeOpt = "add",
    au_timeline: TimelineOpt = None,
    grid: Annotated[
        bool, typer.Option("--grid", help="Write a sheet: one row per AU, intensities 0..5.")
    ] = False,
    grid_aus: Annotated[
        str | None, typer.Option("--grid-aus", help="Comma separated AUs for --grid.")
    ] = None,
    max_size: MaxSizeOpt = 2048,
    calibrate: CalibrateOpt = False,
    engine: EngineOpt = "auto",
    checkpoint: CheckpointOpt = None,
    device: DeviceOpt = "auto",
    face_index: FaceIndexOpt = 0,
    batch_size: BatchOpt = 8,
    crf: CrfOpt = 18,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Apply an AU edit to a photo or to every frame of a video (audio kept)."""
    from fgemotalk_cli import api

    options = run_options(engine, checkpoint, device, overwrite, quiet, face_index, batch_size, crf,
                          max_size=max_size, calibrate=calibrate)

    result: api.ImageResult | api.VideoResult
    if grid:
        aus = _parse_au_list(grid_aus) if grid_aus else None
        result = api.au_grid(input_path, output, aus=aus, options=options)
    else:
        control = expression_control(au or [], preset, au_mode, au_timeline)
        # --au 12=0 is a valid request (it returns the source unchanged); only asking for
        # nothing at all is refused.
        if not (au or preset or au_timeline):
            raise InputError("edit-au needs --au, --preset or --au-timeline (or --grid)")
        result = api.edit_au(input_path, output, control=control, options=options)
    report(result, as_json, quiet)


@command(
    epilog=("Example: fgemotalk batch jobs.jsonl --workers 2 > results.jsonl "
            "(one JSON line per job; a rerun skips the outputs that exist)"),
)
def batch(
    jobs_file: Annotated[Path, typer.Argument(metavar="JOBS",
                                              help="Job file: JSON Lines or CSV, one job a line.")],
    workers: Annotated[int, typer.Option("--workers", help="Processes running jobs.")] = 1,
    engine: EngineOpt = "auto",
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run many reenact/speak/edit-au jobs in one go (libraries loaded once); exit 2 if any fail."""
    from fgemotalk_cli.batch import read_jobs, run_batch

    jobs = read_jobs(jobs_file)

    def report(record: dict[str, Any]) -> None:
        typer.echo(json.dumps(record, default=str))

    summary = run_batch(jobs, workers=workers, engine=engine, overwrite=overwrite, report=report,
                        show_progress=not quiet)
    if not quiet:
        typer.echo(f"batch: {summary.done} done, {summary.skipped} skipped, {summary.failed} "
                   f"failed in {summary.seconds:.1f} s", err=True)
    if summary.failed:
        raise typer.Exit(2)


def _parse_au_list(text: str) -> list[int]:
    numbers: list[int] = []
    for part in text.split(","):
        if not part.strip().isdigit():
            raise InputError(f"--grid-aus takes AU numbers like 1,2,12, not '{part.strip()}'")
        check_intensity(int(part), 0.0)
        numbers.append(int(part))
    return numbers


@command(epilog="Example: fgemotalk analyze driver.mp4 --plot aus.png --csv aus.csv")
def analyze(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="Image or video.")],
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Per-frame CSV file.")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="AU curves PNG file.")] = None,
    max_frames: Annotated[int | None, typer.Option("--max-frames", help="At most N.")] = None,
    reference_frame: Annotated[int | None, typer.Option(
        "--reference-frame", metavar="N",
        help="A frame at rest (mouth closed): AU 5 and 15 are then read from the face mesh "
             "against it.")] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Measure AU intensities (0..5) and head pose per frame, from MediaPipe's blendshapes."""
    from fgemotalk_cli import api

    analysis = api.analyze(input_path, max_frames=max_frames, reference_frame=reference_frame)
    if csv_path is not None:
        analysis.write_csv(csv_path)
    if plot is not None:
        analysis.write_plot(plot)
    if as_json:
        typer.echo(json.dumps(analysis.to_dict()))
        return
    for note in analysis.notes:
        typer.echo(f"warning: {note}", err=True)
    typer.echo(analysis.summary_line() if quiet else f"{analysis.table()}\n"
               f"{analysis.summary_line()}")


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code: 0, 1 (a bug), 2 (user error), 130/143."""
    args = list(sys.argv[1:] if argv is None else argv)
    # Both set up before any command runs, i.e. before MediaPipe is imported.
    with native_log_noise_filtered(), interrupts_as_exceptions():
        try:
            code = app(args=args or ["--help"], prog_name="fgemotalk", standalone_mode=False)
        except FgError as error:  # raised outside a command, e.g. while parsing a value
            typer.echo(f"error: {error}", err=True)
            return error.exit_code
        except KeyboardInterrupt as interrupt:
            typer.echo(INTERRUPTED_MESSAGE, err=True)
            return interrupted_exit_code(interrupt)
        except typer.Exit as done:
            return done.exit_code
        except Exception as error:
            if isinstance(error.__context__, KeyboardInterrupt):  # click's Abort, while parsing
                typer.echo(INTERRUPTED_MESSAGE, err=True)
                return interrupted_exit_code(error.__context__)
            # Typer's parser errors (unknown option, missing argument): one line, exit 2 like
            # ours. Typer vendors click, so these are recognised by shape rather than by class.
            if hasattr(error, "format_message") and hasattr(error, "exit_code"):
                typer.echo(f"error: {error.format_message()}", err=True)
                return int(error.exit_code)
            raise
    # Without standalone mode, click hands back the code of a typer.Exit instead of raising.
    return code if isinstance(code, int) else 0


def run() -> None:
    """The ``fgemotalk`` command: :func:`main`, then out of the process at once.

    When a job is done its output is closed and in place; what the interpreter would still do
    is tear down ~900 imported modules and the native libraries' objects, 0.13-0.17 s of CPU
    on every run (measured with strace after the last write). The exit handlers still run;
    with a thread of a script still at work, the normal exit waits for it instead."""
    code = main()
    others = [thread for thread in threading.enumerate()
              if thread is not threading.current_thread() and not thread.daemon]
    if others:
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
