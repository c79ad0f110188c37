"""Video in and out as streams: probe, decode frame by frame, encode H.264, mux audio.

Nothing here holds a whole video: decoding yields one frame at a time, the writer encodes
one frame at a time, and muxing copies packets while encoding audio block by block. Times
are ``Fraction`` seconds from the stream's time base, so 29.97 fps stays 30000/1001 and
audio does not drift against video.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import numpy as np

from fgemotalk_cli.audio import AacTrack
from fgemotalk_cli.errors import InputError, MediaError

T = TypeVar("T")

_BT709 = 1  # AVCOL_SPC/PRI/TRC_BT709: tag outputs so every player converts colours alike.
_RANGE_TV = 1  # AVCOL_RANGE_MPEG (limited range), what players expect from yuv420p H.264.
# Containers whose index can move to the front ("faststart") so playback starts at once.
_MP4_SUFFIXES = frozenset({".mp4", ".m4v", ".mov"})


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe_video`` learns from the container and the first frame."""

    path: Path
    width: int  # as displayed, i.e. after the rotation below
    height: int
    fps: Fraction  # average rate: frame count over duration, exact for constant rate
    duration_seconds: float
    frame_count: int  # from the container header when present, else duration * fps
    has_audio: bool
    rotation_degrees: int  # clockwise turn applied to stored frames for display: 0/90/180/270
    codec: str


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: ``image`` is HxWx3 uint8 RGB, already turned upright."""

    image: np.ndarray
    index: int
    time: Fraction  # seconds from the first frame, from the frame's own timestamp

    @property
    def time_seconds(self) -> float:
        return float(self.time)


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


def _open_video(path: str | Path):  # -> av.container.InputContainer
    import av

    path = Path(path)
    if not path.exists():
        raise InputError(f"video not found: {path}")
    if not path.is_file():
        raise InputError(f"video path is not a file: {path}")
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise MediaError(
            f"cannot read video {path}: not a video file or damaged ({reason})"
        ) from None
    if not container.streams.video:
        container.close()
        raise MediaError(f"{path} has no video stream")
    return container


def _display_orientation(frame) -> tuple[bool, bool, bool]:
    """(transpose, flip_rows, flip_columns) that turn stored pixels into displayed ones.

    Read from the DISPLAYMATRIX side data (what phones write for portrait videos; FFmpeg
    turns the legacy ``rotate`` tag into the same matrix). Its 2x2 part maps stored (x, y) to
    displayed x' = a*x + c*y, y' = b*x + d*y; a rotation that is not a multiple of 90 degrees
    is snapped to the nearest one.
    """
    from av.sidedata.sidedata import Type

    side = frame.side_data.get(Type.DISPLAYMATRIX)
    if side is None:
        return False, False, False
    matrix = np.frombuffer(bytes(side), dtype=np.int32)
    a, b, c, d = (int(matrix[i]) for i in (0, 1, 3, 4))
    if abs(a) + abs(d) >= abs(b) + abs(c):
        return False, d < 0, a < 0
    return True, b < 0, c < 0


def _orient(image: np.ndarray, orientation: tuple[bool, bool, bool]) -> np.ndarray:
    transpose, flip_rows, flip_columns = orientation
    if transpose:
        image = image.transpose(1, 0, 2)
    if flip_rows:
        image = image[::-1]
    if flip_columns:
        image = image[:, ::-1]
    return np.ascontiguousarray(image)


def _fps_of(stream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        raise MediaError("cannot determine the frame rate of the video")
    return Fraction(rate)


def probe_video(path: str | Path) -> VideoInfo:
    """Size as displayed, frame rate, duration and audio presence of a video file."""
    import av

    container = _open_video(path)
    try:
        stream = container.streams.video[0]
        fps = _fps_of(stream)
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as error:
            raise MediaError(f"cannot decode video {path}: {error}") from error
        if first is None:
            raise MediaError(f"video has no decodable frames: {path}")
        orientation = _display_orientation(first)
        width, height = first.width, first.height
        if orientation[0]:
            width, height = height, width
        if stream.duration is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        frame_count = stream.frames or round(duration * fps)
        return VideoInfo(
            path=Path(path),
            width=width,
            height=height,
            fps=fps,
            duration_seconds=duration,
            frame_count=int(frame_count),
            has_audio=bool(container.streams.audio),
            # FFmpeg reports counter-clockwise degrees; we report the clockwise turn, like the
            # legacy "rotate" tag. A mirror in the matrix is applied but not reported.
            rotation_degrees=round(-first.rotation / 90) * 90 % 360,
            codec=stream.codec_context.name,
        )
    finally:
        container.close()


def iter_frames(path: str | Path, max_size: int | None = None) -> Iterator[VideoFrame]:
    """Decode frames one at a time, upright, optionally downscaled so max(H, W) <= max_size.

    Rotation (and mirroring) from the container's display matrix is applied, so a portrait
    phone video comes out portrait. ``time`` comes from each frame's timestamp relative to
    the stream start, so variable frame rate input keeps its real timing (see
    ``resample_frames`` for a constant rate).
    """
    import av

    container = _open_video(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = stream.time_base
        start = stream.start_time
        fallback_step = 1 / _fps_of(stream)
        previous_time = None
        orientation = None
        try:
            for index, frame in enumerate(container.decode(stream)):
                if orientation is None:
                    # Read once: the matrix belongs to the stream, and touching a frame's
                    # side data in PyAV 18 keeps that frame alive until the cycle collector
                    # runs, which let a 720p clip pile up hundreds of MB.
                    orientation = _display_orientation(frame)
                if frame.pts is not None and time_base is not None:
                    if start is None:
                        start = frame.pts
                    time = Fraction(frame.pts - start) * time_base
                else:  # Raw streams without timestamps: step at the nominal rate.
                    time = Fraction(0) if previous_time is None else previous_time + fallback_step
                previous_time = time
                image = _orient(_to_rgb(frame, max_size), orientation)
                yield VideoFrame(image=image, index=index, time=time)
        except av.FFmpegError as error:
            raise MediaError(f"cannot decode video {path}: {error}") from error
    finally:
        container.close()


def _to_rgb(frame, max_size: int | None) -> np.ndarray:
    """The frame as stored (not yet turned upright), scaled so max(H, W) <= max_size."""
    width, height = frame.width, frame.height
    scale = 1.0 if max_size is None else min(1.0, max_size / max(width, height))
    if scale < 1.0:
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        # AREA averages the pixels a downscale drops, which keeps small faces free of aliasing.
        rgb = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
    else:
        rgb = frame.reformat(format="rgb24")
    return rgb.to_ndarray()


def batched(iterable: Iterable[T], n: int) -> Iterator[list[T]]:
    """Lists of up to ``n`` items, in order (itertools.batched is Python 3.12+)."""
    if n < 1:
        raise ValueError("batch size must be at least 1")
    batch: list[T] = []
    for item in iterable:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def resample_frames(
    frames: Iterable[VideoFrame], fps: Fraction | int, duration_seconds: float | Fraction
) -> Iterator[VideoFrame]:
    """Turn frames with any timestamps into a constant ``fps`` stream of the same duration.

    Output frame k (time k/fps, for round(duration * fps) frames) shows the source frame
    whose timestamp is nearest, ties going to the earlier one: frames are repeated where the
    source is sparse and dropped where it is dense. Nearest rather than "last shown" keeps
    same-rate input one-to-one even when its timestamps jitter by a tick. Streams: at most
    two source frames are held.
    """
    fps = Fraction(fps)
    total = round(Fraction(duration_seconds) * fps)
    source = iter(frames)
    current = next(source, None)
    if current is None:
        return
    upcoming = next(source, None)
    for k in range(total):
        time = k / fps
        while upcoming is not None and abs(upcoming.time - time) < abs(time - current.time):
            current, upcoming = upcoming, next(source, None)
        yield VideoFrame(image=current.image, index=k, time=time)


class VideoWriter:
    """Encode RGB frames to H.264 (yuv420p, BT.709) at a constant rate, one frame at a time.

    The size is taken from the first frame; odd widths or heights are padded by one
    repeated edge pixel because yuv420p needs even sizes. Use as a context manager: a clean
    exit flushes the encoder, an exception closes the file without flushing (the caller's
    ``atomic_output`` then deletes it).
    """

    def __init__(
        self,
        path: str | Path,
        fps: Fraction | int,
        *,
        crf: int = 18,
        preset: str = "medium",
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
        self._container = None
        self._stream = None
        self._closed = False

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
            self._container = av.open(str(self.path), "w", options=options)
        except av.FFmpegError as error:
            raise MediaError(f"cannot write video {self.path}: {error}") from error
        stream = self._container.add_stream("libx264", rate=self.fps)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        context = stream.codec_context
        context.colorspace = context.color_primaries = context.color_trc = _BT709
        context.color_range = _RANGE_TV
        self._stream = stream
        self.size = (width, height)

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
        frame = frame.reformat(format="yuv420p", dst_colorspace="itu709")
        frame.pts = self.frames_written  # the codec time base is 1/fps
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and finish the file; an empty video is an error."""
        if self._closed:
            return
        self._closed = True
        if self._container is None:
            raise MediaError(f"no frames were written to {self.path}")
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()

    def _abandon(self) -> None:
        self._closed = True
        if self._container is not None:
            self._container.close()


def mux_audio(
    video_path: str | Path,
    audio_source: str | Path | None,
    output_path: str | Path,
    *,
    audio_offset_seconds: float | None = None,
    audio_bitrate: int = 128_000,
) -> MuxResult:
    """Copy the video stream of ``video_path`` and add ``audio_source``'s audio as AAC.

    The audio is cut or padded with silence to the video's exact length. ``audio_source``
    may be an audio file (wav, flac, mp3, m4a, ...), a video (its first audio track; a video
    without audio gives a silent output, as a driver without sound should), or None.
    ``audio_offset_seconds`` skips that much source audio (negative: delays it with
    silence); by default a video source is aligned to its own first video frame, since that
    is the frame our output starts from, and an audio file starts at 0. Mono stays mono;
    more channels become stereo.
    """
    import av

    video_path, output_path = Path(video_path), Path(output_path)
    video_seconds = _stream_end_seconds(video_path)
    audio = None
    if audio_source is not None:
        audio = AacTrack.for_source(audio_source, video_seconds, audio_offset_seconds)
    source = _open_video(video_path)
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
                    "aac", rate=audio.rate, layout=audio.layout, bit_rate=audio_bitrate
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
    container = _open_video(path)
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
