"""Image discriminator for the GAN losses [paper eq. 10-11; LIA = StyleGAN2's residual D].

ConvLayer(3, C[size], 1), ResBlocks down to 4x4, minibatch standard deviation, conv3x3
(C[4] + 1 -> C[4]), EqualLinear(16 C[4] -> C[4], leaky ReLU), EqualLinear(C[4] -> 1).

[ours] ``chunk``: a batch that concatenates several kinds of image (S and D, or the five
generated images of eq. 5, B each) is run as if each B-sized chunk were its own batch: the
minibatch-stddev groups never mix kinds, so the statistic cannot tell real from fake by the
batch's make-up. Every other layer works per sample, so this equals separate calls.
"""

from __future__ import annotations

import torch
from torch import nn

from models.config import ModelConfig
from models.layers import ConvLayer, EqualLinear, ResBlock


def minibatch_stddev(x: torch.Tensor, max_group: int = 4, chunk: int | None = None) -> torch.Tensor:
    """Append one channel: the mean per-feature std over groups of samples [StyleGAN2].

    [ours] The group is the largest divisor of the chunk that is <= ``max_group``, so any
    batch size works; for batches divisible by 4 this is StyleGAN2's min(B, 4). Groups are
    formed inside each consecutive ``chunk`` of samples (default: the whole batch), with
    StyleGAN2's stride: sample i of a chunk of size c shares a group with i + c / group.
    """
    batch, channels, height, width = x.shape
    chunk = batch if chunk is None else chunk
    if chunk < 1 or batch % chunk:
        raise ValueError(f"minibatch stddev: batch {batch} is not a multiple of chunk {chunk}")
    group = next(g for g in range(min(chunk, max_group), 0, -1) if chunk % g == 0)
    chunks, per_group = batch // chunk, chunk // group
    grouped = x.reshape(chunks, group, per_group, channels, height, width)
    std = torch.sqrt(grouped.var(1, unbiased=False) + 1e-8)  # (chunks, c / group, C, H, W)
    std = std.mean(dim=(2, 3, 4))[:, None, :].expand(chunks, group, per_group)
    std = std.reshape(batch, 1, 1, 1).expand(batch, 1, height, width)
    return torch.cat((x, std.to(x.dtype)), dim=1)


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

    def forward(self, image: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """Logits (B, 1); ``chunk``: stddev groups stay inside each run of ``chunk`` samples."""
        out = minibatch_stddev(self.convs(image), self.stddev_group, chunk)
        out = self.final_conv(out)
        return self.final_linear(out.flatten(1))
