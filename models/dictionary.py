"""Orthogonal motion dictionary Dic [paper eq. 3; LIA's Direction].

A learnable W of shape (latent_dim, k_exp + k_pose); Q = qr(W).Q has orthonormal columns,
the motion directions. Dic(m_exp, m_pose) = Q @ concat(m_exp, m_pose) [paper eq. 3].
[ours] One dictionary holds both parts (expression columns first, then pose), so the two
subspaces are mutually orthogonal as well as orthonormal within themselves.
"""

from __future__ import annotations

import torch
from torch import nn

from models.config import ModelConfig


class MotionDictionary(nn.Module):
    """Dic: magnitudes (expression, pose) -> latent displacement along orthonormal directions."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.k_exp = config.k_exp
        self.k_pose = config.k_pose
        self.weight = nn.Parameter(torch.randn(config.latent_dim, config.motion_dim))

    def directions(self) -> torch.Tensor:
        """Q (latent_dim, k_exp + k_pose) with Q^T Q = I."""
        # QR in float32 even under autocast: it is tiny and half precision loses orthogonality.
        q, _ = torch.linalg.qr(self.weight.float(), mode="reduced")
        return q

    def forward(
        self, expression: torch.Tensor | None = None, pose: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Dic(m_exp, m_pose); a part given as None counts as zeros [paper eq. 5].

        expression: (B, k_exp), pose: (B, k_pose); returns (B, latent_dim).
        """
        if expression is not None:
            reference = expression
        elif pose is not None:
            reference = pose
        else:
            raise ValueError("Dic needs an expression code, a pose code or both")
        batch = reference.shape[0]
        if expression is None:
            expression = reference.new_zeros(batch, self.k_exp)
        if pose is None:
            pose = reference.new_zeros(batch, self.k_pose)
        magnitudes = torch.cat((expression, pose), dim=1)
        q = self.directions()
        return magnitudes.to(q.dtype) @ q.t()
