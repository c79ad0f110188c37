"""The interface both engines offer to the pipelines, and the choice between them.

An engine turns a prepared source plus per-frame motion and AU vectors into RGB frames. It
works in batches (the neural engine batches network calls; the warp engine loops) and never
touches files: the pipelines stream frames in and out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from fgemotalk_cli.options import RunOptions

if TYPE_CHECKING:
    from fgemotalk_cli.faces import FaceLandmarks


@dataclass(frozen=True)
class DriverSample:
    """One driver frame: its pixels and its (smoothed) landmarks, or None when no face."""

    image: np.ndarray
    landmarks: FaceLandmarks | None
    time_seconds: float


@dataclass(frozen=True)
class SpeechSample:
    """Procedural controls for one output frame of `speak`."""

    mouth: dict[str, float]          # jaw_open, lip_width, rounding, closure, lip_to_teeth
    blink: float                      # 0 open .. 1 closed
    head_degrees: tuple[float, float, float]  # yaw, pitch, roll offsets
    wave_index: int                   # the frame's index (for audio-code lookup)


class Engine(Protocol):
    name: str

    def prepare(self, source_rgb: np.ndarray, landmarks: FaceLandmarks) -> object:
        """Precompute everything that depends only on the source (encoded once per video)."""

    def set_reference(self, state: object, reference: DriverSample) -> None:
        """The driver frame that counts as neutral: motion is taken relative to it."""

    def reenact(self, state: object, samples: list[DriverSample],
                aus: list[dict[int, float]], au_mode: str) -> list[np.ndarray]: ...

    def attach_audio(self, state: object, wave: np.ndarray, sample_rate: int, fps: object,
                     n_frames: int) -> None:
        """Give the engine the speech (the neural engine encodes it; the warp engine ignores it)."""

    def speak(self, state: object, samples: list[SpeechSample],
              aus: list[dict[int, float]]) -> list[np.ndarray]: ...

    def edit(self, state: object, aus: list[dict[int, float]], au_mode: str) -> list[np.ndarray]:
        """The source itself with AU edits (a batch of AU vectors)."""


def load_engine(options: RunOptions) -> Engine:
    """The engine the options ask for; `auto` is neural only with a configured checkpoint."""
    engine = options.resolved_engine()
    if engine == "neural":
        from fgemotalk_cli.neural_engine import NeuralEngine

        return NeuralEngine.from_checkpoint(options.configured_checkpoint(), options)
    from fgemotalk_cli.warp_engine import WarpEngineAdapter

    return WarpEngineAdapter()
