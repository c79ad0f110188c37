"""The three extractors E_app, E_pose, E_exp [paper eq. 2, structure from LIA].

[paper] x_S^app = E_app(x_S), x_D^pose = E_pose(x_D), x_D^exp = E_exp(x_D); they "share the
same structure as in LIA", whose motion network is 4 x EqualLinear(512, 512) +
EqualLinear(512, k) with no activation in between. E_app is "a fully connected network that
employs self-attention" [paper]; the form of the attention is ours (see AppearanceExtractor).
"""

from __future__ import annotations

import torch
from torch import nn

from models.config import ModelConfig
from models.encoder import EncoderOutput
from models.layers import EqualLinear


class MotionMLP(nn.Sequential):
    """``hidden_layers`` x EqualLinear(d, d) then EqualLinear(d, out), no activation [LIA]."""

    def __init__(self, dim: int, out_dim: int, hidden_layers: int) -> None:
        layers = [EqualLinear(dim, dim) for _ in range(hidden_layers)]
        layers.append(EqualLinear(dim, out_dim))
        super().__init__(*layers)


class AppearanceExtractor(nn.Module):
    """E_app: encoder output of the source -> appearance code x_S^app (latent_dim) [paper].

    [ours] The encoder map at ``app_token_resolution`` (4x4 -> 16 tokens of C[4] channels)
    plus a learned position embedding goes through one pre-norm multi-head self-attention
    layer with a residual; the mean token (projected to latent_dim if needed) is added to
    x_S and the LIA MLP maps the sum to the appearance code. With ``app_attention=False``
    E_app is the plain LIA MLP on x_S.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.use_attention = config.app_attention
        self.token_resolution = config.app_token_resolution
        if self.use_attention:
            channels = config.channels[config.app_token_resolution]
            tokens = config.app_token_resolution ** 2
            self.position = nn.Parameter(torch.zeros(1, tokens, channels))
            nn.init.normal_(self.position, std=0.02)
            self.norm = nn.LayerNorm(channels)
            self.attention = nn.MultiheadAttention(
                channels, config.app_attention_heads, batch_first=True
            )
            self.project = (
                nn.Identity() if channels == config.latent_dim
                else EqualLinear(channels, config.latent_dim)
            )
        self.mlp = MotionMLP(config.latent_dim, config.latent_dim, config.motion_mlp_layers)

    def forward(self, encoded: EncoderOutput) -> torch.Tensor:
        h = encoded.latent
        if self.use_attention:
            token_map = encoded.map_4x4 if self.token_resolution == 4 else encoded.features[0]
            tokens = token_map.flatten(2).transpose(1, 2) + self.position  # (B, N, C)
            normed = self.norm(tokens)
            attended, _ = self.attention(normed, normed, normed, need_weights=False)
            tokens = tokens + attended
            h = h + self.project(tokens.mean(dim=1))
        return self.mlp(h)


class PoseExtractor(MotionMLP):
    """E_pose: x (latent_dim) -> pose magnitudes x^pose (k_pose) [paper eq. 2, LIA MLP]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config.latent_dim, config.k_pose, config.motion_mlp_layers)


class ExpressionExtractor(MotionMLP):
    """E_exp: x (latent_dim) -> expression magnitudes x^exp (k_exp) [paper eq. 2, LIA MLP]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config.latent_dim, config.k_exp, config.motion_mlp_layers)
