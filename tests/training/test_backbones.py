"""Loss backbones load the public releases' key layouts, and never fall back silently."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from fgemotalk_cli.errors import WeightsError
from fgemotalk_cli.training.backbones import (
    MicronBertViT,
    ReIDResNet50,
    VGG16Features,
    build_feature_losses,
    load_backbone,
)
from fgemotalk_cli.training.config import config_from_dict


def _images() -> torch.Tensor:
    return torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_vgg16_loads_a_torchvision_state_dict(tmp_path: Path) -> None:
    reference = VGG16Features()
    state = {k: v for k, v in reference.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # torchvision's head: ignored
    state["features.24.weight"] = torch.zeros(512, 512, 3, 3)  # layers past relu4_3: ignored
    torch.save(state, tmp_path / "vgg16.pth")
    loaded = load_backbone("perceptual", tmp_path / "vgg16.pth")
    maps = loaded(_images())
    assert [m.shape[1] for m in maps] == [64, 128, 256, 512]
    assert all(torch.equal(a, b) for a, b in zip(maps, reference(_images())))
    assert not any(p.requires_grad for p in loaded.parameters())


def test_reid_resnet50_loads_a_dgnet_style_checkpoint(tmp_path: Path) -> None:
    reference = ReIDResNet50()
    state = {f"model.{k}": v for k, v in reference.state_dict().items()}
    state["classifier1.classifier.0.weight"] = torch.zeros(3, 3)
    torch.save({"a": state}, tmp_path / "id_00100000.pt")
    loaded = load_backbone("appearance", tmp_path / "id_00100000.pt")
    image = _images()[:1]
    assert torch.allclose(loaded(image)[0], reference.eval()(image)[0])


def test_micron_bert_needs_its_weights_extracted_then_loads(tmp_path: Path) -> None:
    reference = MicronBertViT()
    state = {f"module.backbone.{k}": v for k, v in reference.state_dict().items()}
    state["module.decoder_embed.weight"] = torch.zeros(2, 2)
    torch.save({"model": state, "args": argparse.Namespace(model_name="mae")},
               tmp_path / "micron.pth")
    with pytest.raises(WeightsError, match="extract the weights once"):
        load_backbone("expression", tmp_path / "micron.pth")
    torch.save({"model": state}, tmp_path / "micron.weights.pt")
    loaded = load_backbone("expression", tmp_path / "micron.weights.pt")
    tokens = loaded(_images())[0]
    assert tokens.shape == (2, 784, 512)
    assert torch.allclose(tokens, reference(_images())[0], atol=1e-5)


def test_wrong_or_missing_files_are_weights_errors(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        load_backbone("perceptual", tmp_path / "missing.pth")
    torch.save({"something.else": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="does not fit the perceptual backbone"):
        load_backbone("perceptual", tmp_path / "other.pth")


def _loss_config(**backbones):
    return config_from_dict({"stage": 1, "run_dir": "r", "data": {"roots": ["d"]},
                             "loss": {"backbones": backbones}}).loss


def test_no_weights_and_no_fallback_stops_with_a_clear_message() -> None:
    from models.config import ModelConfig
    from models.encoder import Encoder

    encoder = Encoder(ModelConfig.tiny())
    with pytest.raises(WeightsError, match="fallback: frozen_encoder"):
        build_feature_losses(_loss_config(), encoder, torch.device("cpu"))


def test_fallback_is_a_frozen_copy_and_zero_weight_turns_a_loss_off() -> None:
    from models.config import ModelConfig
    from models.encoder import Encoder

    encoder = Encoder(ModelConfig.tiny())
    fallback = {"fallback": "frozen_encoder"}
    config = _loss_config(appearance=fallback, expression=fallback, perceptual=fallback)
    losses, frozen, notes = build_feature_losses(config, encoder, torch.device("cpu"))
    assert frozen is not None and all(losses[r] is not None for r in losses)
    assert all("FALLBACK" in note for note in notes)
    assert not any(p.requires_grad for p in frozen.parameters())
    assert frozen.encoder is not encoder  # a copy: training E does not move the target
    fake = _images().requires_grad_(True)
    losses["perceptual"](fake, _images().flip(0)).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0

    config = config_from_dict({"stage": 1, "run_dir": "r", "data": {"roots": ["d"]},
                               "loss": {"weights": {"appearance": 0, "expression": 0,
                                                    "perceptual": 0}}}).loss
    losses, frozen, _ = build_feature_losses(config, encoder, torch.device("cpu"))
    assert frozen is None and all(value is None for value in losses.values())
