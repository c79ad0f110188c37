"""Options shared by every command that renders frames, as one dataclass with defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from fgemotalk_cli.choices import (
    ENGINE_NAMES,
    GAZE_MODES,
    POSE_MODES,
    EngineName,
    GazeMode,
    PoseMode,
    ResolvedEngine,
)
from fgemotalk_cli.errors import EngineUnavailableError, InputError

CHECKPOINT_ENV = "FGEMOTALK_CHECKPOINT"
#: Default ``--max-size``: the long side of the output; larger sources are downscaled to it.
DEFAULT_MAX_SIZE = 2048


@dataclass(frozen=True)
class RunOptions:
    """How to run: engine, device, output handling. Defaults are what the CLI uses."""

    engine: EngineName = "auto"
    checkpoint: Path | None = None
    device: str = "auto"
    overwrite: bool = False
    show_progress: bool = True
    face_index: int = 0
    batch_size: int = 8
    crf: int = 18
    paste_back: bool = True
    compare: bool = False
    max_size: int = DEFAULT_MAX_SIZE  # output long side at most this (sources keep their size)
    pose: PoseMode = "driver"  # reenact: follow the driver's head motion, or keep the source's
    pose_scale: float = 1.0  # reenact: share of the driver's head motion, 0..1
    # warp: fit each AU's strength to this face by rendering and reading back (about 2 s per
    # source); off, the general table measured over many faces is used.
    calibrate: bool = False
    gaze: GazeMode = "driver"  # reenact: the irises look where the driver's or the source's do
    # reenact (warp): the driver's wrinkles and folds as expression ratio images (about 5 ms a
    # frame more; self-reenactment SSIM +0.006 over the face, bench/self_reenact_mouth.py)
    expression_detail: bool = False

    def __post_init__(self) -> None:
        if self.engine not in ENGINE_NAMES:
            raise InputError(f"--engine must be one of {', '.join(ENGINE_NAMES)}, "
                             f"not '{self.engine}'")
        if self.batch_size < 1:
            raise InputError("--batch-size must be at least 1")
        if not 0 <= self.crf <= 51:
            raise InputError("--crf must be within 0..51 (lower is better quality)")
        if self.max_size < 64:
            raise InputError(f"--max-size must be at least 64 pixels, not {self.max_size}")
        if self.pose not in POSE_MODES:
            raise InputError(f"--pose must be one of {', '.join(POSE_MODES)}, not '{self.pose}'")
        if not 0.0 <= self.pose_scale <= 1.0:
            raise InputError(f"--pose-scale must be within 0..1, not {self.pose_scale}")
        if self.gaze not in GAZE_MODES:
            raise InputError(f"--gaze must be one of {', '.join(GAZE_MODES)}, not '{self.gaze}'")
        if self.face_index < 0:
            raise InputError("--face-index must be 0 or more")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise InputError(f"--device must be auto, cpu or cuda[:N], not '{self.device}'")

    def configured_checkpoint(self) -> Path | None:
        """The checkpoint from --checkpoint or FGEMOTALK_CHECKPOINT, if any."""
        if self.checkpoint is not None:
            return self.checkpoint
        from_env = os.environ.get(CHECKPOINT_ENV)
        return Path(from_env) if from_env else None

    def resolved_engine(self) -> ResolvedEngine:
        """`auto` picks neural only when a checkpoint is configured."""
        checkpoint = self.configured_checkpoint()
        if self.engine == "neural" and checkpoint is None:
            raise EngineUnavailableError(
                "the neural engine needs a trained checkpoint: pass --checkpoint PATH or set "
                f"{CHECKPOINT_ENV}; train one with 'fgemotalk train configs/stage1_256.yaml' "
                "(none can be downloaded), or use --engine warp"
            )
        if self.engine == "auto":
            return "neural" if checkpoint is not None else "warp"
        return "neural" if self.engine == "neural" else "warp"


def resolve_engine(options: RunOptions | None) -> RunOptions:
    """The options with ``auto`` decided and the checkpoint taken from the environment, so the
    choice is made (and a missing checkpoint reported) once, before any work."""
    options = options or RunOptions()
    return replace(options, engine=options.resolved_engine(),
                   checkpoint=options.configured_checkpoint())


def select_device(requested: str = "auto") -> str:
    """Resolve ``auto`` to ``cuda`` when a GPU is present, else ``cpu``."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {requested} was asked for but no CUDA device is available")
    return requested
