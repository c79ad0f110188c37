"""Exceptions with messages meant for a person.

Every error a user can cause (bad input, missing file, no face, missing weights) is an
``FgError``, or, from the network in models/ (which imports nothing of the tool), a
``models.errors.ModelError``. The CLI passes what it catches through :func:`user_error` once,
prints the message as one line on stderr and exits with code 2. Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import errno
import os
import sys


class FgError(Exception):
    """Base class: the message is printed to the user as is."""

    exit_code = 2


class InputError(FgError):
    """A file or argument the user gave cannot be used (missing, unreadable, malformed)."""


class AUError(InputError):
    """An Action Unit string, preset or timeline is invalid."""


class MediaError(InputError):
    """A video, audio or image file cannot be decoded or written."""


class NoFaceError(InputError):
    """No face was found where one is required."""


class OutputExistsError(FgError):
    """The output file exists and --overwrite was not given."""


class OutputWriteError(FgError):
    """The output cannot be written: the disk is full, a quota is reached, it is read-only."""


class CheckpointError(FgError):
    """A neural checkpoint is missing, foreign, corrupted or does not fit the request."""


class WeightsError(FgError):
    """A weights file needed for a loss backbone or an encoder is missing or wrong."""


class EngineUnavailableError(FgError):
    """The requested engine cannot run (for example the neural engine without a checkpoint)."""


class RenderWorkerError(FgError):
    """A render worker process stopped without answering (killed, or out of memory)."""


class ConfigError(FgError):
    """A training or model configuration is invalid."""


def user_error(error: BaseException) -> FgError | None:
    """``error`` as the tool's user-facing error, or None for a bug.

    The network's errors are matched by name onto ours (``models.errors.CheckpointError`` ->
    :class:`CheckpointError`). ``models`` is looked up in ``sys.modules`` rather than imported:
    it needs torch, and an error from it can only exist once it was imported.
    """
    # First: a full disk wrapped in one of our MediaErrors still reads as a full disk.
    write_failure = _write_failure(error)
    if write_failure is not None:
        return write_failure
    if isinstance(error, FgError):
        return error
    model_errors = sys.modules.get("models.errors")
    if model_errors is None or not isinstance(error, model_errors.ModelError):
        return None
    kinds: dict[str, type[FgError]] = {"CheckpointError": CheckpointError,
                                       "ConfigError": ConfigError, "AUError": AUError,
                                       "WeightsError": WeightsError}
    translated = kinds.get(type(error).__name__, FgError)(str(error))
    translated.__cause__ = error
    return translated


# Conditions of the machine, not bugs: the user frees space or picks another folder.
_WRITE_FAILURES = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
}


def _write_failure(error: BaseException) -> OutputWriteError | None:
    """An OutputWriteError when ``error`` (or an error it was raised from) is ENOSPC/EDQUOT/EROFS.

    Encoders (PyAV's ``av.error.OSError`` is an OSError), image writers, ``os.replace`` and
    ``torch.save`` all report a full disk as an OSError with that errno, sometimes wrapped in
    one of our MediaErrors, so the chain of causes is searched.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _WRITE_FAILURES:
            # The file named is usually our hidden temporary; its folder is what the user knows.
            folder = os.path.dirname(os.fsdecode(current.filename)) if current.filename else ""
            where = f" to {folder or '.'}" if current.filename else " the output"
            translated = OutputWriteError(
                f"cannot write{where}: {_WRITE_FAILURES[current.errno]} "
                "(free some space or choose another output folder)"
            )
            translated.__cause__ = error
            return translated
        current = current.__cause__ or current.__context__
    return None
