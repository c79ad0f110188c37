from __future__ import annotations

import pytest
import torch

from models import ModelConfig
from models.encoder import Encoder
from models.extractors import AppearanceExtractor, ExpressionExtractor, PoseExtractor
from tests.models.conftest import images


@pytest.mark.parametrize("overrides", [{}, {"app_token_resolution": 8}, {"app_attention": False}])
def test_extractor_shapes(overrides: dict) -> None:
    config = ModelConfig.tiny(**overrides)
    encoded = Encoder(config)(images(3, 64))
    assert AppearanceExtractor(config)(encoded).shape == (3, config.latent_dim)
    assert PoseExtractor(config)(encoded.latent).shape == (3, config.k_pose)
    assert ExpressionExtractor(config)(encoded.latent).shape == (3, config.k_exp)


def test_motion_mlp_is_lia_shaped() -> None:
    mlp = PoseExtractor(ModelConfig())
    assert [tuple(layer.weight.shape) for layer in mlp] == [(512, 512)] * 4 + [(10, 512)]


def test_appearance_attention_uses_the_map(tiny_config: ModelConfig) -> None:
    torch.manual_seed(0)
    encoder, extractor = Encoder(tiny_config), AppearanceExtractor(tiny_config)
    encoded = encoder(images(1, 64))
    changed = type(encoded)(encoded.latent, encoded.features, encoded.map_4x4.flip(-1))
    assert not torch.allclose(extractor(encoded), extractor(changed))
