"""Video out as a stream: encode H.264 one frame at a time, with its audio in the same pass.

:class:`VideoWriter` can take an :class:`~fgemotalk_cli.media.audio.AacTrack`: the AAC is then
encoded on a thread of its own while frames arrive, a little behind the video written so far,
and both streams go into the one container; the last stretch is encoded once the video's
length is known, so audio and video end together. :func:`mux_audio` adds audio to a finished
video instead (copying its packets). Nothing holds a whole video or a whole audio track.
Times are ``Fraction`` seconds from the stream's time base, so 29.97 fps stays 30000/1001 and
audio does not drift against video.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fgemotalk_cli.errors import MediaError
from fgemotalk_cli.media.audio import AacTrack
from fgemotalk_cli.media.video import open_video

if TYPE_CHECKING:
    from av.container import OutputContainer
    from av.video.reformatter import VideoReformatter
    from av.video.stream import VideoStream

_BT709 = 1  # AVCOL_SPC/PRI/TRC_BT709: tag outputs so every player converts colours alike.
_RANGE_TV = 1  # AVCOL_RANGE_MPEG (limited range), what players expect from yuv420p H.264.
# Containers whose index can move to the front ("faststart") so playback starts at once.
_MP4_SUFFIXES = frozenset({".mp4", ".m4v", ".mov"})


@dataclass(frozen=True)
class MuxResult:
    """Lengths of a muxed file; ``audio_padded_seconds`` > 0 means silence was appended."""

    path: Path
    video_duration_seconds: float
    audio_duration_seconds: float | None  # None when the output has no audio stream
    audio_sample_rate: int | None
    audio_padded_seconds: float
    audio_truncated: bool  # the source audio was longer than the video and was cut

    @property
    def has_audio(self) -> bool:
        return self.audio_duration_seconds is not None


class VideoWriter:
    """Encode RGB frames to H.264 (yuv420p, BT.709) at a constant rate, one frame at a time.

    The size is taken from the first frame; odd widths or heights are padded by one
    repeated edge pixel because yuv420p needs even sizes. Use as a context manager: a clean
    exit flushes the encoder, an exception closes the file without flushing (the caller's
    ``atomic_output`` then deletes it). With ``audio``, its AAC is encoded on a second thread
    as the frames come and cut or padded to the video's length at :meth:`close`.
    """

    def __init__(
        self,
        path: str | Path,
        fps: Fraction | int,
        *,
        crf: int = 18,
        preset: str = "medium",
        audio: AacTrack | None = None,
    ) -> None:
        self.path = Path(path)
        self.fps = Fraction(fps)
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, not {fps}")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be within 0..51, not {crf}")
        self.crf = crf
        self.preset = preset
        self.frames_written = 0
        self.size: tuple[int, int] | None = None  # (width, height) of the frames given
        self._container: OutputContainer | None = None
        self._stream: VideoStream | None = None
        self._closed = False
        # One colour converter for the whole stream: it keeps its swscale context, which
        # ``VideoFrame.reformat`` would build (with its slice threads) for every frame.
        self._to_yuv: VideoReformatter | None = None
        self.audio = audio
        self._audio_thread: threading.Thread | None = None
        self._audio_error: BaseException | None = None
        self._audio_stop = False
        # Guards the audio target below and the container's muxer, shared by both threads.
        self._progress = threading.Condition()
        self._audio_target = 0  # samples of audio the video written so far covers
        self._audio_final = False  # the video's length is known: encode to the end

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abandon()

    @property
    def duration(self) -> Fraction:
        return self.frames_written / self.fps

    def _open(self, width: int, height: int) -> None:
        import av

        options = {"movflags": "+faststart"} if self.path.suffix.lower() in _MP4_SUFFIXES else {}
        try:
            container = av.open(str(self.path), "w", options=options)
        except av.FFmpegError as error:
            raise MediaError(f"cannot write video {self.path}: {error}") from error
        self._container = container
        stream = container.add_stream("libx264", rate=self.fps)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        context = stream.codec_context
        context.colorspace = context.color_primaries = context.color_trc = _BT709
        context.color_range = _RANGE_TV
        self._stream = stream
        self.size = (width, height)
        if self.audio is not None:
            self.audio.start(container)
            self._audio_thread = threading.Thread(target=self._encode_audio,
                                                  name="fgemotalk-audio", daemon=True)
            self._audio_thread.start()

    def _encode_audio(self) -> None:
        """The audio thread: encode AAC up to what the video covers; mux under the lock."""
        audio = self.audio
        assert audio is not None
        container, _ = self._opened()
        try:
            while True:
                with self._progress:
                    while (not self._audio_stop and not self._audio_final
                           and audio.encoded_samples >= self._audio_target):
                        self._progress.wait()
                    if self._audio_stop:
                        return
                    final, target = self._audio_final, self._audio_target
                packets = audio.finish(self.duration) if final else audio.encode_until(target)
                for packet in packets:  # encoding runs outside the lock, muxing inside
                    with self._progress:
                        if self._audio_stop:
                            return
                        container.mux(packet)
                if final:
                    return
        except BaseException as error:  # raised again on the writing thread
            self._audio_error = error

    def _raise_audio_error(self) -> None:
        if self._audio_error is not None:
            raise MediaError(f"cannot encode the audio: {self._audio_error}") from self._audio_error

    def write(self, image: np.ndarray) -> None:
        """Encode one HxWx3 uint8 RGB frame; every frame must have the first frame's size."""
        import av

        if self._closed:
            raise ValueError("write() on a closed VideoWriter")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got {image.dtype} {image.shape}")
        height, width = image.shape[:2]
        if self._container is None:
            self._open(width, height)
        elif (width, height) != self.size:
            raise ValueError(f"frame size {width}x{height} differs from the first {self.size}")
        if width % 2 or height % 2:
            image = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        if self._to_yuv is None:
            self._to_yuv = av.video.reformatter.VideoReformatter()
        # One swscale thread: the pipelines already keep the cores busy with whole frames.
        frame = self._to_yuv.reformat(frame, format="yuv420p",
                                      dst_colorspace=av.video.reformatter.Colorspace.ITU709,
                                      threads=1)
        frame.pts = self.frames_written  # the codec time base is 1/fps
        container, stream = self._opened()
        packets = stream.encode(frame)
        with self._progress:
            for packet in packets:
                container.mux(packet)
            self.frames_written += 1
            if self.audio is not None:
                # The audio may run up to the video's end so far, never past it: the
                # video may stop at any frame, and the audio must stop with it.
                self._audio_target = round(self.duration * self.audio.rate)
                self._progress.notify()
        self._raise_audio_error()

    def close(self) -> None:
        """Flush the encoder and finish the file; an empty video is an error."""
        if self._closed:
            return
        self._closed = True
        if self._container is None:
            raise MediaError(f"no frames were written to {self.path}")
        container, stream = self._opened()
        packets = stream.encode(None)
        with self._progress:
            for packet in packets:
                container.mux(packet)
            self._audio_final = True
            self._progress.notify()
        if self._audio_thread is not None:
            self._audio_thread.join()
        try:
            self._raise_audio_error()
        finally:
            container.close()

    def _opened(self) -> tuple[OutputContainer, VideoStream]:
        if self._container is None or self._stream is None:
            raise ValueError("the VideoWriter has no stream before its first frame")
        return self._container, self._stream

    def _abandon(self) -> None:
        self._closed = True
        if self._audio_thread is not None:
            with self._progress:
                self._audio_stop = True
                self._progress.notify()
            self._audio_thread.join()
        if self._container is not None:
            self._container.close()


