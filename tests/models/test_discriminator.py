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


def test_stddev_groups_never_mix_chunks() -> None:
    # Two kinds of 4 samples: each constant inside its chunk, very different from the other.
    x = torch.cat((torch.zeros(4, 3, 4, 4), torch.randn(1, 3, 4, 4).repeat(4, 1, 1, 1) * 10))
    mixed = minibatch_stddev(x)[:, 3]
    chunked = minibatch_stddev(x, chunk=4)[:, 3]
    assert mixed.max() > 1  # groups of the whole batch mix the two kinds
    assert torch.allclose(chunked, torch.full_like(chunked, 1e-4))  # sqrt(0 + 1e-8)


def test_discriminator_on_chunks_equals_separate_calls() -> None:
    torch.manual_seed(0)
    discriminator = Discriminator(ModelConfig.tiny())
    kinds = [images(4, 64, seed=seed) for seed in range(5)]
    with torch.no_grad():
        together = discriminator(torch.cat(kinds), chunk=4)
        separate = torch.cat([discriminator(kind) for kind in kinds])
        changed = discriminator(torch.cat([kinds[0], *(k * 0.1 for k in kinds[1:])]), chunk=4)
    assert torch.allclose(together, separate, atol=1e-5)
    assert torch.allclose(changed[:4], together[:4], atol=1e-6)  # other kinds do not leak in
