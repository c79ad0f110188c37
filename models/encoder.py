"""Image encoder E [paper eq. 1: x_S = E(S), x_D = E(D); structure from LIA's EncoderApp].

ConvLayer(3, C[size], 1), ResBlocks halving the resolution down to 4x4, then a 4x4 conv with
no bias and no activation to the latent vector. Besides the vector it returns the
intermediate maps 8 .. size, coarse to fine: the source's maps are the "hierarchical facial
features" x_S_facial that the generator warps [paper]. The 4x4 map is returned too, for the
appearance extractor's attention tokens [ours].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from models.config import ModelConfig
from models.layers import ConvLayer, EqualConv2d, ResBlock


@dataclass(frozen=True)
class EncoderOutput:
    """What E gives for a batch of images.

    latent: (B, latent_dim), x in the paper.
    features: maps at 8, 16, .., size (coarse to fine); at 256: 512@8 .. 64@256.
    map_4x4: (B, C[4], 4, 4), the last map before the 4x4 conv.
    """

    latent: torch.Tensor
    features: tuple[torch.Tensor, ...]
    map_4x4: torch.Tensor


class Encoder(nn.Module):
    """E: image in [-1, 1] -> latent vector and hierarchical features [LIA, paper eq. 1]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        channels = config.channels
        self.size = config.size
        self.stem = ConvLayer(3, channels[config.size], 1)
        blocks = []
        resolution = config.size
        while resolution > 4:
            blocks.append(ResBlock(channels[resolution], channels[resolution // 2]))
            resolution //= 2
        self.blocks = nn.ModuleList(blocks)
        self.to_latent = EqualConv2d(channels[4], config.latent_dim, 4, bias=False)

    def forward(self, image: torch.Tensor) -> EncoderOutput:
        if image.shape[-2:] != (self.size, self.size):
            raise ValueError(
                f"encoder expects {self.size}x{self.size} images, got {tuple(image.shape[-2:])}"
            )
        h = self.stem(image)
        maps = [h]
        for block in self.blocks:
            h = block(h)
            maps.append(h)
        latent = self.to_latent(h).flatten(1)
        # maps = [size, size/2, .., 8, 4]; the generator wants 8 .. size.
        features = tuple(reversed(maps[:-1]))
        return EncoderOutput(latent=latent, features=features, map_4x4=maps[-1])
