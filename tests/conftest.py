"""Shared fixtures: the real media in ../shared/media and small generated inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.media import SHARED_MEDIA

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_media() -> Path:
    """The shared test media folder; its absence is a set-up error, not a reason to skip."""
    if not (SHARED_MEDIA / "MANIFEST.md").is_file():
        pytest.fail(f"test media not found at {SHARED_MEDIA} (clone next to ../shared)")
    return SHARED_MEDIA


@pytest.fixture(scope="session")
def review_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where tests leave PNGs for a person to look at: pytest's temporary folder, or the
    folder FGEMOTALK_REVIEW_DIR names when a person wants to keep them."""
    kept = os.environ.get("FGEMOTALK_REVIEW_DIR")
    if kept:
        Path(kept).mkdir(parents=True, exist_ok=True)
        return Path(kept)
    return tmp_path_factory.mktemp("review")


@pytest.fixture(scope="session")
def portraits(shared_media: Path) -> list[Path]:
    return sorted((shared_media / "portraits").glob("*"))


@pytest.fixture(scope="session")
def driving_clips(shared_media: Path) -> list[Path]:
    return sorted((shared_media / "driving").glob("*.mp4"))
