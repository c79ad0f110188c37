"""Shared fixtures: the real media in ../shared/media and small generated inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_MEDIA = REPO_ROOT.parent / "shared" / "media"


@pytest.fixture(scope="session")
def shared_media() -> Path:
    """The shared test media folder; its absence is a set-up error, not a reason to skip."""
    if not (SHARED_MEDIA / "MANIFEST.md").is_file():
        pytest.fail(f"test media not found at {SHARED_MEDIA} (clone next to ../shared)")
    return SHARED_MEDIA


@pytest.fixture(scope="session")
def portraits(shared_media: Path) -> list[Path]:
    return sorted((shared_media / "portraits").glob("*"))


@pytest.fixture(scope="session")
def driving_clips(shared_media: Path) -> list[Path]:
    return sorted((shared_media / "driving").glob("*.mp4"))
