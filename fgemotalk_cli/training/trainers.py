"""The trainer for a config's stage, with its data: stage 1 (video network), 2 (AU encoder),
3 (audio encoder)."""

from __future__ import annotations

from fgemotalk_cli.errors import ConfigError
from fgemotalk_cli.training.config import TrainConfig
from fgemotalk_cli.training.data import load_clips, split_clips
from fgemotalk_cli.training.distributed import Distributed
from fgemotalk_cli.training.stage_encoders import Stage2Trainer, Stage3Trainer
from fgemotalk_cli.training.stages import Stage1Trainer
from models.fgemotalk import FGEmoTalk


def build_trainer(config: TrainConfig, model: FGEmoTalk, dist: Distributed, log,
                  discriminator_state: dict | None):
    """The trainer for ``config.stage`` with its data (train and evaluation clips)."""
    kind = "disfa" if config.stage == 2 else "video"
    clips = load_clips(config.data.roots, kind, model.config.size)
    train_clips, eval_clips, note = split_clips(clips)
    if note:
        log(note)
    log(f"data: {len(train_clips)} training and "
        f"{len(eval_clips) if not note else 0} held-out clips")
    if config.stage == 1:
        return Stage1Trainer(config, model, dist, train_clips, eval_clips, log,
                             discriminator_state)
    if config.stage == 2:
        return Stage2Trainer(config, model, dist, train_clips, eval_clips, log,
                             discriminator_state)
    if config.stage == 3:
        return Stage3Trainer(config, model, dist, train_clips, eval_clips, log,
                             discriminator_state)
    raise ConfigError(f"unknown stage {config.stage}")
