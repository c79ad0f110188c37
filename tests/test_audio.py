"""Loading speech audio from every container the shared media uses, plus generated files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

from fgemotalk_cli.errors import InputError, MediaError
from fgemotalk_cli.media.audio import audio_duration_seconds, has_audio_stream, load_audio


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def test_every_shared_audio_file_loads_as_16k_mono(shared_media: Path) -> None:
    files = sorted((shared_media / "audio").iterdir())
    assert len(files) >= 9
    for path in files:
        samples, rate = load_audio(path)
        assert rate == 16000 and samples.dtype == np.float32 and samples.ndim == 1
        assert samples.shape[0] == pytest.approx(audio_duration_seconds(path) * 16000, abs=2)
        assert np.abs(samples).max() <= 1.0 and np.abs(samples).max() > 0.01, path.name


def test_stereo_24_bit_keeps_channels_and_rate(shared_media: Path) -> None:
    path = shared_media / "audio" / "sadtalker_deyu.wav"
    samples, rate = load_audio(path, sample_rate=None, mono=False)
    assert (rate, samples.shape) == (48000, (448448, 2))
    reference, _ = soundfile.read(path, dtype="float32")
    assert np.array_equal(samples, reference)
    assert audio_duration_seconds(path) == pytest.approx(448448 / 48000)


def test_mp3_and_video_container_durations(shared_media: Path) -> None:
    # Sample counts after the decoder drops the mp3 encoder delay (PyAV 18 measurement).
    assert audio_duration_seconds(shared_media / "audio" / "vexpress_tys_aud.mp3") == (
        pytest.approx(4.032, abs=0.001)
    )
    driver = shared_media / "driving" / "liveportrait_d10.mp4"
    samples, rate = load_audio(driver, sample_rate=16000)
    assert samples.shape[0] / rate == pytest.approx(14.975, abs=0.01)
    assert has_audio_stream(driver)
    assert not has_audio_stream(shared_media / "driving" / "liveportrait_d0.mp4")


def test_resampling_keeps_pitch_and_level(tmp_path: Path) -> None:
    rate = 44100
    tone = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(rate) / rate)
    wav = tmp_path / "tone.wav"
    soundfile.write(wav, np.stack([tone, tone], axis=1), rate, subtype="PCM_16")
    samples, out_rate = load_audio(wav, sample_rate=16000)
    assert out_rate == 16000 and samples.shape == (16000,)
    assert dominant_hz(samples, 16000) == pytest.approx(1000, abs=2)
    assert np.abs(samples[1000:-1000]).max() == pytest.approx(0.5, abs=0.01)


def test_m4a_at_an_odd_rate(tmp_path: Path) -> None:
    path, rate = tmp_path / "voice.m4a", 22050
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        for start in range(0, rate, 1024):
            frame = av.AudioFrame.from_ndarray(
                tone[None, start : start + 1024], format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    samples, out_rate = load_audio(path, sample_rate=16000)
    # AAC may add up to one 1024-sample block of padding at the end.
    assert 16000 <= samples.shape[0] <= 16000 + 1024 * 16000 / rate + 1
    assert dominant_hz(samples[:16000], out_rate) == pytest.approx(440, abs=2)


def test_bad_audio_inputs_give_clear_errors(tmp_path: Path, shared_media: Path) -> None:
    with pytest.raises(InputError, match="audio file not found"):
        load_audio(tmp_path / "missing.wav")
    with pytest.raises(InputError, match="not a file"):
        load_audio(tmp_path)
    fake = tmp_path / "speech.wav"
    fake.write_bytes(b"RIFF but not really a wave file" * 4)
    with pytest.raises(MediaError, match="speech.wav"):
        load_audio(fake)
    with pytest.raises(MediaError, match="no audio stream"):
        load_audio(shared_media / "driving" / "liveportrait_d0.mp4")
    with pytest.raises(MediaError):
        audio_duration_seconds(fake)
