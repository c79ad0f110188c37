"""Flow-warping generator G(x_S_facial, y) [paper eq. 4; LIA's Synthesis].

A constant 4x4 input and a StyledConv, then one level per resolution 8 .. size: two
StyledConvs (the first upsamples), ToFlow (flow + mask that warp the source's encoder map of
that level into the decoder path) and ToRGB on the warped features, summed with the
upsampled coarser RGB. The same latent y = x_S^app + Dic(...) modulates every layer. The
output image is the last RGB skip, with no tanh [LIA].

[ours] LIA also builds a ``to_rgb1`` at 4x4 that its forward never uses; it is left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from models.config import ModelConfig
from models.layers import StyledConv, ToFlow, ToRGB


class Generator(nn.Module):
    """G: source features (coarse to fine, 8 .. size) and latent y -> image (B, 3, size, size)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        channels = config.channels
        style_dim = config.latent_dim
        self.levels = config.levels
        self.constant = nn.Parameter(torch.randn(1, channels[4], 4, 4))
        self.conv_4x4 = StyledConv(channels[4], channels[4], 3, style_dim)
        self.up_convs = nn.ModuleList()
        self.convs = nn.ModuleList()
        self.to_flows = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_channels = channels[4]
        for resolution in self.levels:
            out_channels = channels[resolution]
            self.up_convs.append(
                StyledConv(in_channels, out_channels, 3, style_dim, upsample=True)
            )
            self.convs.append(StyledConv(out_channels, out_channels, 3, style_dim))
            self.to_flows.append(ToFlow(out_channels, style_dim))
            self.to_rgbs.append(ToRGB(out_channels))
            in_channels = out_channels

    def forward(
        self, source_features: Sequence[torch.Tensor], latent: torch.Tensor,
        return_flows: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Render one image per latent.

        source_features: E(S)'s maps 8 .. size, batch B or 1 (broadcast to the latents).
        latent: y, (B, latent_dim).
        return_flows: also return the raw flow+mask logits of every level (for inspection).
        """
        if len(source_features) != len(self.levels):
            raise ValueError(
                f"generator needs {len(self.levels)} feature maps, got {len(source_features)}"
            )
        batch = latent.shape[0]
        out = self.conv_4x4(self.constant.expand(batch, -1, -1, -1), latent)
        rgb: torch.Tensor | None = None
        raw_flow = None
        raw_flows = []
        for level, feature in enumerate(source_features):
            if feature.shape[0] != batch:
                feature = feature.expand(batch, -1, -1, -1)
            out = self.up_convs[level](out, latent)
            out = self.convs[level](out, latent)
            warped, out, raw_flow = self.to_flows[level](out, latent, feature, raw_flow)
            rgb = self.to_rgbs[level](warped, rgb)
            raw_flows.append(raw_flow)
        if rgb is None:
            raise ValueError("generator has no levels to render")
        if return_flows:
            return rgb, raw_flows
        return rgb
