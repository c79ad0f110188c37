from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import torch

from models.audio_encoder import AudioEncoder, frame_feature_centres, gather_windows
from models.config import AudioConfig
from models.errors import WeightsError


@pytest.fixture(scope="module")
def encoder() -> AudioEncoder:
    torch.manual_seed(0)
    return AudioEncoder(AudioConfig.tiny(), k_exp=20).eval()


def test_codes_per_video_frame(encoder: AudioEncoder) -> None:
    wave = torch.randn(16000 * 3)
    with torch.no_grad():
        codes = encoder(wave, Fraction(30000, 1001), n_frames=90)
    assert codes.shape == (90, 20) and torch.isfinite(codes).all()


def test_chunking_keeps_one_feature_per_hop(encoder: AudioEncoder) -> None:
    wave = torch.randn(16000 * 5 + 123)  # 2.0 s chunks: three chunks, a ragged tail
    with torch.no_grad():
        features = encoder.extract_features(wave)
    assert features.shape == ((wave.shape[0] - 400) // 320 + 1, 32)
    with torch.no_grad():
        assert encoder.extract_features(torch.randn(100)).shape == (1, 32)


def test_frame_centres_follow_the_frame_times() -> None:
    assert frame_feature_centres(4, 25, 50).tolist() == [0, 2, 4, 6]
    ntsc = frame_feature_centres(3, Fraction(30000, 1001), 50, first_frame=1000)
    assert ntsc.tolist() == [round(t * 50 * 1001 / 30000) for t in (1000, 1001, 1002)]


def test_windows_repeat_the_edges() -> None:
    features = torch.arange(5.0)[:, None].repeat(1, 2)  # (T=5, C=2)
    windows = gather_windows(features, torch.tensor([0, 4]), window=4)
    assert windows.shape == (2, 2, 4)
    assert windows[0, 0].tolist() == [0, 0, 0, 1] and windows[1, 0].tolist() == [2, 3, 4, 4]


def test_frozen_backbone_stays_in_eval_mode(encoder: AudioEncoder) -> None:
    encoder.train()
    assert not encoder.backbone.training and encoder.blocks.training
    assert not any(p.requires_grad for p in encoder.backbone.parameters())
    encoder.eval()


def test_local_pretrained_path(tmp_path: Path, encoder: AudioEncoder) -> None:
    encoder.backbone.save_pretrained(tmp_path)
    loaded = AudioEncoder(AudioConfig(wav2vec2_path=str(tmp_path), window_features=8), 20)
    for name, value in encoder.backbone.state_dict().items():
        assert torch.equal(loaded.backbone.state_dict()[name], value)
    with pytest.raises(WeightsError, match="Wav2Vec2 weights not found"):
        AudioEncoder(AudioConfig(wav2vec2_path=str(tmp_path / "missing")), 20)
