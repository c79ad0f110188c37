"""The Typer app every command registers on, and the one place a command's errors become a
line on stderr and an exit code (2 for a user error, 130/143 when interrupted)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperGroup

from fgemotalk_cli.errors import user_error
from fgemotalk_cli.process import interrupted_exit_code

#: The order ``--help`` lists the commands in: the rendering ones first.
COMMAND_ORDER = ("reenact", "speak", "edit-au", "analyze", "batch", "presets", "aus", "eval",
                 "info", "train", "prepare")


class _OrderedCommands(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:  # ctx: click.Context
        names = list(self.commands)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))


app = typer.Typer(
    cls=_OrderedCommands,
    name="fgemotalk",
    help="Animate one portrait into a talking-head video with fine-grained Action Unit control.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: The one line an interrupted run prints; the temporary outputs are gone by then.
INTERRUPTED_MESSAGE = "interrupted: no output written"


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
            except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM; clean-up already ran
                typer.echo(INTERRUPTED_MESSAGE, err=True)
                raise typer.Exit(interrupted_exit_code(interrupt)) from None
            except Exception as error:
                shown = user_error(error)
                if shown is None:
                    raise
                typer.echo(f"error: {shown}", err=True)
                raise typer.Exit(shown.exit_code) from None

        return app.command(*args, **kwargs)(guarded)

    return register


def report(result: object, as_json: bool, quiet: bool) -> None:
    summary = result.to_dict()  # type: ignore[attr-defined]
    if as_json:
        typer.echo(json.dumps(summary, default=str))
        return
    if not quiet:
        for warning in summary.get("warnings", []):
            typer.echo(f"warning: {warning}", err=True)
    typer.echo(str(summary.get("output", "")))
