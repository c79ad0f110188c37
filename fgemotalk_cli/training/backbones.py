"""Frozen loss backbones for stage 1, in pure PyTorch, loaded from local state-dict files.

[paper] L_app compares ReID features (DG-Net's ResNet-50), L_exp Micron-BERT token features
(ViT, patch 8, 224 px), L_per VGG features over an image pyramid [ours: VGG-16 relu1_2,
2_2, 3_3, 4_3; LIA used VGG-19]. None of these weights can be downloaded here: each role
takes a ``weights`` path. Without one, training stops with a WeightsError unless the config
names the documented fallback ``frozen_encoder`` (features of a frozen copy of our own
encoder E), or turns the loss off with weight 0. Never a silently random backbone.

Key names follow the public releases, so their files load as they are: torchvision's
``vgg16-397923af.pth`` (``features.N.*``), DG-Net / torchvision ResNet-50 (``model.conv1.*``
or ``conv1.*``; classifiers ignored), Micron-BERT's checkpoint (``backbone.blocks.N.*`` inside
``{"model": ...}``; the decoder and heads ignored).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from fgemotalk_cli.errors import WeightsError
from models.encoder import Encoder

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Wrappers seen around the weights in public checkpoints, tried in this order.
NESTED_KEYS = ("state_dict", "model", "a", "net", "model_state_dict")
PREFIXES = ("module.", "model.", "backbone.")
ROLE_DESCRIPTIONS = {
    "appearance": "ReID ResNet-50 weights (DG-Net's id_00100000.pt or a torchvision-layout "
                  "ResNet-50 state dict)",
    "expression": "Micron-BERT weights (the released CASME2-is224-p8 checkpoint's 'model' dict)",
    "perceptual": "VGG-16 weights (torchvision's vgg16-397923af.pth)",
}


class ImageNetInput(nn.Module):
    """[-1, 1] RGB -> ImageNet-normalised, resized to ``size`` when given."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, size: int | None = None) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if self.size is not None and image.shape[-1] != self.size:
            image = F.interpolate(image, size=(self.size, self.size), mode="bilinear",
                                  align_corners=False, antialias=image.shape[-1] > self.size)
        return ((image.clamp(-1, 1) + 1) / 2 - self.mean) / self.std


class VGG16Features(nn.Module):
    """VGG-16 up to relu4_3 with torchvision's ``features`` indices; returns 4 maps."""

    TAPS = (3, 8, 15, 22)  # relu1_2, relu2_2, relu3_3, relu4_3

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for width, convs in ((64, 2), (128, 2), (256, 3), (512, 3)):
            for _ in range(convs):
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=False)]
                channels = width
            layers.append(nn.MaxPool2d(2, 2))
        self.input = ImageNetInput()
        self.features = nn.Sequential(*layers[:self.TAPS[-1] + 1])

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        h = self.input(image)
        maps = []
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index in self.TAPS:
                maps.append(h)
        return maps


class Bottleneck(nn.Module):
    def __init__(self, in_channels: int, width: int, stride: int) -> None:
        super().__init__()
        out_channels = width * 4
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        skip = x if self.downsample is None else self.downsample(x)
        return F.relu(out + skip)


class ReIDResNet50(nn.Module):
    """ResNet-50 trunk (torchvision names) -> pooled 2048-d appearance feature.

    DG-Net's ReID model uses stride 1 in the last stage (``last_stride=1``) [DG-Net].
    [ours] faces are fed at 224 x 224 (ReID nets see 256 x 128 people; a face is square).
    """

    # Built by ``setattr`` in __init__, under torchvision's names.
    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(self, last_stride: int = 1, input_size: int = 224) -> None:
        super().__init__()
        self.input = ImageNetInput(input_size)
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        channels = 64
        for index, (width, blocks, stride) in enumerate(
                ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, last_stride)), start=1):
            layer = []
            for block in range(blocks):
                layer.append(Bottleneck(channels, width, stride if block == 0 else 1))
                channels = width * 4
            setattr(self, f"layer{index}", nn.Sequential(*layer))

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(self.input(image)))), 3, 2, 1)
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        return [h.mean(dim=(2, 3))]


