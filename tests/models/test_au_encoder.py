from __future__ import annotations

import pytest
import torch

from models import ModelConfig
from models.au_encoder import (
    AUEncoder,
    check_supported_aus,
    fully_connected_edges,
)
from models.errors import AUError


def test_graph_is_fully_connected_without_self_loops() -> None:
    edges = fully_connected_edges(7)
    assert edges.shape == (2, 42)
    assert not (edges[0] == edges[1]).any()
    assert len({tuple(edge) for edge in edges.t().tolist()}) == 42


def test_output_shape_and_batch_independence() -> None:
    torch.manual_seed(0)
    encoder = AUEncoder(ModelConfig.tiny())
    intensities = torch.rand(5, 7) * 5
    batched = encoder(intensities)
    assert batched.shape == (5, 20)
    singles = torch.cat([encoder(row[None]) for row in intensities])
    assert torch.allclose(batched, singles, atol=1e-5)


def test_permuting_aus_and_embeddings_gives_the_same_code() -> None:
    torch.manual_seed(0)
    encoder = AUEncoder(ModelConfig.tiny())
    intensities = torch.rand(3, 7) * 5
    before = encoder(intensities)
    order = torch.randperm(7)
    with torch.no_grad():
        encoder.embedding.copy_(encoder.embedding[order])
    assert torch.allclose(encoder(intensities[:, order]), before, atol=1e-5)


def test_intensities_matter_and_shape_is_checked() -> None:
    encoder = AUEncoder(ModelConfig.tiny())
    assert not torch.allclose(encoder(torch.zeros(1, 7)), encoder(torch.full((1, 7), 5.0)))
    with pytest.raises(ValueError, match=r"\(B, 7\)"):
        encoder(torch.zeros(1, 6))


def test_unsupported_au_lists_the_supported_ones() -> None:
    expected = r"AU15, AU26 not supported.*AU1, AU2, AU4, AU5, AU6, AU9, AU12"
    with pytest.raises(AUError, match=expected):
        check_supported_aus([12, 15, 26], (1, 2, 4, 5, 6, 9, 12))


def test_zero_intensities_give_exactly_zero_even_inside_a_batch() -> None:
    torch.manual_seed(0)
    encoder = AUEncoder(ModelConfig.tiny())
    intensities = torch.rand(4, 7) * 5
    intensities[1] = 0.0
    codes = encoder(intensities)
    assert torch.count_nonzero(codes[1]) == 0
    assert torch.count_nonzero(encoder(torch.zeros(3, 7))) == 0
    # AU(a) = f(a) - f(0): an offset from the neutral code, continuous at 0.
    small = encoder(torch.full((1, 7), 1e-4)).abs().max()
    large = encoder(torch.full((1, 7), 5.0)).abs().max()
    assert 0 < small < 1e-2 * large


def test_absolute_code_is_the_neutral_code_plus_the_offset() -> None:
    torch.manual_seed(0)
    encoder = AUEncoder(ModelConfig.tiny())
    with torch.no_grad():
        encoder.neutral_code.copy_(torch.randn(20))
    intensities = torch.rand(2, 7) * 5
    assert torch.allclose(encoder.absolute(intensities),
                          encoder.neutral_code + encoder(intensities))
    assert torch.equal(encoder.absolute(torch.zeros(1, 7))[0], encoder.neutral_code)
    assert "neutral_code" in encoder.state_dict()  # saved with the checkpoint
