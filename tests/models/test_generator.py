from __future__ import annotations

import pytest
import torch

from models import FGEmoTalk, ModelConfig
from models.encoder import Encoder
from models.generator import Generator
from tests.models.conftest import images


def test_generator_output_and_flows(tiny_config: ModelConfig) -> None:
    encoded = Encoder(tiny_config)(images(2, 64))
    image, flows = Generator(tiny_config)(encoded.features, torch.randn(2, 64), return_flows=True)
    assert image.shape == (2, 3, 64, 64)
    assert [flow.shape[-1] for flow in flows] == [8, 16, 32, 64]


def test_source_features_broadcast_over_latents(tiny_config: ModelConfig) -> None:
    torch.manual_seed(0)
    encoder, generator = Encoder(tiny_config), Generator(tiny_config)
    features = encoder(images(1, 64)).features
    latents = torch.randn(3, 64)
    broadcast = generator(features, latents)
    one_by_one = torch.cat([generator(features, latent[None]) for latent in latents])
    assert torch.allclose(broadcast, one_by_one, atol=1e-3, rtol=1e-3)


def test_generator_needs_one_map_per_level(tiny_config: ModelConfig) -> None:
    with pytest.raises(ValueError, match="needs 4 feature maps"):
        Generator(tiny_config)([torch.zeros(1, 32, 8, 8)], torch.zeros(1, 64))


def test_forward_at_512_batch_1() -> None:
    torch.manual_seed(0)
    model = FGEmoTalk(ModelConfig(size=512)).eval()
    with torch.no_grad():
        source = model.encode_source(images(1, 512))
        motion = model.motion(images(1, 512, seed=1))
        image = model.render(source, motion.pose, motion.expression)
    assert image.shape == (1, 3, 512, 512) and torch.isfinite(image).all()
    assert source.features[-1].shape == (1, 32, 512, 512)
