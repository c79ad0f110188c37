"""``fgemotalk train CONFIG [--resume CHECKPOINT]``: one entry, alone or under torchrun.

    fgemotalk train configs/stage1_256.yaml
    torchrun --nproc_per_node=8 -m fgemotalk_cli train configs/stage1_512.yaml
    fgemotalk train configs/stage1_256.yaml --resume runs/stage1_256/latest.pt

As nanoGPT's train.py: DDP comes from RANK / LOCAL_RANK / WORLD_SIZE, only rank 0 logs and
saves, each rank offsets its seed, and the unwrapped module is what gets saved. A checkpoint
holds the model (with its config), the discriminator, optimiser states, the step and the
training config, so ``--resume`` continues exactly where it stopped.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from fgemotalk_cli.errors import CheckpointError, ConfigError, WeightsError
from fgemotalk_cli.training.config import TrainConfig, load_train_config


def train(config_path: str | Path, resume: Path | None = None, show_progress: bool = True,
          overrides: dict[str, Any] | None = None):  # -> engine.Outcome
    """Run the stage a YAML config describes; returns ``engine.Outcome``.

    ``overrides`` merge into the YAML (nested by key), for scripts and tests.
    """
    import torch

    from fgemotalk_cli.training import distributed
    from fgemotalk_cli.training.engine import run_loop
    from fgemotalk_cli.training.trainers import build_trainer

    config = load_train_config(config_path, overrides)
    preflight(config)
    previous = Path(config.run_dir) / "latest.pt"
    if resume is None and previous.is_file():
        raise ConfigError(f"{config.run_dir} already holds a run; continue it with --resume "
                          f"{previous}, or choose another run_dir")
    dist = distributed.setup(config.device)
    try:
        log = _logger(Path(config.run_dir), dist.is_main)
        _check_amp(config, dist.device)
        if dist.device.type == "cuda":
            # Fixed image sizes: let cuDNN pick the fastest kernels; TF32 for float32 matmuls.
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        model, first_step, extra, discriminator_state = _starting_point(config, resume, log)
        model.to(dist.device).train()
        log(f"{config.stage_name}: {_describe(model, config, dist)}")
        trainer = build_trainer(config, model, dist, log, discriminator_state)
        if extra is not None:
            trainer.load_state_dict(extra)
        if first_step >= config.schedule.steps:
            log(f"nothing to do: the checkpoint is at step {first_step} of "
                f"{config.schedule.steps}")
        outcome = run_loop(trainer, config, dist, first_step, show_progress, log)
        distributed.barrier(dist)
        _report(outcome, log)
        return outcome
    finally:
        distributed.teardown()


def preflight(config: TrainConfig) -> None:
    """Fail in a second, not after building a network: data folders and loss weights exist."""
    from fgemotalk_cli.training.backbones import missing_weights_message

    for root in map(Path, config.data.roots):
        if not (root / "manifest.json").is_file():
            raise ConfigError(f"{root} is not a prepared dataset (no manifest.json); run "
                              f"'fgemotalk prepare VIDEOS {root} --size SIZE' first")
    if config.stage != 1:
        if config.init_checkpoint is None or not Path(config.init_checkpoint).is_file():
            raise CheckpointError(f"init_checkpoint not found: {config.init_checkpoint}")
        return
    for role in ("appearance", "expression", "perceptual"):
        if getattr(config.loss.weights, role) == 0:
            continue
        choice = getattr(config.loss.backbones, role)
        if choice.weights and not Path(choice.weights).expanduser().is_file():
            raise WeightsError(f"loss.backbones.{role}.weights not found: {choice.weights}")
        if not choice.weights and choice.fallback != "frozen_encoder":
            raise WeightsError(missing_weights_message(role))


def _starting_point(config: TrainConfig, resume: Path | None, log):
    """(model, first step, trainer state or None, discriminator state or None)."""
    import torch

    from models.checkpoint import load_checkpoint
    from models.fgemotalk import FGEmoTalk

    if resume is not None:
        model, info = load_checkpoint(resume)
        trainer_state = info.extra.get("trainer") or {}
        if trainer_state.get("stage") != config.stage_name:
            raise CheckpointError(
                f"{resume} was saved by {trainer_state.get('stage') or 'no trainer'}; this config "
                f"trains {config.stage_name}. To start a new stage from it, set init_checkpoint"
            )
        if "optimizers" not in info.extra:
            raise CheckpointError(f"{resume} holds weights only (a final export); resume from "
                                  f"{Path(resume).with_name('latest.pt')}")
        if config.stage == 1 and config.model_config().to_dict() != info.config.to_dict():
            raise ConfigError(f"the config's model section differs from the model in {resume}")
        step = int(trainer_state["step"])
        log(f"resuming {config.stage_name} from {resume} at step {step}")
        return model, step, info.extra, info.discriminator
    if config.stage == 1:
        torch.manual_seed(config.seed)  # identical initial weights for identical configs
        return FGEmoTalk(config.model_config()), 0, None, None
    if config.init_checkpoint is None:  # TrainConfig requires it for stages 2 and 3
        raise ConfigError(f"stage {config.stage} needs an init_checkpoint")
    model, info = load_checkpoint(config.init_checkpoint)
    if "stage1" not in info.stages:
        raise CheckpointError(f"init_checkpoint {config.init_checkpoint} has not been trained "
                              f"through stage 1 (stages: {list(info.stages) or 'none'})")
    if config.stage == 3:
        audio = config.audio_config()
        if not audio.wav2vec2_path and not audio.wav2vec2_config:
            raise ConfigError(
                "audio.wav2vec2_path is required: a local folder with pretrained Wav2Vec2 "
                "weights (e.g. a saved facebook/wav2vec2-base-960h); a random backbone needs "
                "an explicit audio.wav2vec2_config (tests only)"
            )
        torch.manual_seed(config.seed)
        model.enable_audio(audio, load_pretrained=True)
    log(f"starting {config.stage_name} from {config.init_checkpoint} "
        f"(stages so far: {', '.join(info.stages)})")
    return model, 0, None, info.discriminator


def _check_amp(config: TrainConfig, device) -> None:
    import torch

    if device.type == "cuda" and config.amp == "bf16" and not torch.cuda.is_bf16_supported():
        raise ConfigError("this GPU has no bfloat16 support: set amp: fp16 (or off)")


def _describe(model, config: TrainConfig, dist) -> str:
    trainable = sum(p.numel() for p in model.parameters())
    schedule = config.schedule
    per_rank = schedule.batch_size // (schedule.grad_accumulation * dist.world_size)
    amp = config.amp if dist.device.type == "cuda" else "off (CPU)"
    return (f"{model.config.size} px, {trainable / 1e6:.1f} M parameters, "
            f"{dist.world_size} process(es) on {dist.device.type}, global batch "
            f"{schedule.batch_size} = {dist.world_size} x {schedule.grad_accumulation} x "
            f"{per_rank}, amp {amp}, steps {schedule.steps}")


def _report(outcome, log) -> None:
    how = "stopped by SIGTERM" if outcome.stopped_by_signal else "finished"
    timing = (f", {outcome.seconds_per_step:.3f} s/step" if outcome.seconds_per_step else "")
    log(f"{outcome.stage} {how} at step {outcome.last_step}/{outcome.total_steps}{timing}; "
        f"skipped steps: {outcome.skipped_steps}")
    for label, path in (("resume from", outcome.latest), ("trained model", outcome.final)):
        if path is not None:
            log(f"{label}: {path}")


def _logger(run_dir: Path, enabled: bool):
    """Rank 0 prints to stderr and appends to ``run_dir/train.log``; other ranks are quiet."""
    if enabled:
        run_dir.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        if not enabled:
            return
        line = f"[{datetime.now():%H:%M:%S}] {message}"
        print(line, file=sys.stderr, flush=True)
        with open(run_dir / "train.log", "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    return log
