from __future__ import annotations

import torch
from torch import nn

from models.losses import (
    FeatureLoss,
    discriminator_loss,
    generator_adversarial_loss,
    info_nce,
    l1_loss,
    perceptual_loss,
    r1_penalty,
)


def test_info_nce_prefers_matched_pairs() -> None:
    torch.manual_seed(0)
    audio = torch.randn(16, 20)
    expression = audio + 0.1 * torch.randn(16, 20)
    matched = info_nce(audio, expression)
    shuffled = info_nce(audio, expression[torch.randperm(16)])
    assert matched < shuffled
    assert torch.allclose(info_nce(audio, expression), info_nce(expression, audio))


def test_gan_losses() -> None:
    real, fake = torch.tensor([[3.0], [2.0]]), torch.tensor([[-3.0], [-2.0]])
    assert discriminator_loss(real, fake) < discriminator_loss(fake, real)
    assert generator_adversarial_loss(real) < generator_adversarial_loss(fake)
    images = torch.randn(2, 3, 8, 8, requires_grad=True)
    logits = (images * 2).sum((1, 2, 3))
    assert torch.isclose(r1_penalty(logits, images), torch.tensor(4.0 * 3 * 8 * 8))
    assert l1_loss(torch.ones(2), torch.zeros(2)) == 1


class TwoLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv2d(3, 4, 3, padding=1)
        self.second = nn.Conv2d(4, 4, 3, stride=2, padding=1)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        first = self.first(images)
        return [first, self.second(first)]


def test_feature_loss_freezes_the_extractor_and_trains_the_generated_branch() -> None:
    extractor = TwoLayers()
    loss_fn = perceptual_loss(extractor)
    generated = torch.randn(2, 3, 32, 32, requires_grad=True)
    real = torch.randn(2, 3, 32, 32, requires_grad=True)
    loss = loss_fn(generated, real)
    loss.backward()
    assert generated.grad is not None and real.grad is None
    assert all(p.grad is None and not p.requires_grad for p in extractor.parameters())
    assert loss_fn(real, real).item() == 0.0
    cosine = FeatureLoss(extractor, distance="cosine")
    assert cosine(real, real).abs().item() < 1e-5