def mux_audio(
    video_path: str | Path,
    audio_source: str | Path | None,
    output_path: str | Path,
    *,
    audio_offset_seconds: float | None = None,
    audio_bitrate: int | None = None,
) -> MuxResult:
    """Copy the video stream of ``video_path`` and add ``audio_source``'s audio as AAC.

    The audio is cut or padded with silence to the video's exact length. ``audio_source``
    may be an audio file (wav, flac, mp3, m4a, ...), a video (its first audio track; a video
    without audio gives a silent output, as a driver without sound should), or None.
    ``audio_offset_seconds`` skips that much source audio (negative: delays it with
    silence); by default a video source is aligned to its own first video frame, since that
    is the frame our output starts from, and an audio file starts at 0. Mono stays mono;
    more channels become stereo. ``audio_bitrate`` None picks one by sample rate
    (:func:`~fgemotalk_cli.media.audio.aac_bit_rate`).
    """
    import av

    video_path, output_path = Path(video_path), Path(output_path)
    video_seconds = _stream_end_seconds(video_path)
    audio = None
    if audio_source is not None:
        audio = AacTrack.for_source(audio_source, video_seconds, audio_offset_seconds)
    source = open_video(video_path)
    try:
        video_in = source.streams.video[0]
        options = {"movflags": "+faststart"} if output_path.suffix.lower() in _MP4_SUFFIXES else {}
        try:
            output = av.open(str(output_path), "w", options=options)
        except av.FFmpegError as error:
            raise MediaError(f"cannot write {output_path}: {error}") from error
        with output:
            video_out = output.add_stream_from_template(video_in)
            packets: list[Iterator] = [_copied_packets(source, video_in, video_out)]
            if audio is not None:
                audio_out = output.add_stream(
                    "aac", rate=audio.rate, layout=audio.layout,
                    bit_rate=audio_bitrate or audio.bit_rate
                )
                packets.append(audio.packets(audio_out))
            # Interleave by decode time so players never wait on one stream, and so only
            # one pending packet per stream is held in memory.
            for packet in heapq.merge(*packets, key=_decode_seconds):
                output.mux(packet)
    finally:
        source.close()
    return MuxResult(
        path=output_path,
        video_duration_seconds=float(video_seconds),
        audio_duration_seconds=None if audio is None else audio.total / audio.rate,
        audio_sample_rate=None if audio is None else audio.rate,
        audio_padded_seconds=0.0 if audio is None else audio.padded / audio.rate,
        audio_truncated=False if audio is None else audio.truncated,
    )


def _decode_seconds(packet) -> Fraction:
    return packet.dts * packet.time_base


def _stream_end_seconds(path: Path) -> Fraction:
    """End time of the video stream (last pts + duration) minus its first pts, from packets."""
    container = open_video(path)
    try:
        stream = container.streams.video[0]
        first = end = None
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            first = packet.pts if first is None else min(first, packet.pts)
            packet_end = packet.pts + (packet.duration or 0)
            end = packet_end if end is None else max(end, packet_end)
        if first is None:
            raise MediaError(f"video has no frames: {path}")
        return Fraction(end - first) * stream.time_base
    finally:
        container.close()


def _copied_packets(container, stream_in, stream_out) -> Iterator:
    for packet in container.demux(stream_in):
        if packet.dts is None:  # the demuxer's end-of-stream marker
            continue
        packet.stream = stream_out
        yield packet
