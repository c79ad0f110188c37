"""`edit-au`: an AU edit on one image, on every frame of a video, or as an AU x intensity sheet."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fgemotalk_cli.engines.base import Engine, ignored_controls
from fgemotalk_cli.engines.loading import load_engine
from fgemotalk_cli.engines.warp.engine import WarpEngine
from fgemotalk_cli.engines.warp.shots import ShotFrame, ShotSources
from fgemotalk_cli.errors import MediaError
from fgemotalk_cli.expression.aus import CATALOGUE, ExpressionControl, check_intensity
from fgemotalk_cli.faces.detector import VideoFaceTracker
from fgemotalk_cli.media.atomic import atomic_output
from fgemotalk_cli.media.images import downscale_to_max_side, save_image
from fgemotalk_cli.media.progress import frame_progress
from fgemotalk_cli.media.video import DecodeReport, iter_frames, probe_video, resample_frames
from fgemotalk_cli.options import RunOptions
from fgemotalk_cli.pipelines.background import prefetch_depth, prefetched
from fgemotalk_cli.pipelines.common import RunStats, load_source_face
from fgemotalk_cli.pipelines.output import EncodedOutput
from fgemotalk_cli.pipelines.threads import (
    batched,
    frame_loop_threads,
    frames_ahead,
    load_readout_aside,
    render_workers,
)

if TYPE_CHECKING:
    from fgemotalk_cli.media.video import VideoInfo

#: Video frames decoded, tracked and prepared ahead of the renderer, on their own thread (at
#: least: as many as :data:`~fgemotalk_cli.pipelines.background.PREFETCH_BYTES` hold).
PREFETCH_FRAMES = 8
GRID_CELL = 192
GRID_LABEL_WIDTH = 210
GRID_HEADER = 36
GRID_INTENSITIES = (0, 1, 2, 3, 4, 5)


def run_edit_image(input_path: Path, output: Path, control: ExpressionControl,
                   options: RunOptions) -> tuple[int, int, str, list[str]]:
    with atomic_output(output, overwrite=options.overwrite) as temp:
        engine = load_engine(options)
        load_readout_aside(engine, control.requested_aus)  # while the face is found
        source = load_source_face(input_path, options.face_index, options.max_size)
        state = engine.prepare(source.image, source.landmarks)
        (edited,) = engine.edit(state, [control.at(0.0)], control.au_mode)
        save_image(temp, edited)
    warnings = source.size_warnings() + _mode_warnings(engine, control)
    return edited.shape[1], edited.shape[0], engine.name, warnings


def run_edit_video(input_path: Path, output: Path, control: ExpressionControl,
                   options: RunOptions) -> RunStats:
    """Edit every frame; a frame without a face is passed through unchanged and counted."""
    info = probe_video(input_path)
    with EncodedOutput(output, options, info.fps, audio_source=input_path) as encoded, \
            ExitStack() as job:
        engine = load_engine(options)
        job.enter_context(render_workers(engine))  # before any thread of the job: forked
        load_readout_aside(engine, control.requested_aus)
        stats = RunStats(engine=engine.name, fps=info.fps)
        stats.warnings.extend(_mode_warnings(engine, control))
        decoding = DecodeReport()
        # Each shot's calibration runs on a thread of its own while tracking goes on.
        calibrations = job.enter_context(ThreadPoolExecutor(
            1, thread_name_prefix="fgemotalk-calibrate"))
        prepare, render = _video_frame_steps(engine, control, calibrations)
        # Decoding, face tracking and each frame's preparation (in video order: tracking and
        # shots follow it) run on a second thread, while the frames prepared before render
        # in the render workers and the encoder encodes.
        jobs = _prepared_frames(input_path, info, options, prepare, stats, decoding)
        depth = prefetch_depth(info.width, info.height, options.max_size, PREFETCH_FRAMES)
        with prefetched(jobs, depth) as prepared, \
                encoded.progress("edit-au", info.frame_count) as progress, \
                frame_loop_threads():
            for batch, frames in frames_ahead(batched(prepared, options.batch_size), render):
                for edited in frames:
                    encoded.write(edited)
                progress.advance(len(batch))
        stats.frames = encoded.frames_written
        stats.has_audio = encoded.finish()
    decoding_warning = decoding.warning(filled_with_last_frame=True)
    if decoding_warning is not None:
        stats.warnings.append(decoding_warning)
    if stats.frames_without_face:
        stats.warnings.append(f"{stats.frames_without_face} frames had no face and were kept "
                              "unchanged")
    return stats


def _prepared_frames(input_path: Path, info: VideoInfo, options: RunOptions,
                     prepare: Callable[[np.ndarray, Any], Any], stats: RunStats,
                     decoding: DecodeReport) -> Iterator[tuple[Any, np.ndarray, float]]:
    """Render jobs (state or None without a face, the frame, its time) for every frame."""
    frames = resample_frames(iter_frames(input_path, report=decoding), info.fps,
                             info.duration_seconds)
    with VideoFaceTracker(options.face_index) as detector:
        for frame in frames:
            # Full size up to --max-size; the encoder pads an odd side by one pixel.
            image = downscale_to_max_side(frame.image, options.max_size)
            faces = detector.detect(image)
            face = faces[options.face_index] if len(faces) > options.face_index else None
            stats.frames_without_face += face is None
            yield prepare(image, face), image, frame.time_seconds


def _video_frame_steps(engine: Engine[Any], control: ExpressionControl,
                       calibrations: Executor | None = None) -> tuple[
        Callable[[np.ndarray, Any], Any], Callable[[list[tuple[Any, ...]]], list[Any]]]:
    """How to prepare each frame of a video and render a batch of them (its frames, or
    futures of them: :func:`~fgemotalk_cli.pipelines.threads.frames_ahead`).

    ``prepare(frame, face or None)`` gives the engine state (None without a face). The warp
    engine prepares the face once per shot (:class:`ShotSources`; a frame without a face
    ends the shot) and renders in its render workers; another engine prepares every frame and
    renders them one by one. A job is (state or None, the frame, its time in seconds).
    ``calibrations``: where the warp engine's shots calibrate (see :class:`ShotSources`).
    """
    def edit_one(state: Any, image: np.ndarray, time_seconds: float) -> np.ndarray:
        if state is None:
            return image  # no face: the frame passes through unchanged
        (edited,) = engine.edit(state, [control.at(time_seconds)], control.au_mode)
        return edited

    if isinstance(engine, WarpEngine):
        # Each shot's AUs are calibrated on its first frame, as a photo's are on the photo.
        warp = engine
        wanted = control.requested_aus
        shots = ShotSources(None if not wanted else
                            lambda source: warp.calibrated_shot(source, wanted), calibrations)

        def prepare_warp(image: np.ndarray, face: Any) -> ShotFrame | None:
            if face is None:
                shots.no_face()
                return None
            return shots.frame_for(image, face)

        def render_warp(jobs: list[tuple[Any, ...]]) -> list[Any]:
            # A frame without a face passes through; the others render together.
            faced = [(frame, control.at(time_seconds)) for frame, _, time_seconds in jobs
                     if frame is not None]
            edited = iter(engine.edit_frames_soon([frame for frame, _ in faced],
                                                  [vector for _, vector in faced]))
            return [image if frame is None else next(edited) for frame, image, _ in jobs]

        return prepare_warp, render_warp

    def prepare_each(image: np.ndarray, face: Any) -> Any:
        return None if face is None else engine.prepare(image, face)

    return prepare_each, lambda jobs: [edit_one(*job) for job in jobs]


def _mode_warnings(engine: Engine[Any], control: ExpressionControl) -> list[str]:
    """``--au-mode replace`` means nothing to an engine that edits a photo one way only."""
    return ignored_controls(engine, ["edit_au_mode"] if control.au_mode == "replace" else [])


def run_au_grid(input_path: Path, output: Path, aus: list[int] | None,
                options: RunOptions) -> tuple[int, int, str, list[str]]:
    """One row per AU, one column per intensity 0..5, each cell the face crop, labelled."""
    with atomic_output(output, overwrite=options.overwrite) as temp:
        engine = load_engine(options)
        rows = aus or sorted(getattr(engine, "supported_aus", CATALOGUE))
        for au in rows:
            check_intensity(au, 0.0)
        source = load_source_face(input_path, options.face_index)
        state = engine.prepare(source.image, source.landmarks)
        box = _face_box(source.landmarks, source.image.shape)
        sheet = _blank_sheet(len(rows))
        with frame_progress("au grid", len(rows), options.show_progress) as progress:
            for row, au in enumerate(rows):
                vectors = [{au: float(level)} for level in GRID_INTENSITIES]
                for column, edited in enumerate(engine.edit(state, vectors, "replace")):
                    _place(sheet, row, column, _crop(edited, box))
                _label_row(sheet, row, au)
                progress.advance(1)
        save_image(temp, sheet)
    return sheet.shape[1], sheet.shape[0], engine.name, []


def _face_box(landmarks: object, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = landmarks.bbox()  # type: ignore[attr-defined]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = 0.65 * max(x1 - x0, y1 - y0)
    height, width = shape[:2]
    left, top = int(max(0, cx - half)), int(max(0, cy - half))
    return left, top, int(min(width, cx + half)), int(min(height, cy + half))


def _crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    import cv2

    left, top, right, bottom = box
    if right <= left or bottom <= top:
        raise MediaError("face box is empty")
    return cv2.resize(image[top:bottom, left:right], (GRID_CELL, GRID_CELL),
                      interpolation=cv2.INTER_AREA)


def _blank_sheet(rows: int) -> np.ndarray:
    import cv2

    width = GRID_LABEL_WIDTH + GRID_CELL * len(GRID_INTENSITIES)
    sheet = np.full((GRID_HEADER + GRID_CELL * rows, width, 3), 255, np.uint8)
    for column, level in enumerate(GRID_INTENSITIES):
        x = GRID_LABEL_WIDTH + column * GRID_CELL + GRID_CELL // 2 - 8
        cv2.putText(sheet, str(level), (x, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
    return sheet


def _place(sheet: np.ndarray, row: int, column: int, cell: np.ndarray) -> None:
    top = GRID_HEADER + row * GRID_CELL
    left = GRID_LABEL_WIDTH + column * GRID_CELL
    sheet[top:top + GRID_CELL, left:left + GRID_CELL] = cell


def _label_row(sheet: np.ndarray, row: int, au: int) -> None:
    import cv2

    top = GRID_HEADER + row * GRID_CELL + GRID_CELL // 2
    name = CATALOGUE[au].name
    cv2.putText(sheet, f"AU{au}", (10, top - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
    cv2.putText(sheet, name, (10, top + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (60, 60, 60), 1)
