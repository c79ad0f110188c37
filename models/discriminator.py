"""Image discriminator for the GAN losses [paper eq. 10-11; LIA = StyleGAN2's residual D].

ConvLayer(3, C[size], 1), ResBlocks down to 4x4, minibatch standard deviation, conv3x3
(C[4] + 1 -> C[4]), EqualLinear(16 C[4] -> C[4], leaky ReLU), EqualLinear(C[4] -> 1).
"""

from __future__ import annotations

import torch
from torch import nn

from models.config import ModelConfig
from models.layers import ConvLayer, EqualLinear, ResBlock


def minibatch_stddev(x: torch.Tensor, max_group: int = 4) -> torch.Tensor:
    """Append one channel: the mean per-feature std over groups of samples [StyleGAN2].

    [ours] The group is the largest divisor of the batch that is <= ``max_group``, so any
    batch size works; for batches divisible by 4 this is StyleGAN2's min(B, 4).
    """
    batch, channels, height, width = x.shape
    group = next(g for g in range(min(batch, max_group), 0, -1) if batch % g == 0)
    grouped = x.reshape(group, -1, channels, height, width)
    std = torch.sqrt(grouped.var(0, unbiased=False) + 1e-8)  # (B / group, C, H, W)
    std = std.mean(dim=(1, 2, 3)).reshape(-1, 1, 1, 1)
    std = std.repeat(group, 1, height, width)
    return torch.cat((x, std), dim=1)


class Discriminator(nn.Module):
    """D: image (B, 3, size, size) in [-1, 1] -> realness logit (B, 1) [LIA, StyleGAN2]."""

    def __init__(self, config: ModelConfig, stddev_group: int = 4) -> None:
        super().__init__()
        channels = config.channels
        self.size = config.size
        self.stddev_group = stddev_group
        layers: list[nn.Module] = [ConvLayer(3, channels[config.size], 1)]
        resolution = config.size
        while resolution > 4:
            layers.append(ResBlock(channels[resolution], channels[resolution // 2]))
            resolution //= 2
        self.convs = nn.Sequential(*layers)
        self.final_conv = ConvLayer(channels[4] + 1, channels[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(channels[4] * 4 * 4, channels[4], activation=True),
            EqualLinear(channels[4], 1),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out = minibatch_stddev(self.convs(image), self.stddev_group)
        out = self.final_conv(out)
        return self.final_linear(out.flatten(1))
