"""The choice between the engines: ``auto`` is neural only with a configured checkpoint."""

from __future__ import annotations

from typing import Any

from fgemotalk_cli.engines.base import Engine
from fgemotalk_cli.engines.neural import NeuralEngine
from fgemotalk_cli.engines.warp.engine import WarpEngine
from fgemotalk_cli.options import RunOptions


def load_engine(options: RunOptions) -> Engine[Any]:
    """The engine the options ask for (the neural one loads its checkpoint here)."""
    if options.resolved_engine() == "neural":
        return NeuralEngine.from_checkpoint(options.configured_checkpoint(), options)
    return WarpEngine(pose=options.pose, pose_scale=options.pose_scale,
                      calibrate="full" if options.calibrate else "auto", gaze=options.gaze,
                      expression_detail=options.expression_detail)
