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


def open_video(path: str | Path):  # -> av.container.InputContainer
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


def iter_frames(path: str | Path, max_size: int | None = None) -> Iterator[VideoFrame]:
    """Decode frames one at a time, upright, optionally downscaled so max(H, W) <= max_size.

    Rotation (and mirroring) from the container's display matrix is applied, so a portrait
    phone video comes out portrait. ``time`` comes from each frame's timestamp relative to
    the stream start, so variable frame rate input keeps its real timing (see
    ``resample_frames`` for a constant rate).
    """
    import av

    container = open_video(path)
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
