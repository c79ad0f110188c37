"""Model dimensions of the FG-EmoTalk network, as dataclasses with defaults.

``ModelConfig()`` is the 256-pixel network of ARCHITECTURE.md; ``ModelConfig(size=512)`` the
paper's 512-pixel one. ``ModelConfig.tiny()`` is a 64-pixel network with 1/16 of the channels
for unit tests and CPU smoke training; it is not meant to produce good images.

A config travels inside every checkpoint as ``to_dict()`` and is rebuilt with ``from_dict``,
so a checkpoint always carries its own architecture.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from models.errors import ConfigError

# [LIA] channels per resolution of the encoder, generator and discriminator.
BASE_CHANNELS: dict[int, int] = {
    4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32,
}
SUPPORTED_SIZES = (64, 128, 256, 512)
# [paper] DISFA AUs without the mouth-shape ones.
PAPER_AUS = (1, 2, 4, 5, 6, 9, 12)


@dataclass(frozen=True)
class AudioConfig:
    """Audio encoder settings [paper: Wav2Vec2 + ResBlocks; numbers ours].

    ``wav2vec2_path`` is a local folder with a pretrained ``Wav2Vec2Model`` (config.json and
    weights); it is read only when the model is first built for training. ``wav2vec2_config``
    is a ``Wav2Vec2Config`` dict for a randomly initialised backbone (None means the base
    architecture). A saved checkpoint stores the resolved config and the weights, never the path.
    """

    wav2vec2_path: str | None = None
    wav2vec2_config: dict[str, Any] | None = None
    sample_rate: int = 16000
    feature_rate: int = 50  # Wav2Vec2 emits one feature per 320 samples at 16 kHz.
    window_features: int = 16  # features around each video frame (0.32 s at 50/s)
    head_channels: int = 256
    head_blocks: int = 2
    freeze_backbone: bool = True
    normalize_wave: bool = True  # zero mean, unit variance, as Wav2Vec2FeatureExtractor does
    chunk_seconds: float = 30.0  # bounded memory on long audio
    context_seconds: float = 1.0  # extra audio on each side of a chunk, dropped afterwards

    @classmethod
    def tiny(cls) -> AudioConfig:
        """A two-layer, 32-wide random Wav2Vec2 for unit tests."""
        return cls(
            wav2vec2_config={
                "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                "intermediate_size": 64, "conv_dim": [16] * 7,
                "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4,
            },
            window_features=8, head_channels=16, head_blocks=1, chunk_seconds=2.0,
            context_seconds=0.5,
        )

    def validate(self) -> None:
        if self.sample_rate % self.feature_rate:
            raise ConfigError("audio.sample_rate must be a multiple of audio.feature_rate")
        if self.window_features < 2 ** self.head_blocks:
            raise ConfigError(
                f"audio.window_features={self.window_features} is too short for "
                f"{self.head_blocks} downsampling blocks (need at least {2 ** self.head_blocks})"
            )
        if self.chunk_seconds <= 0 or self.context_seconds < 0:
            raise ConfigError("audio.chunk_seconds must be > 0 and audio.context_seconds >= 0")


@dataclass(frozen=True)
class ModelConfig:
    """Dimensions of every part of FGEmoTalk [paper, LIA; ours where marked]."""

    size: int = 256
    # [ours] scales every entry of the channel table (LIA's channel_multiplier only scales
    # resolutions >= 64); 1.0 is the spec. Smaller values give CPU-sized test networks.
    channel_scale: float = 1.0
    latent_dim: int = 512
    k_pose: int = 10  # [ours]
    k_exp: int = 20  # [ours]
    motion_mlp_layers: int = 4  # [LIA] 4 x EqualLinear(512, 512) before the output layer
    # [ours] E_app: self-attention over the encoder map at this resolution (4 or 8).
    app_attention: bool = True
    app_attention_heads: int = 8
    app_token_resolution: int = 4
    au_list: tuple[int, ...] = PAPER_AUS
    au_embed_dim: int = 256
    au_graph_layers: int = 2
    au_max_intensity: float = 5.0
    audio: AudioConfig | None = None  # no audio encoder unless asked for (stage 3)

    def __post_init__(self) -> None:
        object.__setattr__(self, "au_list", tuple(int(au) for au in self.au_list))
        self.validate()

    # -- derived ---------------------------------------------------------------------------
    @property
    def channels(self) -> dict[int, int]:
        """Channels per resolution for this size and scale (4 .. size)."""
        table = {}
        for resolution, base in BASE_CHANNELS.items():
            if resolution <= self.size:
                table[resolution] = max(1, int(round(base * self.channel_scale)))
        return table

    @property
    def levels(self) -> list[int]:
        """Resolutions with an encoder map, a warp and a ToRGB, coarse to fine: 8 .. size."""
        return [2 ** i for i in range(3, int(math.log2(self.size)) + 1)]

    @property
    def motion_dim(self) -> int:
        return self.k_exp + self.k_pose

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def tiny(cls, with_audio: bool = False, **overrides: Any) -> ModelConfig:
        """64 px, channels / 16, latent 64: for tests and CPU smoke runs, not for quality."""
        settings: dict[str, Any] = {
            "size": 64, "channel_scale": 1 / 16, "latent_dim": 64, "app_attention_heads": 4,
            "au_embed_dim": 16,
        }
        if with_audio:
            settings["audio"] = AudioConfig.tiny()
        settings.update(overrides)
        return cls(**settings)

    def validate(self) -> None:
        if self.size not in SUPPORTED_SIZES:
            raise ConfigError(f"model size must be one of {SUPPORTED_SIZES}, got {self.size}")
        if not 0 < self.channel_scale <= 1:
            raise ConfigError(f"channel_scale must be in (0, 1], got {self.channel_scale}")
        if min(self.k_pose, self.k_exp) < 1:
            raise ConfigError("k_pose and k_exp must be at least 1")
        if self.motion_dim > self.latent_dim:
            raise ConfigError(
                f"k_exp + k_pose = {self.motion_dim} exceeds latent_dim = {self.latent_dim}: "
                "the dictionary needs that many orthonormal directions in the latent space"
            )
        if self.app_token_resolution not in (4, 8):
            raise ConfigError("app_token_resolution must be 4 or 8")
        token_channels = self.channels[self.app_token_resolution]
        if self.app_attention and token_channels % self.app_attention_heads:
            raise ConfigError(
                f"appearance attention: {token_channels} channels are not divisible by "
                f"{self.app_attention_heads} heads"
            )
        if len(self.au_list) < 2 or len(set(self.au_list)) != len(self.au_list):
            raise ConfigError(f"au_list needs two or more distinct AUs, got {list(self.au_list)}")
        if self.au_embed_dim < 1 or self.au_graph_layers < 1 or self.au_max_intensity <= 0:
            raise ConfigError("au_embed_dim, au_graph_layers and au_max_intensity must be > 0")
        if self.motion_mlp_layers < 0:
            raise ConfigError("motion_mlp_layers must be >= 0")
        if self.audio is not None:
            self.audio.validate()

    def with_audio(self, audio: AudioConfig | None) -> ModelConfig:
        return replace(self, audio=audio)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (lists, numbers, strings, None)."""
        data = asdict(self)
        data["au_list"] = list(self.au_list)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Rebuild from ``to_dict()`` output; unknown keys are a ConfigError, not ignored."""
        if not isinstance(data, dict):
            raise ConfigError(f"model config must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config keys: {', '.join(unknown)}")
        values = dict(data)
        audio = values.get("audio")
        if isinstance(audio, dict):
            audio_known = {f.name for f in fields(AudioConfig)}
            audio_unknown = sorted(set(audio) - audio_known)
            if audio_unknown:
                raise ConfigError(f"unknown audio config keys: {', '.join(audio_unknown)}")
            values["audio"] = AudioConfig(**audio)
        elif audio is not None and not isinstance(audio, AudioConfig):
            raise ConfigError("model config 'audio' must be a mapping or null")
        if "au_list" in values:
            values["au_list"] = tuple(values["au_list"])
        try:
            return cls(**values)
        except TypeError as error:
            raise ConfigError(f"invalid model config: {error}") from None
