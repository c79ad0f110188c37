from __future__ import annotations

import torch

from models import Discriminator, ModelConfig
from models.discriminator import minibatch_stddev
from tests.models.conftest import images


def test_discriminator_output_shape() -> None:
    discriminator = Discriminator(ModelConfig.tiny())
    assert discriminator(images(4, 64)).shape == (4, 1)
    assert discriminator(images(6, 64)).shape == (6, 1)  # group 3: any batch works
    assert discriminator(images(1, 64)).shape == (1, 1)


def test_discriminator_at_256() -> None:
    discriminator = Discriminator(ModelConfig(size=256))
    with torch.no_grad():
        assert discriminator(images(2, 256)).shape == (2, 1)


def test_minibatch_stddev_groups_samples() -> None:
    x = torch.randn(8, 3, 4, 4)
    out = minibatch_stddev(x)
    assert out.shape == (8, 4, 4, 4)
    assert torch.equal(out[:, :3], x)
    # samples i and i + 2 share a group of 4 (stride B / group = 2)
    assert torch.equal(out[0, 3], out[2, 3]) and torch.equal(out[0, 3], out[6, 3])
