"""Where the shared test media lives, for tests that parametrize over its files.

A missing media folder is an error at collection (the run fails), never a silently empty
parametrization that collects zero tests.
"""

from __future__ import annotations

from pathlib import Path

SHARED_MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def media_files(folder: str, pattern: str = "*") -> list[Path]:
    """The sorted files of ``../shared/media/<folder>`` matching ``pattern``; raises if none."""
    found = sorted(path for path in (SHARED_MEDIA / folder).glob(pattern) if path.is_file())
    if not found:
        raise FileNotFoundError(
            f"no test media matching {folder}/{pattern} under {SHARED_MEDIA}: the tests need "
            "../shared/media beside the repository")
    return found
