"""The FG-EmoTalk neural network (AAAI 2024) on a LIA flow-warping generator.

One module per part, in data-flow order: config, layers, encoder, extractors, dictionary,
generator, discriminator, au_encoder, audio_encoder, losses, fgemotalk (the whole network)
and checkpoint (the only place that reads and writes weights). Importing this package is
cheap apart from torch; transformers and torch_geometric load when a model is built.
"""

from __future__ import annotations

from models.checkpoint import (
    CheckpointInfo,
    check_aus,
    describe_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from models.config import AudioConfig, ModelConfig
from models.discriminator import Discriminator
from models.fgemotalk import AUMode, FGEmoTalk, Motion, SourceState, TrainingImages

__all__ = [
    "AUMode",
    "AudioConfig",
    "CheckpointInfo",
    "Discriminator",
    "FGEmoTalk",
    "ModelConfig",
    "Motion",
    "SourceState",
    "TrainingImages",
    "check_aus",
    "describe_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
]
