"""Training configuration: dataclasses loaded from a YAML file (``configs/*.yaml``).

One dataclass per concern (data, optimiser, loss, schedule), with the paper's and LIA's
defaults. Unknown keys, wrong types and impossible values are a ``ConfigError`` whose message
names the offending key, so a typo never trains silently with a default.

[paper] Adam lr 0.002; loss weights appearance 100, expression 100, perceptual 10, L1 1,
GAN 1. [LIA] betas (0, 0.99) and lazy-regularisation factors g_reg_every 4, d_reg_every 16
(the learning rates are scaled by 4/5 and 16/17 and the betas raised to those powers).
[ours] everything else (stage 2/3 learning rates, schedule, fallbacks).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from fgemotalk_cli.errors import ConfigError
from fgemotalk_cli.safe_yaml import load_user_yaml
from models.config import AudioConfig, ModelConfig

STAGE_NAMES = {1: "stage1", 2: "stage2", 3: "stage3"}
Fallback = Literal["error", "frozen_encoder"]
AmpMode = Literal["off", "bf16", "fp16"]


@dataclass(frozen=True)
class BackboneConfig:
    """Where a loss backbone's weights come from.

    ``weights``: a local state-dict file (.pt/.pth/.safetensors). Without it, ``fallback``
    decides: "error" stops with a WeightsError (the default: never a random backbone);
    "frozen_encoder" uses features of a frozen copy of our own encoder E [ours, documented].
    """

    weights: str | None = None
    fallback: Fallback = "error"


@dataclass(frozen=True)
class BackbonesConfig:
    appearance: BackboneConfig = field(default_factory=BackboneConfig)  # ReID ResNet-50
    expression: BackboneConfig = field(default_factory=BackboneConfig)  # Micron-BERT ViT
    perceptual: BackboneConfig = field(default_factory=BackboneConfig)  # VGG-16


@dataclass(frozen=True)
class LossWeights:
    """[paper eq. 11] stage-1 generator objective weights; a weight of 0 turns a term off."""

    appearance: float = 100.0
    expression: float = 100.0
    perceptual: float = 10.0
    l1: float = 1.0
    adversarial: float = 1.0  # on the sum of the five images' GAN terms [paper eq. 10]


@dataclass(frozen=True)
class LossConfig:
    """Stage-1 weights and backbones; the stage-2 and stage-3 objectives [ours: their form]."""

    weights: LossWeights = field(default_factory=LossWeights)
    backbones: BackbonesConfig = field(default_factory=BackbonesConfig)
    # [ours] the frozen-encoder fallback copies E from this checkpoint when given, else E as
    # initialised at step 0 of stage 1 (a random network: usable, but say so in the log).
    fallback_encoder_checkpoint: str | None = None
    # stage 2: AU(a) vs E_exp(x_D) - the subject's neutral code [ours: form and offset]
    au_distance: Literal["l1", "mse"] = "l1"
    infonce_temperature: float = 0.07  # stage 3 [ours]
    # stage 3 [ours]: + this x L1(audio code, E_exp(x_D)). InfoNCE only sees normalised codes,
    # so without it the codes' scale (how far the lips open) is never learned.
    audio_regression_weight: float = 1.0


@dataclass(frozen=True)
class OptimizerConfig:
    lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    eps: float = 1e-8
    g_reg_every: int = 4
    d_reg_every: int = 16
    r1_weight: float = 0.0  # LIA keeps the lazy factors but applies no R1; > 0 turns it on
    grad_clip: float | None = None  # max global norm; None leaves gradients as they are


@dataclass(frozen=True)
class AUSamplingConfig:
    """Stage 2's choice of DISFA frames [ours; the paper filters badly labelled examples].

    ``balance``: "per_au" draws an AU (or the neutral face) uniformly, then a frame where it
    is active (intensity >= ``active_threshold``); "uniform" draws frames uniformly.
    ``label_window`` / ``label_tolerance``: frames whose intensities differ from the median
    of the labelled frames within +-window // 2 by more than the tolerance are dropped
    (window <= 1: no filtering). ``neutral_frames``: frames per subject (every AU at 0)
    averaged into its neutral code.
    """

    balance: Literal["per_au", "uniform"] = "per_au"
    active_threshold: float = 1.0
    label_window: int = 5
    label_tolerance: float = 1.0
    neutral_frames: int = 32


@dataclass(frozen=True)
class DataConfig:
    """Datasets written by ``fgemotalk prepare`` (one folder per dataset, same crop size)."""

    roots: list[str] = field(default_factory=list)
    num_workers: int = 4
    eval_samples: int = 16  # fixed held-out pairs/frames for the evaluation metric
    audio_context_features: int = 25  # stage 3: Wav2Vec2 context each side (0.5 s at 50/s)
    # stage 3 [ours]: frames drawn from each clip, spread over its length, so InfoNCE's
    # negatives include the same speaker at other times (not only other speakers).
    audio_frames_per_clip: int = 4
    au_sampling: AUSamplingConfig = field(default_factory=AUSamplingConfig)  # stage 2


@dataclass(frozen=True)
class ScheduleConfig:
    steps: int = 800_000  # optimiser steps [LIA's default iteration count]
    batch_size: int = 32  # global: all ranks and accumulation micro-steps together
    grad_accumulation: int = 1
    checkpoint_every: int = 1000
    keep_every: int = 50_000  # also keep step_NNNNNNN.pt every this many steps; 0: never
    eval_every: int = 1000
    log_every: int = 50
    sample_every: int = 5000
    max_nonfinite_steps: int = 10  # stop after this many skipped steps in a row


@dataclass(frozen=True)
class TrainConfig:
    """One training run of one stage."""

    stage: int
    run_dir: str
    data: DataConfig = field(default_factory=DataConfig)
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields; preset: tiny
    init_checkpoint: str | None = None  # stage 2/3 start from a trained checkpoint
    audio: dict[str, Any] | None = None  # stage 3: AudioConfig fields (wav2vec2_path, ...)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    seed: int = 0
    device: str = "auto"
    amp: AmpMode = "bf16"  # CUDA only; CPU always runs in float32
    discriminator_stddev_group: int = 4
    gradient_dump_step: int | None = None  # debug: save all-reduced gradients at this step

    def __post_init__(self) -> None:
        self.validate()

    @property
    def stage_name(self) -> str:
        return STAGE_NAMES[self.stage]

    def validate(self) -> None:
        if self.stage not in STAGE_NAMES:
            raise ConfigError(f"stage must be 1, 2 or 3, got {self.stage!r}")
        if not self.run_dir:
            raise ConfigError("run_dir is required (where checkpoints and logs go)")
        if not self.data.roots:
            raise ConfigError("data.roots must list at least one prepared dataset folder")
        schedule = self.schedule
        for name in ("steps", "batch_size", "grad_accumulation", "checkpoint_every",
                     "eval_every", "log_every", "sample_every", "max_nonfinite_steps"):
            if getattr(schedule, name) < 1:
                raise ConfigError(f"schedule.{name} must be at least 1")
        if schedule.keep_every < 0:
            raise ConfigError("schedule.keep_every must be 0 (never) or more")
        if schedule.batch_size % schedule.grad_accumulation:
            raise ConfigError(
                f"schedule.batch_size {schedule.batch_size} is not divisible by "
                f"schedule.grad_accumulation {schedule.grad_accumulation}"
            )
        optimizer = self.optimizer
        if optimizer.lr <= 0 or optimizer.eps <= 0:
            raise ConfigError("optimizer.lr and optimizer.eps must be > 0")
        if len(optimizer.betas) != 2 or not all(0 <= b < 1 for b in optimizer.betas):
            raise ConfigError(f"optimizer.betas must be two numbers in [0, 1), got "
                              f"{list(optimizer.betas)}")
        if optimizer.g_reg_every < 1 or optimizer.d_reg_every < 1:
            raise ConfigError("optimizer.g_reg_every and optimizer.d_reg_every must be >= 1")
        if optimizer.r1_weight < 0:
            raise ConfigError("optimizer.r1_weight must be >= 0")
        if optimizer.grad_clip is not None and optimizer.grad_clip <= 0:
            raise ConfigError("optimizer.grad_clip must be > 0 or null")
        for name in ("appearance", "expression", "perceptual", "l1", "adversarial"):
            if getattr(self.loss.weights, name) < 0:
                raise ConfigError(f"loss.weights.{name} must be >= 0")
        if self.loss.infonce_temperature <= 0:
            raise ConfigError("loss.infonce_temperature must be > 0")
        if self.loss.audio_regression_weight < 0:
            raise ConfigError("loss.audio_regression_weight must be >= 0")
        if self.data.audio_frames_per_clip < 1:
            raise ConfigError("data.audio_frames_per_clip must be >= 1")
        sampling = self.data.au_sampling
        if sampling.active_threshold <= 0 or sampling.label_tolerance < 0:
            raise ConfigError("data.au_sampling.active_threshold must be > 0 and "
                              "label_tolerance >= 0")
        if sampling.label_window < 0 or sampling.neutral_frames < 1:
            raise ConfigError("data.au_sampling.label_window must be >= 0 and "
                              "neutral_frames >= 1")
        if self.data.num_workers < 0 or self.data.eval_samples < 1:
            raise ConfigError("data.num_workers must be >= 0 and data.eval_samples >= 1")
        if self.data.audio_context_features < 0:
            raise ConfigError("data.audio_context_features must be >= 0")
        if self.stage in (2, 3) and not self.init_checkpoint:
            raise ConfigError(
                f"stage {self.stage} trains on top of a frozen generator: set init_checkpoint "
                "to a stage-1 checkpoint (e.g. runs/stage1_256/final.pt)"
            )
        if self.stage in (2, 3) and self.model:
            raise ConfigError(
                f"stage {self.stage} takes its model from init_checkpoint; remove the 'model' "
                "section"
            )
        if self.stage == 3 and self.audio is None:
            raise ConfigError("stage 3 needs an 'audio' section (at least wav2vec2_path)")
        if self.discriminator_stddev_group < 1:
            raise ConfigError("discriminator_stddev_group must be >= 1")
        if self.device != "auto" and self.device != "cpu" and not self.device.startswith("cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")

    def model_config(self):  # -> models.config.ModelConfig
        """The stage-1 ModelConfig: ``model`` fields, ``preset: tiny`` for the test size."""
        values = dict(self.model)
        preset = values.pop("preset", None)
        if preset not in (None, "tiny", "paper"):
            raise ConfigError(f"model.preset must be 'tiny' or 'paper', got {preset!r}")
        if preset == "tiny":
            values.setdefault("size", 64)
            try:
                return ModelConfig.tiny(**values)
            except TypeError as error:
                raise ConfigError(f"invalid model config: {error}") from None
        return ModelConfig.from_dict(values)

    def audio_config(self):  # -> models.config.AudioConfig | None

        if self.audio is None:
            return None
        values = dict(self.audio)
        if values.pop("preset", None) == "tiny":
            base = dataclasses.asdict(AudioConfig.tiny())
            base.update(values)
            values = base
        known = {f.name for f in fields(AudioConfig)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown audio config keys: {', '.join(unknown)}")
        audio = AudioConfig(**values)
        audio.validate()
        return audio

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists instead of tuples) for checkpoints and logs."""
        return _plain(dataclasses.asdict(self))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def load_train_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML training config; ``overrides`` are merged in (nested dicts by key)."""
    path = Path(path)
    data = load_user_yaml(path, "training config", ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, not {type(data).__name__}")
    if overrides:
        data = merge(data, overrides)
    return config_from_dict(data, source=str(path))


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; override values win."""
    result = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


