"""Fixtures for the network tests: a tiny 64-px model and a session-wide 256-px one."""

from __future__ import annotations

import pytest
import torch

from models import FGEmoTalk, ModelConfig


@pytest.fixture()
def tiny_config() -> ModelConfig:
    return ModelConfig.tiny()


@pytest.fixture()
def tiny_model(tiny_config: ModelConfig) -> FGEmoTalk:
    torch.manual_seed(0)
    return FGEmoTalk(tiny_config)


@pytest.fixture(scope="session")
def model_256() -> FGEmoTalk:
    """The spec's 256-px network, random weights, eval mode; tests must not modify it."""
    torch.manual_seed(0)
    return FGEmoTalk(ModelConfig(size=256)).eval()


def images(batch: int, size: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=generator) * 2 - 1
