from __future__ import annotations

import pytest
import torch

from models import FGEmoTalk, ModelConfig
from models.encoder import Encoder
from tests.models.conftest import images


def test_encoder_outputs_at_256(model_256: FGEmoTalk) -> None:
    with torch.no_grad():
        encoded = model_256.encoder(images(1, 256))
    assert encoded.latent.shape == (1, 512)
    assert [tuple(level.shape[1:]) for level in encoded.features] == [
        (512, 8, 8), (512, 16, 16), (512, 32, 32), (256, 64, 64), (128, 128, 128), (64, 256, 256)
    ]
    assert encoded.map_4x4.shape == (1, 512, 4, 4)


def test_encoder_refuses_the_wrong_size(tiny_config: ModelConfig) -> None:
    with pytest.raises(ValueError, match="expects 64x64"):
        Encoder(tiny_config)(images(1, 32))
