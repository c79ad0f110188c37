"""Audio encoder: speech -> one expression code per video frame [paper; details ours].

[paper] Wav2Vec2 features, then ResBlocks mapping the audio features around each video
frame to the expression space, trained with InfoNCE against E_exp(x_D) of that frame.
[ours] transformers ``Wav2Vec2Model`` (16 kHz, 320-sample hop = 50 features/s), last hidden
state; a window of ``window_features`` features centred on each frame's time t / fps (edge
features repeated beyond the ends); Conv1d to ``head_channels``, ``head_blocks`` 1-D residual
blocks that halve the window, mean over time, linear to k_exp. Long audio runs through the
backbone in chunks with context on each side, so memory stays bounded.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from models.config import AudioConfig
from models.errors import WeightsError

if TYPE_CHECKING:
    from transformers import Wav2Vec2Model

# Wav2Vec2's convolutional front end needs at least 400 samples for one feature.
MIN_SAMPLES = 400


def build_wav2vec2(audio: AudioConfig, load_pretrained: bool = True) -> Wav2Vec2Model:
    """Wav2Vec2Model from ``audio.wav2vec2_path`` (local files only) or a random init."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    if audio.wav2vec2_path and load_pretrained:
        path = Path(audio.wav2vec2_path).expanduser()
        if not (path / "config.json").is_file():
            raise WeightsError(
                f"Wav2Vec2 weights not found at {path}: expected a folder with config.json and "
                "model weights (e.g. a saved facebook/wav2vec2-base-960h)"
            )
        try:
            return Wav2Vec2Model.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as error:
            raise WeightsError(f"cannot load Wav2Vec2 weights from {path}: {error}") from None
    return Wav2Vec2Model(Wav2Vec2Config(**(audio.wav2vec2_config or {})))


def frame_feature_centres(
    n_frames: int, fps: float | Fraction, feature_rate: int, first_frame: int = 0,
) -> torch.Tensor:
    """Index of the audio feature at each frame's time (first_frame + t) / fps, rounded."""
    features_per_frame = Fraction(feature_rate) / Fraction(fps)
    frames = torch.arange(first_frame, first_frame + n_frames, dtype=torch.float64)
    return torch.floor(frames * float(features_per_frame) + 0.5).long()


def gather_windows(features: torch.Tensor, centres: torch.Tensor, window: int) -> torch.Tensor:
    """(T, C) features, (N,) centres -> (N, C, window); indices clamped to the ends."""
    offsets = torch.arange(window, device=features.device) - window // 2
    index = (centres.to(features.device)[:, None] + offsets).clamp(0, features.shape[0] - 1)
    return features[index].transpose(1, 2)


class ResBlock1d(nn.Module):
    """conv3 -> leaky ReLU -> conv3 stride 2, skip conv1 stride 2, sum / sqrt(2) [ours]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.skip = nn.Conv1d(channels, channels, 1, stride=2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.leaky_relu(self.conv1(x), 0.2))
        return F.leaky_relu((out + self.skip(x)) / math.sqrt(2), 0.2)


class AudioEncoder(nn.Module):
    """Speech (16 kHz mono) -> expression codes (n_frames, k_exp) [paper]."""

    def __init__(self, audio: AudioConfig, k_exp: int, load_pretrained: bool = True) -> None:
        super().__init__()
        self.audio = audio
        self.backbone = build_wav2vec2(audio, load_pretrained)
        hidden = self.backbone.config.hidden_size
        self.input = nn.Conv1d(hidden, audio.head_channels, 1)
        self.blocks = nn.Sequential(*(ResBlock1d(audio.head_channels)
                                      for _ in range(audio.head_blocks)))
        self.output = nn.Linear(audio.head_channels, k_exp)
        if audio.freeze_backbone:
            self.backbone.requires_grad_(False)

    def train(self, mode: bool = True) -> AudioEncoder:
        """A frozen backbone stays in eval mode (no SpecAugment masking, no layer drop)."""
        super().train(mode)
        if self.audio.freeze_backbone:
            self.backbone.eval()
        return self

    def backbone_config(self) -> dict:
        """The backbone's Wav2Vec2Config as a dict, so a checkpoint can rebuild it offline."""
        return self.backbone.config.to_diff_dict()

    def extract_features(self, wave: torch.Tensor) -> torch.Tensor:
        """Wave (S,) at ``sample_rate`` -> features (T, hidden), 50 per second, in chunks."""
        if wave.dim() != 1:
            raise ValueError(f"expected a mono wave of shape (samples,), got {tuple(wave.shape)}")
        device = next(self.parameters()).device
        wave = wave.to(device=device, dtype=torch.float32)
        if self.audio.normalize_wave:
            wave = (wave - wave.mean()) / torch.sqrt(wave.var(unbiased=False) + 1e-7)
        if wave.shape[0] < MIN_SAMPLES:
            wave = F.pad(wave, (0, MIN_SAMPLES - wave.shape[0]))
        hop = self.audio.sample_rate // self.audio.feature_rate
        chunk = max(1, round(self.audio.chunk_seconds * self.audio.feature_rate)) * hop
        context = round(self.audio.context_seconds * self.audio.feature_rate) * hop
        pieces = []
        for start in range(0, wave.shape[0], chunk):
            left = max(0, start - context)
            right = min(wave.shape[0], start + chunk + context)
            segment = wave[left:right]
            if segment.shape[0] < MIN_SAMPLES:  # a short tail: borrow audio from the left
                left = max(0, (right - MIN_SAMPLES) // hop * hop)
                segment = wave[left:right]
            hidden = self.backbone(segment[None]).last_hidden_state[0]
            skip = (start - left) // hop
            pieces.append(hidden[skip: skip + chunk // hop])
        return torch.cat(pieces)

    def codes_from_windows(self, windows: torch.Tensor) -> torch.Tensor:
        """(N, hidden, window) feature windows -> (N, k_exp) expression codes."""
        h = self.blocks(self.input(windows))
        return self.output(h.mean(dim=2))

    def forward(
        self, wave: torch.Tensor, fps: float | Fraction, n_frames: int, frame_batch: int = 256,
    ) -> torch.Tensor:
        """One expression code per video frame at ``fps``: (n_frames, k_exp).

        Frames are processed ``frame_batch`` at a time to bound memory on long audio.
        """
        if n_frames < 1:
            raise ValueError("n_frames must be at least 1")
        features = self.extract_features(wave)
        centres = frame_feature_centres(n_frames, fps, self.audio.feature_rate)
        codes = []
        for first in range(0, n_frames, frame_batch):
            windows = gather_windows(
                features, centres[first: first + frame_batch], self.audio.window_features
            )
            codes.append(self.codes_from_windows(windows))
        return torch.cat(codes)
