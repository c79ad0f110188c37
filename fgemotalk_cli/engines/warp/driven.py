"""A reenacted frame: the warp, then the layers that need the driver's own pixels.

:func:`.render.render_warp` renders the source for the target points (with the driver's mouth
interior); for reenactment two more layers can follow, each optional:

- the irises at the driver's gaze (:mod:`.iris`), the warp keeping them where the source looks;
- the driver's expression detail as a ratio image (:mod:`.ratio_images`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp.iris import IrisLayer
from fgemotalk_cli.engines.warp.mouth import MouthPatch
from fgemotalk_cli.engines.warp.ratio_images import DriverReference, apply_ratio, expression_ratio
from fgemotalk_cli.engines.warp.render import WarpSource, render_warp


@dataclass(frozen=True)
class DrivenLayers:
    """What a reenacted frame adds to the warp (None: that layer is off)."""

    irises: IrisLayer | None = None
    detail_reference: DriverReference | None = None  # the driver's neutral frame


def render_driven(source: WarpSource, target: np.ndarray, patch: MouthPatch | None,
                  layers: DrivenLayers) -> np.ndarray:
    """The reenacted frame for ``target`` (working pixels), the driver frame in ``patch``."""
    requested = None
    if layers.irises is not None:
        target, requested = layers.irises.warp_target(target)
    frame = render_warp(source, target, patch)
    if layers.irises is not None and requested is not None:
        layers.irises.paint(frame, target, requested, source.scale)
    if layers.detail_reference is not None and patch is not None:
        ratio = expression_ratio(layers.detail_reference, patch.image, patch.points, target)
        if ratio is not None:
            apply_ratio(frame, *ratio, scale=source.scale)
    return frame
