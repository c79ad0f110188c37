"""The library API: what the CLI calls and what scripts import.

    from fgemotalk_cli import api
    from fgemotalk_cli.expression.aus import expression_control
    result = api.reenact("face.png", "driver.mp4", control=expression_control(["12=4"]))

Each function checks its inputs, reserves the output (nothing is overwritten without
``overwrite``; an interrupted run leaves nothing), then streams frames from an engine into the
encoder. Engines see arrays, never files.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.expression.analysis import AUAnalysis, analyze_media
from fgemotalk_cli.expression.aus import ExpressionControl
from fgemotalk_cli.media.paths import require_file
from fgemotalk_cli.options import RunOptions, resolve_engine
from fgemotalk_cli.pipelines import (
    RunStats,
    SpeechSettings,
    run_au_grid,
    run_edit_image,
    run_edit_video,
    run_reenact,
    run_speak,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


@dataclass(frozen=True)
class VideoResult:
    """What a video-producing call did."""

    output: Path
    frames: int
    fps: float
    duration_seconds: float
    engine: str
    has_audio: bool
    seconds: float
    frames_without_face: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        return _summary(self)


@dataclass(frozen=True)
class ImageResult:
    output: Path
    width: int
    height: int
    engine: str
    seconds: float
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        return _summary(self)


def _summary(result: VideoResult | ImageResult) -> dict[str, object]:
    """JSON-ready: paths as strings, warnings as a list."""
    summary = asdict(result)
    summary["output"] = str(result.output)
    summary["warnings"] = list(result.warnings)
    return summary


def _default_output(*inputs: Path, suffix: str, tag: str | None = None) -> Path:
    stem = "_".join(p.stem for p in inputs) + (f"_{tag}" if tag else "")
    return Path.cwd() / f"{stem}{suffix}"


def _ensure_suffix(output: Path, allowed: tuple[str, ...], what: str) -> Path:
    if output.suffix.lower() not in allowed:
        raise InputError(f"{what} output must end in {' or '.join(allowed)}: {output}")
    return output


def reenact(
    source: str | Path,
    driver: str | Path,
    output: str | Path | None = None,
    *,
    control: ExpressionControl | None = None,
    options: RunOptions | None = None,
    neutral_frame: int = 0,
) -> VideoResult:
    """Animate ``source`` with the head motion and expression of the face in ``driver``.

    Motion is taken relative to the driver's ``neutral_frame`` (not necessarily its first);
    ``control`` adds AU edits (``add``) or replaces the driver's expression (``replace``).
    """
    source = require_file(source, "source image")
    driver = require_file(driver, "driving video")
    if neutral_frame < 0:
        raise InputError("--neutral-frame must be 0 or more")
    options = resolve_engine(options)  # fails before any work when the engine cannot run
    target = Path(output) if output else _default_output(source, driver, suffix=".mp4")
    _ensure_suffix(target, (".mp4", ".mov", ".mkv"), "reenact")
    started = time.perf_counter()
    stats = run_reenact(source, driver, target, control or ExpressionControl(), options,
                        neutral_frame)
    return _video_result(target, stats, started)


def speak(
    source: str | Path,
    audio: str | Path,
    output: str | Path | None = None,
    *,
    control: ExpressionControl | None = None,
    options: RunOptions | None = None,
    transcript: str | None = None,
    language: str = "en",
    head_motion: float = 0.5,
    blinks: bool = True,
    fps: float = 25.0,
    seed: int = 0,
) -> VideoResult:
    """Animate ``source`` speaking ``audio``; the AU vector (or timeline) is applied on top."""
    source = require_file(source, "source image")
    audio = require_file(audio, "audio file")
    if not 0.0 <= head_motion <= 1.0:
        raise InputError("--head-motion must be within 0..1")
    if not 1.0 <= fps <= 120.0:
        raise InputError("--fps must be within 1..120")
    if transcript is not None and transcript.endswith(".txt"):
        transcript = require_file(transcript, "transcript file").read_text(encoding="utf-8")
    options = resolve_engine(options)
    target = Path(output) if output else _default_output(source, audio, suffix=".mp4")
    _ensure_suffix(target, (".mp4", ".mov", ".mkv"), "speak")
    settings = SpeechSettings(
        transcript=transcript, language=language, head_motion=head_motion, blinks=blinks,
        fps=Fraction(fps).limit_denominator(1001), seed=seed,
    )
    started = time.perf_counter()
    stats = run_speak(source, audio, target, control or ExpressionControl(), options, settings)
    return _video_result(target, stats, started)


def edit_au(
    input_path: str | Path,
    output: str | Path | None = None,
    *,
    control: ExpressionControl,
    options: RunOptions | None = None,
) -> VideoResult | ImageResult:
    """Apply an AU edit to an image (image out) or to every frame of a video (audio kept)."""
    input_path = require_file(input_path, "input")
    options = resolve_engine(options)
    suffix = input_path.suffix.lower()
    started = time.perf_counter()
    if suffix in VIDEO_SUFFIXES:
        target = Path(output) if output else _default_output(input_path, suffix=".mp4",
                                                              tag="edited")
        _ensure_suffix(target, (".mp4", ".mov", ".mkv"), "video edit")
        stats = run_edit_video(input_path, target, control, options)
        return _video_result(target, stats, started)
    target = Path(output) if output else _default_output(input_path, suffix=".png", tag="edited")
    _ensure_suffix(target, IMAGE_SUFFIXES, "image edit")
    width, height, engine, warnings = run_edit_image(input_path, target, control, options)
    return ImageResult(target, width, height, engine, time.perf_counter() - started,
                       tuple(warnings))


def au_grid(
    input_path: str | Path,
    output: str | Path | None = None,
    *,
    aus: list[int] | None = None,
    options: RunOptions | None = None,
) -> ImageResult:
    """A labelled sheet: one row per AU, columns intensity 0..5 (like the paper's Fig. 5)."""
    input_path = require_file(input_path, "input image")
    options = resolve_engine(options)
    target = Path(output) if output else _default_output(input_path, suffix=".png", tag="au_grid")
    _ensure_suffix(target, (".png", ".jpg", ".jpeg"), "grid")
    started = time.perf_counter()
    width, height, engine, warnings = run_au_grid(input_path, target, aus, options)
    return ImageResult(target, width, height, engine, time.perf_counter() - started,
                       tuple(warnings))


def _video_result(target: Path, stats: RunStats, started: float) -> VideoResult:
    return VideoResult(
        output=target,
        frames=stats.frames,
        fps=float(stats.fps),
        duration_seconds=stats.frames / float(stats.fps),
        engine=stats.engine,
        has_audio=stats.has_audio,
        seconds=round(time.perf_counter() - started, 3),
        frames_without_face=stats.frames_without_face,
        warnings=tuple(stats.warnings),
    )


def analyze(input_path: str | Path, *, max_frames: int | None = None,
            reference_frame: int | None = None) -> AUAnalysis:
    """Measured AU intensities (0..5) and head pose per frame of an image or a video; with
    ``reference_frame`` (a frame at rest) AU 5 and 15 are read from the mesh against it."""
    return analyze_media(require_file(input_path, "input"), max_frames=max_frames,
                         reference_frame=reference_frame)
