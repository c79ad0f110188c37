"""AU encoder: AU intensities -> expression code [paper, after ME-GraphAU (Luo et al. 2022)].

[paper] A learnable AU embedding matrix M (n x d) is multiplied by the intensity vector
(node i gets a_i * M_i), a gated graph convolution propagates over the AU relation graph,
average graph pooling gives the AU feature, which lives in the expression code space and is
supervised by E_exp(x_D) of the labelled frame (stage 2).
[ours] AU(a) is an expression *offset*: stage 2 supervises it with E_exp(x_D) minus the
subject's neutral code (the mean code of that subject's frames with every AU at 0), and the
network is f(a) - f(0), exactly 0 at a = 0. So "add" (E_exp(x_D) + AU(a)) leaves an all-zero
vector's image untouched, and "replace" uses the absolute code ``neutral_code`` + AU(a), where
``neutral_code`` (a saved buffer) is the mean neutral code of the training subjects.
[ours] torch_geometric ResGatedGraphConv(d, d, aggr="mean"), ``au_graph_layers`` layers of
h <- relu(h + LayerNorm(conv(h))); the graph is fully connected without self loops
(n (n - 1) edges per sample, batched by node offsets); global_mean_pool; EqualLinear(d, k_exp).
Intensities are divided by ``au_max_intensity`` (5). LayerNorm, not BatchNorm: inference runs
on one AU vector at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from models.config import ModelConfig
from models.errors import AUError
from models.layers import EqualLinear


def check_supported_aus(requested: Iterable[int], supported: Sequence[int]) -> None:
    """Raise AUError naming the AUs a checkpoint was not trained on, and the ones it has."""
    missing = sorted({int(au) for au in requested} - {int(au) for au in supported})
    if missing:
        names = ", ".join(f"AU{au}" for au in missing)
        offered = ", ".join(f"AU{au}" for au in supported)
        raise AUError(
            f"{names} not supported by this neural checkpoint; it was trained on {offered} "
            "(the warp engine covers more AUs: --engine warp)"
        )


def fully_connected_edges(nodes: int) -> torch.Tensor:
    """edge_index (2, n (n - 1)) of the complete directed graph without self loops."""
    source, target = torch.meshgrid(torch.arange(nodes), torch.arange(nodes), indexing="ij")
    keep = source != target
    return torch.stack((source[keep], target[keep]))


class AUEncoder(nn.Module):
    """AU(a): intensities (B, n) in [0, 5] -> expression offset (B, k_exp) [paper; ours: offset].

    ``forward`` returns f(a) - f(0) (0 exactly where every intensity is 0); ``absolute``
    adds ``neutral_code`` for the "replace" mode.
    """

    edges: torch.Tensor
    neutral_code: torch.Tensor

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        from torch_geometric.nn import ResGatedGraphConv

        self.au_list = config.au_list
        self.max_intensity = config.au_max_intensity
        nodes, dim = len(config.au_list), config.au_embed_dim
        self.embedding = nn.Parameter(torch.randn(nodes, dim))
        self.convs = nn.ModuleList(
            ResGatedGraphConv(dim, dim, aggr="mean") for _ in range(config.au_graph_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(config.au_graph_layers))
        self.project = EqualLinear(dim, config.k_exp)
        self.register_buffer("edges", fully_connected_edges(nodes), persistent=False)
        # Set by stage 2 from the training subjects; zeros until then.
        self.register_buffer("neutral_code", torch.zeros(config.k_exp))

    def forward(self, intensities: torch.Tensor) -> torch.Tensor:
        """AU(a) = f(a) - f(0) [ours]; rows whose intensities are all 0 give exactly 0."""
        self._check_shape(intensities)
        zero = torch.zeros_like(intensities[:1])
        raw = self.graph_code(torch.cat((intensities, zero)))
        offset = raw[:-1] - raw[-1:]
        active = (intensities != 0).any(dim=1, keepdim=True)
        return torch.where(active, offset, torch.zeros_like(offset))

    def absolute(self, intensities: torch.Tensor) -> torch.Tensor:
        """neutral_code + AU(a): an absolute expression code, for the "replace" mode [ours]."""
        return self.neutral_code.to(self.embedding.dtype) + self(intensities)

    def _check_shape(self, intensities: torch.Tensor) -> None:
        nodes = len(self.au_list)
        if intensities.dim() != 2 or intensities.shape[1] != nodes:
            raise ValueError(
                f"AU encoder expects intensities of shape (B, {nodes}) for AUs "
                f"{list(self.au_list)}, got {tuple(intensities.shape)}"
            )

    def graph_code(self, intensities: torch.Tensor) -> torch.Tensor:
        """f(a): the gated GCN over the AU graph, mean-pooled and projected [paper]."""
        from torch_geometric.nn import global_mean_pool

        nodes = len(self.au_list)
        batch = intensities.shape[0]
        scaled = intensities.to(self.embedding.dtype) / self.max_intensity
        h = (scaled[:, :, None] * self.embedding[None]).reshape(batch * nodes, -1)
        offsets = torch.arange(batch, device=h.device).repeat_interleave(self.edges.shape[1])
        edge_index = self.edges.repeat(1, batch) + offsets * nodes
        graph_of_node = torch.arange(batch, device=h.device).repeat_interleave(nodes)
        for conv, norm in zip(self.convs, self.norms):
            h = torch.relu(h + norm(conv(h, edge_index)))
        return self.project(global_mean_pool(h, graph_of_node, size=batch))
