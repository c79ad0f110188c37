"""Audio input: load a whole speech clip as float samples, or stream any file's audio in blocks.

WAV/FLAC/OGG/AIFF are read with soundfile; everything else (mp3, m4a, aac, and the audio track
of video containers) is decoded with PyAV. Rate conversion for ``load_audio`` uses soxr, whose
quality matters for speech features; the streaming path used for muxing converts with
libswresample inside PyAV so that it never needs the whole clip.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fgemotalk_cli.errors import MediaError
from fgemotalk_cli.media.paths import require_file

if TYPE_CHECKING:
    from av.audio.stream import AudioStream

# Sample rates the AAC encoder accepts; anything else is converted to 48 kHz.
AAC_SAMPLE_RATES = frozenset(
    {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}
)

# Suffixes that libsndfile reads exactly (sample-accurate length, no decoder delay).
SOUNDFILE_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".w64", ".rf64"})


def load_audio(
    path: str | Path, sample_rate: int | None = 16000, mono: bool = True
) -> tuple[np.ndarray, int]:
    """Read a whole audio clip as float32 samples, clipped to [-1, 1].

    Returns ``(samples, rate)``: shape ``(n,)`` when ``mono`` (channels averaged), else
    ``(n, channels)``. ``sample_rate=None`` keeps the file's own rate. Works for wav/flac
    (soundfile) and mp3/m4a/aac/video containers (PyAV).
    """
    path = require_file(path, "audio file")
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
    # Float decoders (mp3, aac) and resampling overshoot full scale on loud or clipped
    # recordings; a 16-bit decode would clip there too, and features expect [-1, 1].
    samples = np.clip(samples, -1.0, 1.0)
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
    path = require_file(path, "audio file")
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
    container = open_media(path, "media file")
    try:
        return len(container.streams.audio) > 0
    finally:
        container.close()


def open_media(path: str | Path, what: str = "media file"):  # -> av.container.InputContainer
    """Open any file with PyAV; a missing or unreadable file raises an error for a person."""
    import av

    path = require_file(path, what)
    try:
        return av.open(str(path))
    except av.FFmpegError as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise MediaError(f"cannot read {path}: not a media file or damaged ({reason})") from None


def open_audio_container(path: str | Path):  # -> av.container.InputContainer
    """Open a file with PyAV and make sure it has an audio stream."""
    container = open_media(path, "audio file")
    if not container.streams.audio:
        container.close()
        raise MediaError(f"{path} has no audio stream")
    return container


def iter_audio_blocks(
    path: str | Path, sample_rate: int | None = None, channels: int | None = None,
    container: Any = None,
) -> Iterator[np.ndarray]:
    """Stream the first audio stream as float32 blocks of shape ``(channels, n)``.

    ``container``: ``path`` already opened (and probed) by the caller, so the file is opened
    once; it is closed here when the blocks end.

    ``sample_rate``/``channels`` of None keep the stream's own. Samples are counted in order
    and timestamps are ignored, so a gap inside the stream shortens the audio instead of
    being filled: rare in practice, and the muxer pads the end to the video length anyway.
    """
    import av

    if channels not in (None, 1, 2):
        raise ValueError(f"channels must be 1, 2 or None, not {channels}")
    layout = None if channels is None else ("mono" if channels == 1 else "stereo")
    if container is None:
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


def aac_bit_rate(sample_rate: int, channels: int) -> int:
    """AAC bits per second for a track: about 3 bits a sample per channel (48 kb/s for 16 kHz
    mono speech), at most 96 kb/s a channel and 160 kb/s in all. A flat 128 kb/s spent 2.7x
    too much encoder time and space on 16 kHz speech for no audible gain."""
    per_channel = min(3 * sample_rate, 96_000)
    return int(min(per_channel * (1 if channels == 1 else 1.6), 160_000))


class AacTrack:
    """A source's audio as AAC packets, cut or padded to exactly a video's length.

    The window starts ``offset_seconds`` into the source (negative: that much leading silence)
    and is ``round(video_seconds * rate)`` samples long. It can be encoded in one go
    (:meth:`packets`, for ``encode.mux_audio``) or in steps while the video is still being
    written (:meth:`start`, :meth:`encode_until`, :meth:`finish`), when the length is known
    only at the end: ``encode.VideoWriter`` does that on its own thread.
    """

    def __init__(
        self,
        path: str | Path,
        source_rate: int,
        source_channels: int,
        video_seconds: Fraction | None,
        offset_seconds: float,
    ) -> None:
        self.path = path
        self.rate = source_rate if source_rate in AAC_SAMPLE_RATES else 48000
        self.channels = 1 if source_channels == 1 else 2
        self.layout = "mono" if self.channels == 1 else "stereo"
        self.bit_rate = aac_bit_rate(self.rate, self.channels)
        self.total = 0 if video_seconds is None else round(video_seconds * self.rate)
        self.offset = round(offset_seconds * self.rate)
        self.padded = 0
        self.truncated = False
        self._stream: AudioStream | None = None
        self._source: Generator[np.ndarray, None, None] | None = None
        self._held: np.ndarray | None = None  # source samples read but not yet encoded
        self._written = 0  # samples handed to the encoder
        self._source_used = 0  # of which came from the source (the rest is silence)
        self._source_ended = False
        self._opened: Any = None  # the source, left open by for_source for the decoding

    @property
    def encoded_samples(self) -> int:
        """Samples handed to the encoder so far."""
        return self._written

    @classmethod
    def for_source(
        cls, path: str | Path, video_seconds: Fraction | None, offset_seconds: float | None
    ) -> AacTrack | None:
        """The track to mux from ``path``; None for a video that has no audio stream.
        ``video_seconds`` may be None when the length is given later, to :meth:`finish`."""
        container = open_media(path, "audio source")
        track = None
        try:
            if not container.streams.audio:
                if container.streams.video:
                    return None
                raise MediaError(f"{path} has no audio stream")
            audio = container.streams.audio[0]
            if offset_seconds is None:
                offset_seconds = 0.0
                video = container.streams.video[0] if container.streams.video else None
                if video is not None and None not in (video.start_time, audio.start_time):
                    offset_seconds = float(
                        video.start_time * video.time_base - audio.start_time * audio.time_base
                    )
            track = cls(path, int(audio.rate), audio.channels, video_seconds, offset_seconds)
            track._opened = container  # decoded from this same open file later
            return track
        finally:
            if track is None:
                container.close()

    def start(self, container):  # -> av.audio.stream.AudioStream
        """Add the AAC stream to an output container (before anything is muxed)."""
        self._stream = container.add_stream("aac", rate=self.rate, layout=self.layout,
                                            bit_rate=self.bit_rate)
        return self._stream

    def _source_blocks(self) -> Generator[np.ndarray, None, None]:
        """(channels, n) float32: leading silence or the skipped start, then the source."""
        skip = max(self.offset, 0)
        if self.offset < 0:
            yield from self._silence(-self.offset)
        opened, self._opened = self._opened, None
        for block in iter_audio_blocks(self.path, self.rate, self.channels, container=opened):
            if skip:
                dropped = min(skip, block.shape[1])
                block, skip = block[:, dropped:], skip - dropped
            if block.shape[1]:
                yield block

    def _next_source_block(self, limit: int) -> np.ndarray | None:
        """Up to ``limit`` samples of the window's source part; None once it has ended."""
        if self._held is None and not self._source_ended:
            if self._source is None:
                self._source = self._source_blocks()
            self._held = next(self._source, None)
            self._source_ended = self._held is None
        if self._held is None:
            return None
        block, rest = self._held[:, :limit], self._held[:, limit:]
        self._held = rest if rest.shape[1] else None
        return block

    def encode_until(self, samples: int) -> Iterator:
        """Encode the window up to ``samples`` samples (silence past the source's end)."""
        import av

        while self._written < samples:
            wanted = samples - self._written
            block = self._next_source_block(wanted)
            if block is None:  # past the source: silence, a second at a time
                block = np.zeros((self.channels, min(wanted, self.rate)), np.float32)
                self.padded += block.shape[1]
            else:
                self._source_used += block.shape[1]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp",
                                               layout=self.layout)
            frame.sample_rate = self.rate
            frame.pts = self._written
            frame.time_base = Fraction(1, self.rate)
            self._written += block.shape[1]
            yield from self._encoder().encode(frame)

    def finish(self, video_seconds: Fraction | None = None) -> Iterator:
        """Encode the rest of the window (its length now known) and flush the encoder."""
        if video_seconds is not None:
            self.total = round(video_seconds * self.rate)
        yield from self.encode_until(self.total)
        self.padded += min(max(-self.offset, 0), self.total)  # the leading silence
        # Anything past the window's end is cut; no need to decode the rest.
        self.truncated = self._held is not None or (
            not self._source_ended and self._next_source_block(1) is not None)
        if self._source is not None:
            self._source.close()
        yield from self._encoder().encode(None)

    def _encoder(self) -> AudioStream:
        if self._stream is None:
            raise RuntimeError("AacTrack: start() or packets() must come before encoding")
        return self._stream

    def _silence(self, samples: int) -> Iterator[np.ndarray]:
        for start in range(0, samples, self.rate):  # a second at a time: memory stays flat
            yield np.zeros((self.channels, min(self.rate, samples - start)), np.float32)

    def packets(self, stream) -> Iterator:
        """The whole window's packets for ``stream`` (already added to its container)."""
        self._stream = stream
        yield from self.finish()
