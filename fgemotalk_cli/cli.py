"""The ``fgemotalk`` command line: parse, call one library function, print.

Every command is a thin skin over :mod:`fgemotalk_cli.api`. User errors arrive as
:class:`~fgemotalk_cli.errors.FgError`; :func:`main` prints them as one line on stderr and exits 2.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from fgemotalk_cli import api
from fgemotalk_cli.cli_options import (
    AuModeOpt,
    AuOpt,
    BatchOpt,
    CheckpointOpt,
    CompareOpt,
    CrfOpt,
    DeviceOpt,
    EngineOpt,
    FaceIndexOpt,
    JsonOpt,
    OutputOpt,
    OverwriteOpt,
    PasteOpt,
    PresetOpt,
    QuietOpt,
    TimelineOpt,
    run_options,
)
from fgemotalk_cli.errors import FgError, InputError, user_error
from fgemotalk_cli.evaluation.evaluate import evaluate_video
from fgemotalk_cli.expression.aus import (
    CATALOGUE,
    bundled_presets,
    check_intensity,
    expression_control,
)
from fgemotalk_cli.training.prepare import prepare_dataset
from fgemotalk_cli.training.run import train as run_training

app = typer.Typer(
    name="fgemotalk",
    help="Animate one portrait into a talking-head video with fine-grained Action Unit control.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)



def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``app.command`` that turns FgError into one stderr line and exit code 2.

    Doing it per command (not only in :func:`main`) gives the same behaviour under Typer's
    CliRunner, which calls the app directly.
    """

    def register(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        def guarded(*call_args: Any, **call_kwargs: Any) -> None:
            try:
                function(*call_args, **call_kwargs)
            except Exception as error:
                shown = user_error(error)
                if shown is None:
                    raise
                typer.echo(f"error: {shown}", err=True)
                raise typer.Exit(shown.exit_code) from None

        return app.command(*args, **kwargs)(guarded)

    return register


def _report(result: object, as_json: bool, quiet: bool) -> None:
    summary = result.to_dict()  # type: ignore[attr-defined]
    if as_json:
        typer.echo(json.dumps(summary, default=str))
        return
    if not quiet:
        for warning in summary.get("warnings", []):
            typer.echo(f"warning: {warning}", err=True)
    typer.echo(str(summary.get("output", "")))


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
    control = expression_control(au or [], preset, au_mode, au_timeline)
    options = run_options(engine, checkpoint, device, overwrite, quiet, face_index, batch_size, crf,
                       paste_back, compare)

    result = api.reenact(source, driver, output, control=control, options=options,
                         neutral_frame=neutral_frame)
    _report(result, as_json, quiet)


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
    control = expression_control(au or [], preset, "add", au_timeline)
    options = run_options(engine, checkpoint, device, overwrite, quiet, face_index, batch_size, crf,
                       paste_back, compare)

    result = api.speak(
        source, audio, output, control=control, options=options, transcript=transcript,
        language=language, head_motion=0.0 if still else head_motion, blinks=not still,
        fps=fps, seed=seed,
    )
    _report(result, as_json, quiet)


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
    options = run_options(engine, checkpoint, device, overwrite, quiet, face_index, batch_size, crf)

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
    _report(result, as_json, quiet)


def _parse_au_list(text: str) -> list[int]:
    numbers: list[int] = []
    for part in text.split(","):
        if not part.strip().isdigit():
            raise InputError(f"--grid-aus takes AU numbers like 1,2,12, not '{part.strip()}'")
        check_intensity(int(part), 0.0)
        numbers.append(int(part))
    return numbers


@command(epilog="Example: fgemotalk presets")
def presets(as_json: JsonOpt = False) -> None:
    """List the bundled expression presets and their AU vectors."""
    table = bundled_presets()
    if as_json:
        typer.echo(json.dumps({name: p.aus for name, p in table.items()}))
        return
    from rich.console import Console
    from rich.table import Table

    view = Table("preset", "AUs", "description", "source")
    for name, preset in table.items():
        vector = " ".join(f"{au}={value:g}" for au, value in sorted(preset.aus.items())) or "-"
        view.add_row(name, vector, preset.description, preset.source)
    Console().print(view)


@command(epilog="Example: fgemotalk aus")
def aus(as_json: JsonOpt = False) -> None:
    """List the supported Action Units with their FACS names and face regions."""
    if as_json:
        rows = [{"au": a.number, "name": a.name, "region": a.region, "paper": a.in_paper}
                for a in CATALOGUE.values()]
        typer.echo(json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    view = Table("AU", "FACS name", "region", "appearance", "paper set")
    for unit in CATALOGUE.values():
        view.add_row(str(unit.number), unit.name, unit.region, unit.description,
                     "yes" if unit.in_paper else "")
    Console().print(view)


@command(epilog="Example: fgemotalk eval out.mp4 --reference driver.mp4 --source face.png")
def eval(  # noqa: A001 - the subcommand is called eval
    generated: Annotated[Path, typer.Argument(help="Generated video.")],
    reference: Annotated[
        Path | None, typer.Option("--reference", help="Ground-truth / driving video.")
    ] = None,
    source: Annotated[
        Path | None, typer.Option("--source", help="Source portrait for identity.")
    ] = None,
    emotion: Annotated[
        str | None, typer.Option("--emotion", help="Target emotion for ACC_emo.")
    ] = None,
    lpips_weights: Annotated[
        Path | None, typer.Option("--lpips-weights", help="Local LPIPS backbone weights.")
    ] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Measure a generated video: PSNR, SSIM, LPIPS, pose/expression distance, identity, jitter."""
    report = evaluate_video(generated, reference=reference, source_image=source,
                            target_emotion=emotion, lpips_weights=lpips_weights)
    summary = report.to_dict()
    if as_json:
        typer.echo(json.dumps(summary, default=str))
    else:
        for key, value in summary.items():
            typer.echo(f"{key}: {value}")


@command(epilog="Example: fgemotalk analyze driver.mp4 --plot aus.png --csv aus.csv")
def analyze(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="Image or video.")],
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Per-frame CSV file.")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="AU curves PNG file.")] = None,
    max_frames: Annotated[int | None, typer.Option("--max-frames", help="At most N.")] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Measure AU intensities (0..5) and head pose per frame, from MediaPipe's blendshapes."""
    analysis = api.analyze(input_path, max_frames=max_frames)
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


@command(epilog="Example: fgemotalk info runs/stage1/checkpoint.pt")
def info(
    checkpoint: Annotated[Path, typer.Argument(help="A neural checkpoint file.")],
    as_json: JsonOpt = False,
) -> None:
    """Show what a neural checkpoint holds: config, AUs, parts, training stages."""
    from models.checkpoint import describe_checkpoint

    summary = describe_checkpoint(checkpoint)
    if as_json:
        typer.echo(json.dumps(summary, default=str))
    else:
        for key, value in summary.items():
            typer.echo(f"{key}: {value}")


@command(
    epilog=(
        "Example: fgemotalk train configs/stage1_256.yaml  "
        "(multi-GPU: torchrun --nproc_per_node=8 -m fgemotalk_cli train configs/stage1_512.yaml)"
    ),
)
def train(
    config: Annotated[Path, typer.Argument(help="Training YAML (see configs/).")],
    resume: Annotated[
        Path | None, typer.Option("--resume", help="Checkpoint to resume from exactly.")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Train the neural engine (stage 1 video network, 2 AU encoder, 3 audio encoder)."""
    run_training(config, resume=resume, show_progress=not quiet)


@command(
    epilog="Example: fgemotalk prepare videos/ data/hdtf_256 --size 256",
)
def prepare(
    videos: Annotated[Path, typer.Argument(help="Folder of talking-head clips (or DISFA).")],
    output: Annotated[Path, typer.Argument(help="Dataset folder to write.")],
    size: Annotated[int, typer.Option("--size", help="Crop size: 64, 128, 256 or 512.")] = 256,
    quiet: QuietOpt = False,
) -> None:
    """Turn talking-head videos into per-clip face crops for training (resumable)."""
    summary = prepare_dataset(videos, output, size=size, show_progress=not quiet)
    typer.echo(json.dumps(summary, default=str))


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code (2 for anything the user must fix)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = app(args=args or ["--help"], prog_name="fgemotalk", standalone_mode=False)
    except FgError as error:  # raised outside a command, e.g. while parsing a value
        typer.echo(f"error: {error}", err=True)
        return error.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted: no output written", err=True)
        return 130
    except typer.Exit as done:
        return done.exit_code
    except Exception as error:
        # Typer's parser errors (unknown option, missing argument): one line, exit 2 like ours.
        # Typer vendors click, so these are recognised by shape rather than by class.
        if hasattr(error, "format_message") and hasattr(error, "exit_code"):
            typer.echo(f"error: {error.format_message()}", err=True)
            return int(error.exit_code)
        raise
    # Without standalone mode, click hands back the code of a typer.Exit instead of raising.
    return code if isinstance(code, int) else 0
