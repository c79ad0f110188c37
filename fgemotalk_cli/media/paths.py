"""The one check every input file goes through before it is opened."""

from __future__ import annotations

from pathlib import Path

from fgemotalk_cli.errors import InputError


def require_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path if it is an existing file; else one clear :class:`InputError`
    naming ``what`` it should have been ("video", "audio file", ...)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"{what} not found: {path}")
    if not path.is_file():
        raise InputError(f"{what} is not a file: {path}")
    return path
