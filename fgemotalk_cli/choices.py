"""The words the command line accepts for its modes, one ``Literal`` each.

Typer turns these into checked choices (shown in ``--help``); the library uses the same types,
so a mode is spelled one way everywhere.
"""

from __future__ import annotations

from typing import Literal, get_args

EngineName = Literal["auto", "warp", "neural"]
ResolvedEngine = Literal["warp", "neural"]
AUMode = Literal["add", "replace"]
#: Whose head motion the output follows: the driver's (relative to its reference frame) or
#: none (the portrait's head stays still and only the expression is taken).
PoseMode = Literal["driver", "source"]
#: Where the irises look in reenactment: where the driver's do (relative to its reference
#: frame), or where the portrait's do.
GazeMode = Literal["driver", "source"]

ENGINE_NAMES: tuple[str, ...] = get_args(EngineName)
AU_MODES: tuple[str, ...] = get_args(AUMode)
POSE_MODES: tuple[str, ...] = get_args(PoseMode)
GAZE_MODES: tuple[str, ...] = get_args(GazeMode)
