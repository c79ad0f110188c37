"""The stage-1 generator objective term by term, with a stub discriminator (no media)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fgemotalk_cli.training.config import LossWeights
from fgemotalk_cli.training.stages import generator_terms
from models.fgemotalk import TrainingImages


class StubDiscriminator(nn.Module):
    """Logit = mean pixel x (1 + index in the batch); records the chunk it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[int | None] = []

    def forward(self, image: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        self.chunks.append(chunk)
        scale = torch.arange(1, image.shape[0] + 1, dtype=image.dtype)[:, None]
        return image.mean(dim=(1, 2, 3))[:, None] * scale


def test_adversarial_term_is_the_sum_of_the_five_gan_terms() -> None:
    generator = torch.Generator().manual_seed(0)
    batch = 3
    five = [torch.randn(batch, 3, 8, 8, generator=generator) for _ in range(5)]
    images = TrainingImages(*five)
    source, driving = (torch.randn(batch, 3, 8, 8, generator=generator) for _ in range(2))
    losses = {"appearance": None, "expression": None, "perceptual": None}
    stub = StubDiscriminator()
    terms = generator_terms(images, source, driving, losses, LossWeights(), stub)
    logits = stub(torch.cat(five)).split(batch)
    expected = sum(F.softplus(-kind).mean() for kind in logits)
    assert torch.allclose(terms["adversarial"], expected)
    # An average would be a fifth of it; the stub's logits are far from 0, so the two differ.
    assert not torch.allclose(terms["adversarial"], expected / 5)
    assert stub.chunks[0] == batch  # one stddev chunk per kind of image
    assert torch.allclose(terms["l1"], (five[0] - driving).abs().mean())
    off = generator_terms(images, source, driving, losses, LossWeights(adversarial=0), stub)
    assert "adversarial" not in off
