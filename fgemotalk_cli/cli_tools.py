"""The commands around rendering: what exists (presets, aus), measuring (eval), the neural
engine's checkpoints and training (info, train, prepare)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fgemotalk_cli.cli_app import command
from fgemotalk_cli.cli_options import JsonOpt, QuietOpt
from fgemotalk_cli.expression.aus import CATALOGUE, bundled_presets
from fgemotalk_cli.training.run import train as run_training


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
    from fgemotalk_cli.evaluation.evaluate import evaluate_video

    report = evaluate_video(generated, reference=reference, source_image=source,
                            target_emotion=emotion, lpips_weights=lpips_weights)
    summary = report.to_dict()
    if as_json:
        typer.echo(json.dumps(summary, default=str))
    else:
        for key, value in summary.items():
            typer.echo(f"{key}: {value}")


@command(epilog="Example: fgemotalk info runs/stage1/checkpoint.pt")
def info(
    checkpoint: Annotated[Path, typer.Argument(help="A neural checkpoint file.")],
    as_json: JsonOpt = False,
) -> None:
    """Show what a neural checkpoint holds: config, AUs, parts, training stages."""
    from models.checkpoint import describe_checkpoint

    summary = {**describe_checkpoint(checkpoint), "warnings": []}
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
    from fgemotalk_cli.training.prepare import prepare_dataset

    summary = prepare_dataset(videos, output, size=size, show_progress=not quiet)
    if not quiet:
        for warning in summary["warnings"]:
            typer.echo(f"warning: {warning}", err=True)
    typer.echo(json.dumps(summary, default=str))
