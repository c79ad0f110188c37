from __future__ import annotations

import pytest

from models.config import BASE_CHANNELS, AudioConfig, ModelConfig
from models.errors import ConfigError


def test_defaults_match_the_spec() -> None:
    config = ModelConfig()
    assert config.size == 256 and config.latent_dim == 512
    assert (config.k_pose, config.k_exp, config.app_attention_heads) == (10, 20, 8)
    assert config.au_list == (1, 2, 4, 5, 6, 9, 12) and config.au_embed_dim == 256
    assert config.channels == {r: c for r, c in BASE_CHANNELS.items() if r <= 256}
    assert config.levels == [8, 16, 32, 64, 128, 256]
    assert ModelConfig(size=512).channels[512] == 32


def test_tiny_scales_channels() -> None:
    config = ModelConfig.tiny()
    assert config.size == 64 and config.channels == {4: 32, 8: 32, 16: 32, 32: 32, 64: 16}


def test_round_trip_through_dict() -> None:
    config = ModelConfig.tiny(with_audio=True, au_list=(12, 1, 4))
    data = config.to_dict()
    assert data["au_list"] == [12, 1, 4] and isinstance(data["audio"], dict)
    assert ModelConfig.from_dict(data) == config


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"size": 300}, "size must be one of"),
        ({"k_exp": 600}, "exceeds latent_dim"),
        ({"app_attention_heads": 7}, "not divisible"),
        ({"au_list": (1, 1)}, "distinct"),
        ({"channel_scale": 2.0}, "channel_scale"),
    ],
)
def test_invalid_values_raise_config_error(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**changes)


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown model config keys: colour"):
        ModelConfig.from_dict({"size": 256, "colour": "red"})
    with pytest.raises(ConfigError, match="unknown audio config keys"):
        ModelConfig.from_dict({"audio": {"window": 3}})


def test_audio_window_must_fit_the_blocks() -> None:
    with pytest.raises(ConfigError, match="too short"):
        ModelConfig(audio=AudioConfig(window_features=2, head_blocks=2))
