"""The weight-free ``warp`` engine: face mesh landmarks, an AU geometry model, a dense warp.

- :mod:`.layout`: the face frame (pose-free, inter-ocular-distance units) and mesh contours.
- :mod:`.regions`, :mod:`.au_fields`: per-face region weights and the AU displacement fields
  (tabulated in ``au_fields``' docstring).
- :mod:`.au_geometry`: :class:`AUGeometry` combines AUs and speech mouth shapes per frame.
- :mod:`.mesh`: the warp mesh (face mesh, openings, rings) and per-frame fold repair.
- :mod:`.render`, :mod:`.mouth`, :mod:`.lids`: the piecewise-affine image warp, the mouth
  interior and the skin of closing lids.
- :mod:`.motion`: driver motion transfer for reenactment.
- :mod:`.engine`: :class:`WarpEngine`, the calls the pipelines use.
"""

from __future__ import annotations

from fgemotalk_cli.warp.au_geometry import (
    SUPPORTED_WARP_AUS,
    AUGeometry,
    MouthShape,
    au_displacements,
    intensity_response,
)
from fgemotalk_cli.warp.engine import WarpEngine
from fgemotalk_cli.warp.motion import MotionSmoothing, MotionTransfer
from fgemotalk_cli.warp.mouth import MouthPatch
from fgemotalk_cli.warp.render import WarpSource

__all__ = [
    "SUPPORTED_WARP_AUS", "AUGeometry", "MotionSmoothing", "MotionTransfer", "MouthPatch",
    "MouthShape", "WarpEngine", "WarpSource", "au_displacements", "intensity_response",
]
