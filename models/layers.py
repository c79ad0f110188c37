"""Building blocks shared by the encoder, generator and discriminator [LIA, after StyleGAN2].

Everything is plain PyTorch (no custom CUDA kernels), so it runs the same on CPU and CUDA.
Equalised learning rate: weights are drawn from N(0, 1) and scaled at run time by
1/sqrt(fan_in), so Adam sees every layer at the same scale (Karras et al.).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

BLUR_KERNEL = (1, 3, 3, 1)
LEAKY_SLOPE = 0.2
LEAKY_GAIN = math.sqrt(2)


def make_blur_kernel(taps: Sequence[float] = BLUR_KERNEL) -> torch.Tensor:
    """Separable low-pass kernel outer(taps, taps), normalised to sum 1 [LIA]."""
    kernel = torch.tensor(taps, dtype=torch.float32)
    kernel = kernel[None, :] * kernel[:, None]
    return kernel / kernel.sum()


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1,
    pad: tuple[int, int] = (0, 0),
) -> torch.Tensor:
    """Upsample by zero insertion, pad, FIR-filter each channel, downsample [LIA, native op].

    The same padding ``pad = (before, after)`` is used on both axes. Downsampling is a strided
    depthwise convolution, which equals filtering then keeping every ``down``-th sample.
    """
    batch, channels, height, width = x.shape
    if up > 1:
        x = x.reshape(batch, channels, height, 1, width, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(batch, channels, height * up, width * up)
    before, after = pad
    x = F.pad(x, [before, after, before, after])
    weight = torch.flip(kernel, [0, 1]).to(dtype=x.dtype)
    weight = weight[None, None].repeat(channels, 1, 1, 1)
    return F.conv2d(x, weight, stride=down, groups=channels)


class Blur(nn.Module):
    """FIR low-pass with the [1, 3, 3, 1] kernel; ``upsample_factor`` keeps the gain [LIA]."""

    kernel: torch.Tensor

    def __init__(self, pad: tuple[int, int], upsample_factor: int = 1) -> None:
        super().__init__()
        self.register_buffer(
            "kernel", make_blur_kernel() * upsample_factor ** 2, persistent=False
        )
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """2x upsampling with the blur kernel, for the RGB and flow skips [LIA]."""

    kernel: torch.Tensor

    def __init__(self, factor: int = 2) -> None:
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_blur_kernel() * factor ** 2, persistent=False)
        excess = len(BLUR_KERNEL) - factor
        self.pad = ((excess + 1) // 2 + factor - 1, excess // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """leaky_relu(x + b, 0.2) * sqrt(2), bias broadcast over channel dim 1 [LIA]."""
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return F.leaky_relu(x + bias.reshape(shape), LEAKY_SLOPE) * LEAKY_GAIN


class FusedLeakyReLU(nn.Module):
    """Bias per channel, leaky ReLU 0.2, gain sqrt(2) [LIA]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class EqualConv2d(nn.Module):
    """Conv2d with equalised learning rate [LIA]."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
        padding: int = 0, bias: bool = True,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.stride = stride
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        out_channels, in_channels, kernel, _ = self.weight.shape
        return f"{in_channels}, {out_channels}, {kernel}, stride={self.stride}, pad={self.padding}"


class EqualLinear(nn.Module):
    """Linear with equalised learning rate, optional fused leaky ReLU [LIA].

    ``bias_init`` is 1 for modulation layers so styles start at identity scale.
    """

    def __init__(
        self, in_dim: int, out_dim: int, bias: bool = True, bias_init: float = 0.0,
        lr_mul: float = 1.0, activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.lr_mul
        if self.activation:
            out = F.linear(x, self.weight * self.scale)
            if bias is None:
                return F.leaky_relu(out, LEAKY_SLOPE) * LEAKY_GAIN
            return fused_leaky_relu(out, bias)
        return F.linear(x, self.weight * self.scale, bias)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, activation={self.activation}"


class ConvLayer(nn.Sequential):
    """[Blur] -> EqualConv2d -> [FusedLeakyReLU] [LIA].

    With ``downsample`` the blur comes first and the conv has stride 2 and no padding.
    With an activation the bias lives in the activation, else in the conv.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, downsample: bool = False,
        bias: bool = True, activate: bool = True,
    ) -> None:
        layers: list[nn.Module] = []
        if downsample:
            excess = (len(BLUR_KERNEL) - 2) + (kernel_size - 1)
            layers.append(Blur(pad=((excess + 1) // 2, excess // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            bias=bias and not activate,
        ))
        if activate:
            layers.append(FusedLeakyReLU(out_channels))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Residual downsampling block: conv3x3 -> conv3x3/2, skip conv1x1/2, sum / sqrt(2) [LIA]."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True)
        self.skip = ConvLayer(
            in_channels, out_channels, 1, downsample=True, bias=False, activate=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution, optional 2x upsampling [LIA].

    [ours] Modulation is applied to the activations (x * s, shared conv, output * d) instead
    of building one kernel per sample for a grouped conv. Both compute
    ``conv(x, W * s / ||W * s||)`` exactly; this form batches as an ordinary conv.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
        demodulate: bool = True, upsample: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.upsample = upsample
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        if upsample:
            excess = (len(BLUR_KERNEL) - 2) - (kernel_size - 1)
            self.blur = Blur(pad=((excess + 1) // 2 + 1, excess // 2 + 1), upsample_factor=2)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        styles = self.modulation(style)  # (B, in)
        weight = self.weight * self.scale
        x = x * styles.reshape(batch, self.in_channels, 1, 1)
        if self.upsample:
            out = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
            out = self.blur(out)
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            # ||W_o * s||^2 = sum_i s_i^2 * sum_k W_oik^2
            energy = styles.square() @ weight.square().sum((2, 3)).t()  # (B, out)
            out = out * torch.rsqrt(energy + 1e-8).reshape(batch, self.out_channels, 1, 1)
        return out

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, {self.kernel_size}, "
                f"upsample={self.upsample}, demodulate={self.demodulate}")


class StyledConv(nn.Module):
    """ModulatedConv2d + FusedLeakyReLU; LIA's noise input is never fed, so it is left out."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
        upsample: bool = False,
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(
            in_channels, out_channels, kernel_size, style_dim, upsample=upsample
        )
        self.activate = FusedLeakyReLU(out_channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.activate(self.conv(x, style))


class ToRGB(nn.Module):
    """Warped features -> RGB, plus the upsampled coarser RGB [LIA].

    As in LIA this is an unmodulated 1x1 ConvLayer (with its leaky ReLU) and a free bias:
    its input, the warped source features, carries the appearance already.
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.conv = ConvLayer(in_channels, 3, 1)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.upsample = Upsample()

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


def identity_grid(size: int, batch: int, like: torch.Tensor) -> torch.Tensor:
    """Sampling grid that reproduces the input under ``align_corners=False``.

    [ours] Pixel centres ((2i + 1) / n - 1); LIA's linspace(-1, 1) is the identity only for
    align_corners=True. Built on ``like``'s device and dtype (LIA hard-codes .cuda()).
    """
    coords = torch.linspace(-1 + 1 / size, 1 - 1 / size, size, device=like.device, dtype=like.dtype)
    grid_y, grid_x = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack((grid_x, grid_y), dim=-1).expand(batch, size, size, 2)


class ToFlow(nn.Module):
    """Predict a flow field and a mask, warp the source features and mix them in [LIA].

    raw = modconv1x1(decoder features, y) + b + upsample(raw of the coarser level);
    grid = identity + tanh(raw[:, :2]); mask = sigmoid(raw[:, 2]);
    warped = grid_sample(source features, grid) * mask;
    decoder features <- warped + decoder features * (1 - mask).
    """

    def __init__(self, in_channels: int, style_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.upsample = Upsample()

    def forward(
        self, x: torch.Tensor, style: torch.Tensor, source_features: torch.Tensor,
        raw_skip: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (warped features, mixed decoder features, raw flow+mask logits)."""
        raw = self.conv(x, style) + self.bias
        if raw_skip is not None:
            raw = raw + self.upsample(raw_skip)
        batch, _, height, _ = x.shape
        grid = identity_grid(height, batch, x) + torch.tanh(raw[:, 0:2]).permute(0, 2, 3, 1)
        mask = torch.sigmoid(raw[:, 2:3])
        warped = F.grid_sample(
            source_features, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        ) * mask
        return warped, warped + x * (1 - mask), raw
