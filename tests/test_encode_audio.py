"""VideoWriter with an AAC track: both streams in one pass, the audio cut or padded to the video."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

from fgemotalk_cli.media.audio import AacTrack, aac_bit_rate
from fgemotalk_cli.media.encode import VideoWriter


def _tone(path: Path, seconds: float, rate: int = 16000) -> Path:
    times = np.arange(int(seconds * rate)) / rate
    soundfile.write(str(path), (0.3 * np.sin(2 * np.pi * 440 * times)).astype(np.float32), rate)
    return path


def _write(path: Path, frames: int, audio: AacTrack | None) -> None:
    with VideoWriter(path, Fraction(25), preset="ultrafast", audio=audio) as writer:
        for index in range(frames):
            writer.write(np.full((64, 96, 3), index * 5 % 255, np.uint8))


def _durations(path: Path) -> tuple[float, float, int]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(audio))
        video_seconds = float(video.frames / video.average_rate)
        return video_seconds, samples / audio.rate, audio.rate


@pytest.mark.parametrize(("audio_seconds", "frames"), [(2.0, 30), (0.5, 30), (1.2, 30)])
def test_audio_matches_the_video_length(tmp_path: Path, audio_seconds: float, frames: int) -> None:
    track = AacTrack.for_source(_tone(tmp_path / "tone.wav", audio_seconds), None, None)
    _write(tmp_path / "out.mp4", frames, track)
    video_seconds, decoded_seconds, rate = _durations(tmp_path / "out.mp4")
    assert video_seconds == pytest.approx(frames / 25)
    # AAC decoders may add up to one priming frame of 1024 samples: within a video frame.
    assert abs(decoded_seconds - video_seconds) <= 1024 / rate + 1e-6
    assert track.truncated == (audio_seconds > video_seconds)
    expected_padding = max(0.0, video_seconds - audio_seconds)
    assert track.padded / track.rate == pytest.approx(expected_padding, abs=1e-3)


def test_audio_content_survives(tmp_path: Path) -> None:
    track = AacTrack.for_source(_tone(tmp_path / "tone.wav", 2.0), None, None)
    _write(tmp_path / "out.mp4", 40, track)
    with av.open(str(tmp_path / "out.mp4")) as container:
        wave = np.concatenate([f.to_ndarray().ravel()
                               for f in container.decode(container.streams.audio[0])])
    middle = wave[4000:12000]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.15)


def test_an_error_mid_video_stops_the_audio_thread(tmp_path: Path) -> None:
    track = AacTrack.for_source(_tone(tmp_path / "tone.wav", 2.0), None, None)
    with pytest.raises(RuntimeError, match="render failed"):
        with VideoWriter(tmp_path / "out.mp4", 25, preset="ultrafast", audio=track) as writer:
            writer.write(np.zeros((64, 64, 3), np.uint8))
            raise RuntimeError("render failed")
    assert writer._audio_thread is not None and not writer._audio_thread.is_alive()


def test_bit_rate_follows_the_sample_rate() -> None:
    assert aac_bit_rate(16000, 1) == 48000
    assert aac_bit_rate(16000, 1) < aac_bit_rate(44100, 1) < aac_bit_rate(44100, 2) <= 160000
