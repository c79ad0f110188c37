"""Streaming jobs: decode -> engine -> encode -> mux, one module per command."""

from __future__ import annotations

from fgemotalk_cli.pipelines.common import RunStats
from fgemotalk_cli.pipelines.edit import run_au_grid, run_edit_image, run_edit_video
from fgemotalk_cli.pipelines.reenact import run_reenact
from fgemotalk_cli.pipelines.speak import SpeechSettings, run_speak

__all__ = [
    "RunStats",
    "SpeechSettings",
    "run_au_grid",
    "run_edit_image",
    "run_edit_video",
    "run_reenact",
    "run_speak",
]
