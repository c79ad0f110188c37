"""Audio input: load a whole speech clip as float samples, or stream any file's audio in blocks.

WAV/FLAC/OGG/AIFF are read with soundfile; everything else (mp3, m4a, aac, and the audio track
of video containers) is decoded with PyAV. Rate conversion for ``load_audio`` uses soxr, whose
quality matters for speech features; the streaming path used for muxing converts with
libswresample inside PyAV so that it never needs the whole clip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from fgemotalk_cli.errors import InputError, MediaError

# Suffixes that libsndfile reads exactly (sample-accurate length, no decoder delay).
SOUNDFILE_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".w64", ".rf64"})


def _check_file(path: str | Path, what: str = "audio file") -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} not found: {path}")
    if not path.is_file():
        raise InputError(f"{what} is not a file: {path}")
    return path


def load_audio(
    path: str | Path, sample_rate: int | None = 16000, mono: bool = True
) -> tuple[np.ndarray, int]:
    """Read a whole audio clip as float32 samples in [-1, 1].

    Returns ``(samples, rate)``: shape ``(n,)`` when ``mono`` (channels averaged), else
    ``(n, channels)``. ``sample_rate=None`` keeps the file's own rate. Works for wav/flac
    (soundfile) and mp3/m4a/aac/video containers (PyAV).
    """
    path = _check_file(path)
    read = _read_soundfile(path) if path.suffix.lower() in SOUNDFILE_SUFFIXES else None
    if read is None:
        rate = audio_stream_rate(path)
        blocks = list(iter_audio_blocks(path))
        samples = np.concatenate(blocks, axis=1).T if blocks else np.zeros((0, 1), np.float32)
    else:
        samples, rate = read
    if samples.shape[0] == 0:
        raise MediaError(f"audio file has no samples: {path}")
    if mono:
        samples = samples.mean(axis=1)
    if sample_rate is not None and sample_rate != rate:
        import soxr

        samples = soxr.resample(samples, rate, sample_rate, quality="HQ")
        rate = sample_rate
    return np.ascontiguousarray(samples, dtype=np.float32), int(rate)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int] | None:
    """(samples (n, channels), rate), or None when libsndfile cannot read the file.

    A ``.wav`` holding a compressed codec (e.g. a GSM or mp3 payload) is legal but beyond
    libsndfile, so the caller falls back to PyAV instead of failing.
    """
    import soundfile

    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError):
        return None
    return samples, int(rate)


def audio_duration_seconds(path: str | Path) -> float:
    """Exact duration from the sample count (decodes compressed files; memory stays flat)."""
    path = _check_file(path)
    if path.suffix.lower() in SOUNDFILE_SUFFIXES:
        import soundfile

        try:
            info = soundfile.info(str(path))
            return info.frames / info.samplerate
        except (soundfile.LibsndfileError, RuntimeError):
            pass  # Not a format libsndfile knows: PyAV below gives the real error if any.
    rate = audio_stream_rate(path)
    total = sum(block.shape[1] for block in iter_audio_blocks(path))
    return total / rate


def audio_stream_rate(path: str | Path) -> int:
    """Sample rate of the first audio stream of any file PyAV reads."""
    container = open_audio_container(path)
    try:
        return int(container.streams.audio[0].rate)
    finally:
        container.close()


def has_audio_stream(path: str | Path) -> bool:
    """Whether a media file has at least one audio stream (raises if it cannot be opened)."""
    import av

    path = _check_file(path, "media file")
    try:
        with av.open(str(path)) as container:
            return len(container.streams.audio) > 0
    except av.FFmpegError as error:
        raise MediaError(f"cannot read {path}: not a media file or damaged ({error})") from error


def open_audio_container(path: str | Path):  # -> av.container.InputContainer
    """Open a file with PyAV and make sure it has an audio stream; errors meant for a person."""
    import av

    path = _check_file(path)
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise MediaError(
            f"cannot read audio from {path}: not a media file or damaged ({error})"
        ) from error
    if not container.streams.audio:
        container.close()
        raise MediaError(f"{path} has no audio stream")
    return container


def iter_audio_blocks(
    path: str | Path, sample_rate: int | None = None, channels: int | None = None
) -> Iterator[np.ndarray]:
    """Stream the first audio stream as float32 blocks of shape ``(channels, n)``.

    ``sample_rate``/``channels`` of None keep the stream's own. Samples are counted in order
    and timestamps are ignored, so a gap inside the stream shortens the audio instead of
    being filled: rare in practice, and the muxer pads the end to the video length anyway.
    """
    import av

    if channels not in (None, 1, 2):
        raise ValueError(f"channels must be 1, 2 or None, not {channels}")
    layout = None if channels is None else ("mono" if channels == 1 else "stereo")
    container = open_audio_container(path)
    try:
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
        try:
            for frame in container.decode(stream):
                for converted in resampler.resample(frame):
                    yield converted.to_ndarray()
            for converted in resampler.resample(None):
                yield converted.to_ndarray()
        except av.FFmpegError as error:
            raise MediaError(f"cannot decode the audio of {path}: {error}") from error
    finally:
        container.close()
