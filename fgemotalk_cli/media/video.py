"""Video in as a stream: probe, decode frame by frame, resample to a constant rate.

Nothing here holds a whole video: decoding yields one frame at a time (encoding and muxing
are in :mod:`fgemotalk_cli.media.encode`). Times
are ``Fraction`` seconds from the stream's time base, so 29.97 fps stays 30000/1001 and
audio does not drift against video.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from fgemotalk_cli.errors import MediaError
from fgemotalk_cli.media.paths import require_file


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


# FFmpeg demuxers that read still images (png_pipe, jpeg_pipe, webp_pipe, image2, ...).
_IMAGE_FORMAT_SUFFIX = "_pipe"
_IMAGE_FORMATS = frozenset({"image2"})


def open_video(path: str | Path):  # -> av.container.InputContainer
    """Open a video for decoding; a missing, non-video or still-image file is a MediaError."""
    import av

    path = require_file(path, "video")
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
    format_name = container.format.name
    if format_name.endswith(_IMAGE_FORMAT_SUFFIX) or format_name in _IMAGE_FORMATS:
        container.close()
        raise MediaError(f"{path} is an image, not a video (a video is needed here)")
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

    container = open_video(path)
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


@dataclass
class DecodeReport:
    """How completely ``iter_frames`` decoded a video: filled in while it streams.

    A file cut short (an interrupted download or copy) keeps a header that promises every
    frame, and FFmpeg's threaded decoder just stops early; damaged packets make it raise. Both
    are counted here so that the pipelines can say so instead of repeating the last frame.
    """

    path: Path | None = None
    expected_frames: int = 0  # from the header (exact) or duration * fps (an estimate)
    expected_is_exact: bool = False
    decoded_frames: int = 0
    damaged_packets: int = 0  # packets the decoder rejected; they were skipped
    finished: bool = False  # the stream was read to its end (not abandoned by the caller)

    @property
    def missing_frames(self) -> int:
        """Frames the header promised that never came (0 unless the end was reached)."""
        if not self.finished or self.expected_frames <= 0:
            return 0
        missing = self.expected_frames - self.decoded_frames
        # Without an exact count the expectation is duration * average rate: allow for the
        # rounding and variable-rate slack of such estimates before calling frames missing.
        slack = 1 if self.expected_is_exact else max(2, self.expected_frames // 10)
        return missing if missing > slack else 0

    def warning(self, filled_with_last_frame: bool = False) -> str | None:
        """One sentence for the summary's ``warnings``, or None for a clean decode.

        ``filled_with_last_frame``: the caller kept the video's length by repeating the last
        decoded frame (``resample_frames``), and the sentence says so.
        """
        if not self.damaged_packets and not self.missing_frames:
            return None
        name = self.path.name if self.path is not None else "the video"
        decoded = f"{self.decoded_frames} of its {self.expected_frames} frames decoded"
        if self.damaged_packets:
            return (f"{name} is damaged: {self.damaged_packets} unreadable packet(s) skipped, "
                    f"{decoded}")
        filled = "; the last one was repeated to the end" if filled_with_last_frame else ""
        return f"{name} looks truncated: only {decoded}{filled}"


#: Fail instead of warning when less than this share of the promised frames decodes.
MIN_DECODED_SHARE = 0.5


def iter_frames(
    path: str | Path, max_size: int | None = None, report: DecodeReport | None = None
) -> Iterator[VideoFrame]:
    """Decode frames one at a time, upright, optionally downscaled so max(H, W) <= max_size.

    Rotation (and mirroring) from the container's display matrix is applied, so a portrait
    phone video comes out portrait. ``time`` comes from each frame's timestamp relative to
    the stream start, so variable frame rate input keeps its real timing (see
    ``resample_frames`` for a constant rate).

    Damaged packets are skipped and counted; at the end, ``report`` (when given) holds how
    many frames decoded against how many the header promised. When less than
    :data:`MIN_DECODED_SHARE` of them decoded, this raises MediaError: most of the video is
    missing, and repeating its last frame would hide that.
    """
    import av

    path = Path(path)
    report = report if report is not None else DecodeReport()
    container = open_video(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        report.path = path
        report.expected_is_exact = bool(stream.frames)
        report.expected_frames = int(stream.frames or _estimated_frame_count(container, stream))
        time_base = stream.time_base
        start = stream.start_time
        fallback_step = 1 / _fps_of(stream)
        previous_time = None
        orientation = None
        # One colour converter for the stream (it keeps its swscale context between frames).
        to_rgb = av.video.reformatter.VideoReformatter()
        for frame in _decoded_frames(container, stream, report):
            if orientation is None:
                # Read once: the matrix belongs to the stream, and touching a frame's side
                # data in PyAV 18 keeps that frame alive until the cycle collector runs,
                # which let a 720p clip pile up hundreds of MB.
                orientation = _display_orientation(frame)
            if frame.pts is not None and time_base is not None:
                if start is None:
                    start = frame.pts
                time = Fraction(frame.pts - start) * time_base
            else:  # Raw streams without timestamps: step at the nominal rate.
                time = Fraction(0) if previous_time is None else previous_time + fallback_step
            previous_time = time
            image = _orient(_to_rgb(frame, max_size, to_rgb), orientation)
            index = report.decoded_frames
            report.decoded_frames += 1
            yield VideoFrame(image=image, index=index, time=time)
        report.finished = True
    except av.FFmpegError as error:
        raise MediaError(f"cannot decode video {path}: {_reason(error)}") from error
    finally:
        container.close()
    if report.decoded_frames == 0:
        raise MediaError(f"video has no decodable frames: {path}")
    if report.decoded_frames < MIN_DECODED_SHARE * report.expected_frames:
        raise MediaError(
            f"{path} is damaged or truncated: only {report.decoded_frames} of its "
            f"{report.expected_frames} frames could be decoded"
        )


def _decoded_frames(container, stream, report: DecodeReport) -> Iterator:  # -> av.VideoFrame
    """The stream's frames, packet by packet, skipping (and counting) packets that fail.

    Decoding per packet, instead of ``container.decode``, lets one damaged packet cost its
    frames rather than the rest of the video. A demuxer error (the file ends inside a packet)
    ends the stream like an end of file; the missing frames are then counted by the report.
    """
    import av

    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError:
            report.damaged_packets += 1
            # The frames still inside the (threaded) decoder are whole: flush them out.
            try:
                yield from stream.decode(None)
            except av.FFmpegError:
                pass
            return
        try:
            frames = packet.decode()
        except av.FFmpegError:
            report.damaged_packets += 1
            continue
        yield from frames


def _estimated_frame_count(container, stream) -> int:
    import av

    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    else:
        return 0
    return round(seconds * _fps_of(stream))


def _reason(error: Exception) -> str:
    """FFmpeg's words for an error, without PyAV's errno and call-site decoration."""
    return getattr(error, "strerror", None) or str(error)


def _to_rgb(frame, max_size: int | None, converter) -> np.ndarray:
    """The frame as stored (not yet turned upright), scaled so max(H, W) <= max_size, by the
    stream's ``converter`` (an ``av.video.reformatter.VideoReformatter``) on one thread: the
    pipelines already decode, render and encode side by side."""
    width, height = frame.width, frame.height
    scale = 1.0 if max_size is None else min(1.0, max_size / max(width, height))
    if scale < 1.0:
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        # AREA averages the pixels a downscale drops, which keeps small faces free of aliasing.
        rgb = converter.reformat(frame, width=width, height=height, format="rgb24",
                                 interpolation="AREA", threads=1)
    else:
        rgb = converter.reformat(frame, format="rgb24", threads=1)
    return rgb.to_ndarray()


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