class ViTBlock(nn.Module):
    """Pre-norm transformer block with timm's names (norm1, attn.qkv, attn.proj, mlp.fc1/2)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.ModuleDict({"qkv": nn.Linear(dim, dim * 3), "proj": nn.Linear(dim, dim)})
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.ModuleDict({"fc1": nn.Linear(dim, dim * mlp_ratio),
                                  "fc2": nn.Linear(dim * mlp_ratio, dim)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.attn["qkv"](self.norm1(x)).reshape(batch, tokens, 3, self.heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v)
        x = x + self.attn["proj"](attended.transpose(1, 2).reshape(batch, tokens, dim))
        return x + self.mlp["fc2"](F.gelu(self.mlp["fc1"](self.norm2(x))))


class MicronBertViT(nn.Module):
    """Micron-BERT's encoder [Nguyen et al. 2023]: ViT 224 px, patch 8, 512-d, 4 blocks,
    4 heads. Returns the patch tokens (B, 784, 512) after the final norm, no CLS token."""

    def __init__(self, image_size: int = 224, patch: int = 8, dim: int = 512, depth: int = 4,
                 heads: int = 4, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.input = ImageNetInput(image_size)
        self.patch_embed = nn.ModuleDict({"proj": nn.Conv2d(3, dim, patch, patch)})
        tokens = (image_size // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        self.blocks = nn.ModuleList(ViTBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed["proj"](self.input(image)).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return [self.norm(x)[:, 1:]]


class FrozenEncoderFeatures(nn.Module):
    """Fallback extractor: a frozen copy of our encoder E; returns its maps and latent [ours].

    Inputs of another size (the perceptual pyramid's coarser levels) are resized to E's size.
    """

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = copy.deepcopy(encoder).requires_grad_(False).eval()

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        size = self.encoder.size
        if image.shape[-1] != size:
            image = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False)
        encoded = self.encoder(image)
        return [*encoded.features, encoded.latent]


BACKBONE_CLASSES: dict[str, Callable[[], nn.Module]] = {
    "appearance": ReIDResNet50, "expression": MicronBertViT, "perceptual": VGG16Features,
}


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a local weights file (.safetensors, or a torch file loaded weights-only)."""
    import pickle

    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"loss backbone weights not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise WeightsError(
            f"{path} holds Python objects besides tensors, which are not loaded for safety. "
            "If (and only if) you trust where the file came from, extract the weights once with: "
            "python -c \"import torch; c = torch.load('"
            f"{path}', weights_only=False); torch.save(c.get('model', c), '{path}.weights.pt')\""
            " and point the config at the .weights.pt file"
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        raise WeightsError(f"cannot read loss backbone weights {path}: {error}") from None
    while isinstance(data, Mapping):
        nested = next((data[k] for k in NESTED_KEYS if isinstance(data.get(k), Mapping)), None)
        if nested is None or any(isinstance(v, torch.Tensor) for v in data.values()):
            break
        data = nested
    if not isinstance(data, Mapping):
        raise WeightsError(f"{path} does not hold a state dict (found {type(data).__name__})")
    return {str(k): v for k, v in data.items() if isinstance(v, torch.Tensor)}


def load_backbone(role: str, path: str | Path) -> nn.Module:
    """Build the ``role``'s backbone and load ``path`` into it; frozen and in eval mode."""
    module = BACKBONE_CLASSES[role]()
    state = read_state_dict(path)
    wanted = {k for k in module.state_dict() if not k.startswith("input.")}
    matched: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = key
        for _ in range(3):  # prefixes nest, e.g. "module.backbone.blocks.0..."
            if name in wanted:
                break
            name = next((name[len(p):] for p in PREFIXES if name.startswith(p)), name)
        if name in wanted:
            matched.setdefault(name, value)
    missing = sorted(wanted - set(matched))
    if missing:
        shown = ", ".join(missing[:4]) + (" ..." if len(missing) > 4 else "")
        raise WeightsError(
            f"{path} does not fit the {role} backbone ({ROLE_DESCRIPTIONS[role]}): "
            f"{len(missing)} of {len(wanted)} weights missing ({shown})"
        )
    own = module.state_dict()
    wrong = [f"{k} {tuple(v.shape)} (expected {tuple(own[k].shape)})"
             for k, v in matched.items() if tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        raise WeightsError(f"{path}: wrong shapes for the {role} backbone: {'; '.join(wrong[:3])}")
    module.load_state_dict({**own, **matched})
    return module.requires_grad_(False).eval()


def missing_weights_message(role: str) -> str:
    return (
        f"the {role} loss needs {ROLE_DESCRIPTIONS[role]} from a local file, and none can be "
        f"downloaded here. Set loss.backbones.{role}.weights to the file; or set "
        f"loss.backbones.{role}.fallback: frozen_encoder to compare features of a frozen copy "
        f"of our own encoder instead (weaker, documented fallback); or set "
        f"loss.weights.{role}: 0 to train without this loss"
    )


def build_feature_losses(loss_config, encoder: Encoder, device: torch.device):
    """The stage-1 feature losses per role, honouring weights, fallbacks and zero weights.

    Returns ``(losses, fallback, notes)``: ``losses[role]`` is a ``models.losses.FeatureLoss``
    or None (weight 0); ``fallback`` is the shared ``FrozenEncoderFeatures`` when any role
    uses it (its weights belong in the checkpoint, for an exact resume); ``notes`` are lines
    for the log saying where each backbone came from.
    """
    from models.losses import FeatureLoss, perceptual_loss

    losses: dict[str, nn.Module | None] = {}
    notes: list[str] = []
    fallback: FrozenEncoderFeatures | None = None
    for role in ("appearance", "expression", "perceptual"):
        if getattr(loss_config.weights, role) == 0:
            losses[role] = None
            notes.append(f"{role} loss: off (weight 0)")
            continue
        choice = getattr(loss_config.backbones, role)
        if choice.weights:
            extractor: nn.Module = load_backbone(role, choice.weights).to(device)
            notes.append(f"{role} loss: {type(extractor).__name__} from {choice.weights}")
        elif choice.fallback == "frozen_encoder":
            if fallback is None:
                fallback = FrozenEncoderFeatures(_fallback_encoder(loss_config, encoder))
                fallback.to(device)
            extractor = fallback
            source = loss_config.fallback_encoder_checkpoint or "stage-1 initialisation"
            notes.append(f"{role} loss: FALLBACK frozen copy of encoder E ({source})")
        else:
            raise WeightsError(missing_weights_message(role))
        if role == "perceptual" and extractor is not fallback:
            losses[role] = perceptual_loss(extractor)
        elif role == "perceptual":
            # E only takes its own image size: coarser pyramid levels would be upsampled back
            # to it, costing three more passes for little, so the fallback compares once.
            losses[role] = FeatureLoss(extractor, distance="l1", reduction="sum")
        else:
            losses[role] = FeatureLoss(extractor, distance="l1", reduction="mean")
    return losses, fallback, notes


def _fallback_encoder(loss_config, encoder: Encoder) -> Encoder:
    if not loss_config.fallback_encoder_checkpoint:
        return encoder
    from models.checkpoint import load_checkpoint

    model, _ = load_checkpoint(loss_config.fallback_encoder_checkpoint)
    if model.encoder.size != encoder.size:
        raise WeightsError(
            f"loss.fallback_encoder_checkpoint is a {model.encoder.size} px model; this run "
            f"trains at {encoder.size} px"
        )
    return model.encoder
