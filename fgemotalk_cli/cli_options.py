"""The command line's shared options, spelled once: Typer needs them per command, these
aliases keep the spelling, the checked choices and the help text in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fgemotalk_cli.choices import AUMode, EngineName, GazeMode, PoseMode
from fgemotalk_cli.options import DEFAULT_MAX_SIZE, RunOptions

OutputOpt = Annotated[Path | None, typer.Option("-o", "--output", help="Output file.")]
AuOpt = Annotated[
    list[str] | None,
    typer.Option("--au", help="AU=INTENSITY (0..5), repeatable or comma separated: 12=4,1=2.5"),
]
PresetOpt = Annotated[
    str | None, typer.Option("--preset", help="Preset name (see 'presets') or a YAML file.")
]
TimelineOpt = Annotated[
    Path | None,
    typer.Option("--au-timeline", help="YAML keyframes time -> AU vector, interpolated."),
]
EngineOpt = Annotated[EngineName, typer.Option("--engine", help="Which engine renders.")]
CheckpointOpt = Annotated[
    Path | None,
    typer.Option("--checkpoint", help="Neural checkpoint (or FGEMOTALK_CHECKPOINT).",
                 envvar="FGEMOTALK_CHECKPOINT"),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda[:N]")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON summary line on stdout.")]
FaceIndexOpt = Annotated[int, typer.Option("--face-index", help="Which face, largest first.")]
CompareOpt = Annotated[
    bool, typer.Option("--compare", help="Write a side-by-side review video instead.")
]
PasteOpt = Annotated[
    bool,
    typer.Option("--paste-back/--no-paste-back", help="Paste into the frame or keep the crop."),
]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Frames per engine batch.")]
CrfOpt = Annotated[int, typer.Option("--crf", help="H.264 quality, 0..51, lower is better.")]
MaxSizeOpt = Annotated[
    int,
    typer.Option("--max-size", help="Longest output side in pixels; larger sources are "
                 "downscaled to it (and the run says so). Smaller ones keep their size."),
]
PoseOpt = Annotated[
    PoseMode,
    typer.Option("--pose", help="driver: follow the driver's head motion (relative to the "
                 "neutral frame); source: keep the portrait's head still, expression only."),
]
GazeOpt = Annotated[
    GazeMode,
    typer.Option("--gaze", help="driver: the eyes look where the driver's do (from its iris "
                 "points, held through blinks); source: they keep the portrait's gaze."),
]
DetailOpt = Annotated[
    bool, typer.Option("--expression-detail/--no-expression-detail",
                       help="Carry the driver's wrinkles and folds over (warp; ~5 ms a frame).")
]
PoseScaleOpt = Annotated[
    float, typer.Option("--pose-scale", help="0..1 share of the driver's head motion.")
]


CalibrateOpt = Annotated[
    bool,
    typer.Option("--calibrate", help="Fit every AU to this face up front (warp; by default "
                 "each AU asked for is fitted, ~0.15 s each)."),
]
AuModeOpt = Annotated[
    AUMode, typer.Option("--au-mode", help="add: on top of the expression; replace: instead.")
]


def run_options(
    engine: EngineName, checkpoint: Path | None, device: str, overwrite: bool, quiet: bool,
    face_index: int = 0, batch_size: int = 8, crf: int = 18, paste_back: bool = True,
    compare: bool = False, *, max_size: int = DEFAULT_MAX_SIZE, pose: PoseMode = "driver",
    pose_scale: float = 1.0, calibrate: bool = False, gaze: GazeMode = "driver",
    expression_detail: bool = False,
) -> RunOptions:
    """The rendering options from the command line's spelling of them."""
    return RunOptions(
        engine=engine,
        checkpoint=checkpoint,
        device=device,
        overwrite=overwrite,
        show_progress=not quiet,
        face_index=face_index,
        batch_size=batch_size,
        crf=crf,
        paste_back=paste_back,
        compare=compare,
        max_size=max_size,
        pose=pose,
        pose_scale=pose_scale,
        calibrate=calibrate,
        gaze=gaze,
        expression_detail=expression_detail,
    )
