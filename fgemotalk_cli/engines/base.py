"""The interface both engines offer to the pipelines.

An engine turns a prepared source plus per-frame motion and AU vectors into RGB frames. It
works in batches (the neural engine batches network calls; the warp engine loops) and never
touches files: the pipelines stream frames in and out.

Each engine also says which user controls it honours (:data:`Engine.controls`); the pipelines
warn once about an option the chosen engine would otherwise ignore in silence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, Protocol, TypeVar

import numpy as np

from fgemotalk_cli.choices import AUMode
from fgemotalk_cli.faces.landmarks import FaceLandmarks
from fgemotalk_cli.speech.visemes import MouthShape

#: Options a user can set that only some engines act on.
Control = Literal["transcript", "language", "head_motion", "blinks", "edit_au_mode", "pose",
                  "gaze", "expression_detail"]

#: How each control is spelled on the command line, for the warning.
CONTROL_OPTIONS: dict[Control, str] = {
    "transcript": "--transcript", "language": "--language", "head_motion": "--head-motion/--still",
    "blinks": "--no-blinks", "edit_au_mode": "--au-mode", "pose": "--pose/--pose-scale",
    "gaze": "--gaze", "expression_detail": "--expression-detail",
}

StateT = TypeVar("StateT")


@dataclass(frozen=True)
class DriverSample:
    """One driver frame: its pixels and its (raw) landmarks, or None when no face."""

    image: np.ndarray
    landmarks: FaceLandmarks | None
    time_seconds: float


@dataclass(frozen=True)
class SpeechSample:
    """Procedural controls for one output frame of `speak`."""

    mouth: MouthShape
    blink: float                      # 0 open .. 1 closed
    head_degrees: tuple[float, float, float]  # yaw, pitch, roll offsets
    wave_index: int                   # the frame's index (for audio-code lookup)


class Engine(Protocol[StateT]):
    """What the pipelines call. ``StateT`` is the engine's per-job state (source and driver)."""

    name: str
    supported_aus: tuple[int, ...]
    controls: frozenset[Control]

    def prepare(self, source_rgb: np.ndarray, landmarks: FaceLandmarks) -> StateT:
        """Precompute everything that depends only on the source (encoded once per video)."""
        ...

    def set_reference(self, state: StateT, reference: DriverSample) -> None:
        """The driver frame that counts as neutral: motion is taken relative to it."""
        ...

    def reenact(self, state: StateT, samples: list[DriverSample],
                aus: list[dict[int, float]], au_mode: AUMode) -> list[np.ndarray]: ...

    def attach_audio(self, state: StateT, wave: np.ndarray, sample_rate: int, fps: Fraction,
                     n_frames: int) -> None:
        """Give the engine the speech (the neural engine encodes it; the warp engine ignores it)."""
        ...

    def speak(self, state: StateT, samples: list[SpeechSample],
              aus: list[dict[int, float]]) -> list[np.ndarray]: ...

    def edit(self, state: StateT, aus: list[dict[int, float]], au_mode: AUMode) -> list[np.ndarray]:
        """The source itself with AU edits (a batch of AU vectors)."""
        ...


def ignored_controls(engine: Engine[Any], requested: Iterable[Control]) -> list[str]:
    """One warning per control the user set that ``engine`` does not act on."""
    return [f"{CONTROL_OPTIONS[control]} has no effect with the {engine.name} engine"
            for control in requested if control not in engine.controls]
