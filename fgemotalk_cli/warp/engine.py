"""The weight-free warp engine: a portrait, landmarks and AU geometry in, frames out.

    engine = WarpEngine()
    source = engine.prepare(portrait_rgb, detect_source_face(portrait_rgb))
    smiling = engine.edit(source, {12: 4, 6: 2})
    transfer = engine.motion_transfer(source, driver_reference_landmarks, au_mode="add")
    for frame, landmarks, t in driver:               # landmarks None where no face was found
        target = engine.target_from_driver(transfer, landmarks, t, {12: 4})
        out = engine.render(source, target, MouthPatch(frame, landmarks.points))

Nothing here touches files or video: the pipelines stream frames through these calls.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fgemotalk_cli.warp.au_geometry import MouthShape
from fgemotalk_cli.warp.motion import AUMode, DriverMotion, MotionSmoothing, MotionTransfer, place
from fgemotalk_cli.warp.mouth import MouthPatch
from fgemotalk_cli.warp.render import WarpSource, prepare_source, render_warp


class WarpEngine:
    """Stateless: all per-source state lives in :class:`WarpSource`, per-video state in
    :class:`MotionTransfer`, so one engine serves any number of sources and videos."""

    name = "warp"

    def prepare(self, source_rgb: np.ndarray, source_landmarks: object) -> WarpSource:
        """Precompute everything that depends only on the source portrait."""
        return prepare_source(source_rgb, source_landmarks)

    def render(self, source: WarpSource, target_points: np.ndarray,
               mouth_patch: MouthPatch | None = None) -> np.ndarray:
        """The source warped so its 478 landmarks land on ``target_points`` (pixels; a third
        column, depth, lets a turned head cover its own far side)."""
        return render_warp(source, target_points, mouth_patch)

    def target_from_controls(self, source: WarpSource, au_intensities: Mapping[int, float],
                             mouth: MouthShape | None = None,
                             head_degrees: tuple[float, float, float] = (0.0, 0.0, 0.0),
                             ) -> np.ndarray:
        """(478, 3) target points (x, y, depth) for an AU vector, speech mouth shape and head
        turn (yaw, pitch, roll in degrees, as :func:`fgemotalk_cli.faces.rotation_from_angles`)."""
        from fgemotalk_cli.faces import rotation_from_angles

        geometry = source.geometry
        face = geometry.face + geometry.offsets(au_intensities, mouth)
        if not any(head_degrees):
            return geometry.frame.to_image(face)
        turn = rotation_from_angles(*head_degrees)
        # The turn is about the head's own axes, so it reads the same whatever the source pose.
        rotation = geometry.frame.rotation @ turn @ geometry.frame.rotation.T
        still = DriverMotion.still()
        return place(geometry, face, DriverMotion(still.expression, rotation, still.shift, 1.0))

    def edit(self, source: WarpSource, au_intensities: Mapping[int, float],
             mouth: MouthShape | None = None,
             head_degrees: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
        """The source portrait with AU edits (and optionally a mouth shape and head turn)."""
        return self.render(source,
                           self.target_from_controls(source, au_intensities, mouth, head_degrees))

    def motion_transfer(self, source: WarpSource, reference_landmarks: object,
                        au_mode: AUMode = "add",
                        smoothing: MotionSmoothing | None = MotionSmoothing(),
                        ) -> MotionTransfer:
        """Per-video reenactment state; ``reference_landmarks`` is the driver's neutral frame."""
        return MotionTransfer(source.geometry, reference_landmarks, au_mode, smoothing)

    def target_from_driver(self, transfer: MotionTransfer, driver_landmarks: object | None,
                           time_seconds: float,
                           au_intensities: Mapping[int, float] | None = None,
                           mouth: MouthShape | None = None) -> np.ndarray:
        """(478, 3) target points for one driver frame (None: no face, the last motion holds)."""
        return transfer.target_points(driver_landmarks, time_seconds, au_intensities, mouth)
