"""The FG-EmoTalk neural network (AAAI 2024) on a LIA flow-warping generator.

One module per part, in data-flow order: config, layers, encoder, extractors, dictionary,
generator, discriminator, au_encoder, audio_encoder, losses, fgemotalk (the whole network)
and checkpoint (the only place that reads and writes weights); errors holds the network's own
exception types. The names below load on first use (PEP 562), so importing ``models.config``
or ``models.errors`` does not import torch; transformers and torch_geometric load when a
model is built.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it.
_EXPORTS = {
    "AUMode": "models.fgemotalk",
    "AudioConfig": "models.config",
    "CheckpointInfo": "models.checkpoint",
    "Discriminator": "models.discriminator",
    "FGEmoTalk": "models.fgemotalk",
    "ModelConfig": "models.config",
    "Motion": "models.fgemotalk",
    "SourceState": "models.fgemotalk",
    "TrainingImages": "models.fgemotalk",
    "check_aus": "models.checkpoint",
    "describe_checkpoint": "models.checkpoint",
    "load_checkpoint": "models.checkpoint",
    "save_checkpoint": "models.checkpoint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
