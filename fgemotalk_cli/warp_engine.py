"""The `warp` engine behind the engine interface: FaceMesh landmarks, AU geometry, dense warp.

No learned generator weights. Per source, :class:`~fgemotalk_cli.warp.WarpEngine` precomputes
the mesh and maps; per video, a motion transfer holds the driver's reference frame and its own
One Euro filters, so raw (unsmoothed) driver landmarks are what it should be given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fgemotalk_cli.engines import DriverSample, SpeechSample

#: Blink closure 0..1 maps onto AU45 at full intensity.
BLINK_AU = 45


@dataclass
class WarpState:
    source: Any  # fgemotalk_cli.warp.WarpSource
    reference: Any = None  # the driver's neutral-frame landmarks
    transfer: Any = None  # fgemotalk_cli.warp.MotionTransfer, made on the first reenact batch


class WarpEngineAdapter:
    name = "warp"

    def __init__(self) -> None:
        from fgemotalk_cli.warp import SUPPORTED_WARP_AUS, WarpEngine

        self.engine = WarpEngine()
        self.supported_aus: tuple[int, ...] = SUPPORTED_WARP_AUS

    def prepare(self, source_rgb: np.ndarray, landmarks: object) -> WarpState:
        return WarpState(source=self.engine.prepare(source_rgb, landmarks))

    def set_reference(self, state: WarpState, reference: DriverSample) -> None:
        state.reference = reference.landmarks
        state.transfer = None

    def reenact(self, state: WarpState, samples: list[DriverSample],
                aus: list[dict[int, float]], au_mode: str) -> list[np.ndarray]:
        from fgemotalk_cli.warp import MouthPatch

        if state.transfer is None:
            if state.reference is None:
                raise RuntimeError("set_reference must be called before reenact")
            state.transfer = self.engine.motion_transfer(state.source, state.reference,
                                                         au_mode=au_mode)
        frames = []
        for sample, vector in zip(samples, aus):
            target = self.engine.target_from_driver(state.transfer, sample.landmarks,
                                                    sample.time_seconds, vector)
            # The driver's own mouth interior (teeth, tongue) replaces the synthetic one.
            patch = (None if sample.landmarks is None
                     else MouthPatch(sample.image, sample.landmarks.points))
            frames.append(self.engine.render(state.source, target, patch))
        return frames

    def attach_audio(self, state: WarpState, wave: np.ndarray, sample_rate: int, fps: object,
                     n_frames: int) -> None:
        """Speech reaches the warp engine as mouth controls per frame, not as audio."""

    def speak(self, state: WarpState, samples: list[SpeechSample],
              aus: list[dict[int, float]]) -> list[np.ndarray]:
        from fgemotalk_cli.warp import MouthShape

        frames = []
        for sample, vector in zip(samples, aus):
            vector = dict(vector)
            vector[BLINK_AU] = max(vector.get(BLINK_AU, 0.0), 5.0 * sample.blink)
            mouth = MouthShape.from_mapping(sample.mouth)
            frames.append(self.engine.edit(state.source, vector, mouth, sample.head_degrees))
        return frames

    def edit(self, state: WarpState, aus: list[dict[int, float]],
             au_mode: str) -> list[np.ndarray]:
        """A still photo has no neutral reference, so `add` and `replace` both add the AU
        displacements to the photo's own expression."""
        return [self.engine.edit(state.source, vector) for vector in aus]
