from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from models.layers import (
    Blur,
    ConvLayer,
    EqualLinear,
    ModulatedConv2d,
    ResBlock,
    ToFlow,
    Upsample,
    identity_grid,
    upfirdn2d,
)


def test_blur_and_upsample_keep_a_constant_image() -> None:
    constant = torch.full((1, 2, 8, 8), 3.0)
    blurred = Blur(pad=(2, 1))(constant)
    assert blurred.shape == (1, 2, 8, 8)
    assert torch.allclose(blurred[..., 2:-2, 2:-2], constant[..., 2:-2, 2:-2])
    upsampled = Upsample()(constant)
    assert upsampled.shape == (1, 2, 16, 16)
    assert torch.allclose(upsampled[..., 3:-3, 3:-3], torch.full((1, 2, 10, 10), 3.0))


def test_upfirdn2d_downsampling_equals_filter_then_subsample() -> None:
    x = torch.randn(2, 3, 9, 9)
    kernel = torch.rand(4, 4)
    full = upfirdn2d(x, kernel, pad=(1, 2))
    assert torch.allclose(upfirdn2d(x, kernel, down=2, pad=(1, 2)), full[..., ::2, ::2])


def test_downsampling_layers_halve_the_resolution() -> None:
    x = torch.randn(2, 4, 16, 16)
    assert ConvLayer(4, 6, 3, downsample=True)(x).shape == (2, 6, 8, 8)
    assert ResBlock(4, 6)(x).shape == (2, 6, 8, 8)


def test_equal_linear_scales_weights_at_run_time() -> None:
    layer = EqualLinear(16, 4, bias_init=1.0)
    x = torch.randn(3, 16)
    expected = x @ (layer.weight / math.sqrt(16)).t() + 1.0
    assert torch.allclose(layer(x), expected, atol=1e-6)


def _grouped_reference(conv: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """LIA's per-sample-kernel grouped convolution, written out for comparison."""
    batch, in_channels, height, width = x.shape
    styles = conv.modulation(style).reshape(batch, 1, in_channels, 1, 1)
    weight = conv.scale * conv.weight[None] * styles
    if conv.demodulate:
        weight = weight * torch.rsqrt(weight.square().sum((2, 3, 4)) + 1e-8)[..., None, None, None]
    k = conv.kernel_size
    if conv.upsample:
        weight = weight.transpose(1, 2).reshape(batch * in_channels, conv.out_channels, k, k)
        out = F.conv_transpose2d(x.reshape(1, -1, height, width), weight, stride=2, groups=batch)
        return conv.blur(out.reshape(batch, conv.out_channels, *out.shape[-2:]))
    weight = weight.reshape(batch * conv.out_channels, in_channels, k, k)
    out = F.conv2d(x.reshape(1, -1, height, width), weight, padding=conv.padding, groups=batch)
    return out.reshape(batch, conv.out_channels, height, width)


def test_modulated_conv_equals_the_grouped_form() -> None:
    torch.manual_seed(0)
    x, style = torch.randn(3, 8, 6, 6), torch.randn(3, 16)
    for upsample, demodulate in ((False, True), (True, True), (False, False)):
        conv = ModulatedConv2d(8, 5, 3, 16, demodulate=demodulate, upsample=upsample)
        with torch.no_grad():
            conv.modulation.bias.normal_()
        ours, reference = conv(x, style), _grouped_reference(conv, x, style)
        assert ours.shape == (3, 5, 12 if upsample else 6, 12 if upsample else 6)
        assert torch.allclose(ours, reference, atol=1e-5)


def test_identity_grid_reproduces_the_input() -> None:
    feature = torch.randn(2, 3, 8, 8)
    grid = identity_grid(8, 2, feature)
    sampled = F.grid_sample(feature, grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)
    assert torch.allclose(sampled, feature, atol=1e-6)


def test_to_flow_with_zero_logits_is_an_identity_warp_at_half_mask() -> None:
    flow = ToFlow(4, 16)
    with torch.no_grad():
        flow.conv.weight.zero_()
    decoder, source = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    warped, mixed, raw = flow(decoder, torch.randn(2, 16), source)
    assert torch.equal(raw, torch.zeros(2, 3, 8, 8))
    assert torch.allclose(warped, source * 0.5, atol=1e-6)
    assert torch.allclose(mixed, (source + decoder) * 0.5, atol=1e-6)
