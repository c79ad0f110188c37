"""Outputs that appear whole or not at all, and the default output name.

Encoders write to a hidden temporary file beside the target, which is renamed onto the
target only when the work succeeded. A crash, an error or Ctrl-C therefore never leaves a
half-written video that looks finished, and an existing file is never touched without
``--overwrite``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fgemotalk_cli.errors import InputError, OutputExistsError


@contextmanager
def atomic_output(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; rename it onto ``path`` when the block succeeds.

    The existence check happens before any work, so a long render is not wasted on a
    target that cannot be written. The temporary file lives in the same folder (a rename
    across file systems would be a copy, not atomic) and keeps the target's suffix so that
    encoders choose the format from it. Any exception, KeyboardInterrupt included, deletes
    it. A missing output folder is created.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"output path is a folder: {path}")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass --overwrite to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"cannot create the output folder {path.parent}: {error.strerror}"
        ) from None
    temp = _reserve_temp(path)
    try:
        yield temp
        # Checked again: another process may have created the target while we worked.
        if path.exists() and not overwrite:
            raise OutputExistsError(f"{path} already exists; pass --overwrite to replace it")
        if not temp.exists():
            raise FileNotFoundError(f"the temporary output {temp} vanished before the rename")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _reserve_temp(path: Path) -> Path:
    """Create an empty, uniquely named hidden file beside ``path`` with the same suffix.

    Created with O_EXCL so two runs never share one; mode 0o666 minus the umask gives the
    final file the permissions a plain ``open`` would (mkstemp would make it private).
    """
    for _ in range(100):
        temp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            descriptor = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        except OSError as error:
            raise InputError(
                f"cannot write to the folder {path.parent}: {error.strerror}"
            ) from None
        os.close(descriptor)
        return temp
    raise InputError(f"cannot create a temporary file in {path.parent}")