def config_from_dict(data: dict[str, Any], source: str = "config") -> TrainConfig:
    # The stage decides what else is required, so a wrong one is reported before the rest
    # (a "stage: 7" file used to be told that run_dir was missing).
    stage = data.get("stage") if isinstance(data, dict) else None
    if stage is not None and not (isinstance(stage, int) and stage in STAGE_NAMES):
        raise ConfigError(f"{source}: stage must be 1, 2 or 3, got {data['stage']!r}")
    return _build(TrainConfig, data, source)


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    missing = [f.name for f in fields(cls)
               if f.name not in data and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {', '.join(missing)}")
    values = {name: _coerce(hints[name], value, f"{where}: {name}")
              for name, value in data.items()}
    try:
        return cls(**values)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def _coerce(kind: Any, value: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``kind``, converting YAML's forms where safe."""
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _coerce(option, value, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0])
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where} must be one of {', '.join(map(repr, args))}, "
                              f"got {value!r}")
        return value
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _build(kind, value if value is not None else {}, where)
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be a whole number, got {value!r}")
        return value
    if kind is float:
        # YAML 1.1 reads "2e-3" (no dot) as a string: accept numeric strings explicitly.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return str(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{where} must be a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is list:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return [_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return dict(value)
    raise ConfigError(f"{where}: unsupported setting type {kind!r}")  # a bug in this module
