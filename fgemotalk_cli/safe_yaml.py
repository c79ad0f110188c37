"""Reading the YAML files users hand us (presets, AU timelines, training configs) safely.

``yaml.safe_load`` never runs code, but it does expand aliases: a "billion laughs" file of a
few hundred bytes (``a: &a [x, x, ...]``, ``b: &b [*a, *a, ...]``, ...) becomes a structure
whose printing or walking takes gigabytes. Our files never need aliases, so they are refused
while parsing, before anything is built, and files are bounded in size. Every failure is one
line naming the file (and the line, for syntax errors).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from fgemotalk_cli.errors import FgError

#: Presets, timelines and training configs are a few kilobytes; this leaves a lot of room.
MAX_YAML_BYTES = 1 << 20


class _AliasFound(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


@functools.cache
def _loader_without_aliases() -> type:
    """A SafeLoader that stops at the first alias (``*name``) or merge of one (``<<: *name``)."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise _AliasFound(self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)

    return NoAliasLoader


def load_user_yaml(path: str | Path, what: str, error: type[FgError]) -> Any:
    """The data of the YAML file ``path``, or ``error`` with one line saying what is wrong.

    ``what`` names the file's role in messages ("preset file", "training config").
    """
    import yaml

    path = Path(path)
    if path.is_dir():
        raise error(f"{what} {path} is a folder, not a file")
    if not path.is_file():
        raise error(f"{what} not found: {path}")
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise error(f"{what} {path} is {size / 2**20:.1f} MiB; a YAML file of this kind is "
                        f"at most {MAX_YAML_BYTES // 2**20} MiB")
        text = path.read_text(encoding="utf-8")
    except OSError as failure:
        raise error(f"cannot read {what} {path}: {failure.strerror or failure}") from None
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not a UTF-8 text file") from None
    try:
        return yaml.load(text, Loader=_loader_without_aliases())  # noqa: S506 - a SafeLoader
    except _AliasFound as found:
        raise error(
            f"{what} {path} uses a YAML alias (*name) on line {found.line}; aliases and merge "
            "keys are not allowed here, write the values out"
        ) from None
    except yaml.YAMLError as failure:
        mark = getattr(failure, "problem_mark", None)
        problem = getattr(failure, "problem", None)
        at = f" (line {mark.line + 1}: {problem})" if mark is not None and problem else ""
        raise error(f"{what} {path} is not valid YAML{at}") from None
