"""Loss functions [paper eq. 6-11; LIA for the GAN form; ours where marked].

The loss backbones (ReID for L_app, Micron-BERT for L_exp, VGG-16 for L_per) need weights
from local files and live elsewhere; here they are any module or callable
``extractor(images in [-1, 1]) -> Tensor | Sequence[Tensor]``. ``FeatureLoss`` compares the
extractor's features of a generated and a real image, optionally over an image pyramid
(the perceptual loss). Gradients flow through the generated branch only; the extractor is
expected to be frozen (``FeatureLoss`` freezes it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

FeatureExtractor = Callable[[torch.Tensor], "torch.Tensor | Sequence[torch.Tensor]"]

INFONCE_TEMPERATURE = 0.07  # [ours]


def info_nce(
    codes_a: torch.Tensor, codes_b: torch.Tensor, temperature: float = INFONCE_TEMPERATURE,
) -> torch.Tensor:
    """Symmetric InfoNCE between matched rows of two (N, D) code batches [paper; ours: form].

    Codes are L2-normalised; logits = a b^T / temperature; the loss is the mean of the
    cross-entropy over rows (a -> b) and over columns (b -> a), row i matching row i.
    """
    if codes_a.shape != codes_b.shape or codes_a.dim() != 2:
        raise ValueError(f"info_nce needs two (N, D) batches, got {codes_a.shape} and "
                         f"{codes_b.shape}")
    a = F.normalize(codes_a, dim=1)
    b = F.normalize(codes_b, dim=1)
    logits = a @ b.t() / temperature
    targets = torch.arange(a.shape[0], device=a.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating G loss softplus(-D(fake)) of one kind of image [paper eq. 10, LIA].

    Eq. 10 sums this over the five generated images (S', S_app, S_exp, S_pose, S_rec); the
    stage-1 trainer adds the five terms, each a mean over its batch.
    """
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Logistic D loss softplus(-D(real)) + softplus(D(fake)) [LIA]."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 gradient penalty E ||d D(x) / d x||^2 for LIA's lazy regularisation.

    ``real_images`` must have had ``requires_grad_(True)`` before D ran on them.
    """
    (gradient,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return gradient.square().flatten(1).sum(1).mean()


def l1_loss(generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pixel L1 [paper eq. 9]."""
    return (generated - target).abs().mean()


def _as_list(features: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return [features] if isinstance(features, torch.Tensor) else list(features)


class FeatureLoss(nn.Module):
    """Distance between a frozen extractor's features of generated and real images.

    L_app (ReID features), L_exp (Micron-BERT tokens) and the perceptual loss (VGG layers
    over an image pyramid, ``scales=(1, 0.5, 0.25, 0.125)`` as LIA) are all this shape
    [paper eq. 6-8]; [ours] the trainer uses ``distance="l1"`` for all three (the paper names
    the backbones of L_app and L_exp, not their distance). ``distance`` is "l1" (mean
    absolute), "mse" or "cosine" (1 - cos per sample over flattened features). ``reduction``
    combines the terms of all layers and scales: "sum" (LIA's VGG loss sums them) or "mean".
    """

    def __init__(
        self, extractor: FeatureExtractor, scales: Sequence[float] = (1.0,),
        distance: str = "l1", reduction: str = "mean",
    ) -> None:
        super().__init__()
        if distance not in ("l1", "mse", "cosine"):
            raise ValueError(f"distance must be 'l1', 'mse' or 'cosine', got {distance!r}")
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        self.reduction = reduction
        self.extractor = extractor
        if isinstance(extractor, nn.Module):
            extractor.requires_grad_(False)
            extractor.eval()
        self.scales = tuple(scales)
        self.distance = distance

    def train(self, mode: bool = True) -> FeatureLoss:
        """The extractor stays in eval mode (frozen statistics)."""
        super().train(mode)
        if isinstance(self.extractor, nn.Module):
            self.extractor.eval()
        return self

    def _compare(self, generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if self.distance == "l1":
            return (generated - real).abs().mean()
        if self.distance == "mse":
            return (generated - real).square().mean()
        return (1 - F.cosine_similarity(generated.flatten(1), real.flatten(1), dim=1)).mean()

    def forward(self, generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        terms = []
        for scale in self.scales:
            if scale != 1.0:
                generated_scaled = F.interpolate(generated, scale_factor=scale, mode="bilinear",
                                                 align_corners=False, antialias=True)
                real_scaled = F.interpolate(real, scale_factor=scale, mode="bilinear",
                                            align_corners=False, antialias=True)
            else:
                generated_scaled, real_scaled = generated, real
            with torch.no_grad():
                real_features = _as_list(self.extractor(real_scaled))
            generated_features = _as_list(self.extractor(generated_scaled))
            for fake_map, real_map in zip(generated_features, real_features, strict=True):
                terms.append(self._compare(fake_map, real_map.detach()))
        stacked = torch.stack(terms)
        return stacked.sum() if self.reduction == "sum" else stacked.mean()


def perceptual_loss(extractor: FeatureExtractor) -> FeatureLoss:
    """Sum of per-layer L1 on a 4-level image pyramid, as LIA's VGG loss [LIA].

    LIA weighs each layer by 10 inside its loss; here the caller applies the paper's weight
    (10, ``LossWeights.perceptual`` in the training config) to the sum.
    """
    return FeatureLoss(extractor, scales=(1.0, 0.5, 0.25, 0.125), distance="l1",
                       reduction="sum")
