"""`edit-au`: an AU edit on one image, on every frame of a video, or as an AU x intensity sheet."""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from fgemotalk_cli.engines.base import Engine, ignored_controls
from fgemotalk_cli.engines.loading import load_engine
from fgemotalk_cli.errors import MediaError
from fgemotalk_cli.expression.aus import CATALOGUE, ExpressionControl, check_intensity
from fgemotalk_cli.faces.detector import FaceMeshDetector
from fgemotalk_cli.media.atomic import atomic_output
from fgemotalk_cli.media.images import downscale_to_max_side, save_image
from fgemotalk_cli.media.progress import frame_progress
from fgemotalk_cli.media.video import DecodeReport, iter_frames, probe_video, resample_frames
from fgemotalk_cli.options import RunOptions
from fgemotalk_cli.pipelines.common import RunStats, load_source_face
from fgemotalk_cli.pipelines.output import EncodedOutput

GRID_CELL = 192
GRID_LABEL_WIDTH = 210
GRID_HEADER = 36
GRID_INTENSITIES = (0, 1, 2, 3, 4, 5)


def run_edit_image(input_path: Path, output: Path, control: ExpressionControl,
                   options: RunOptions) -> tuple[int, int, str, list[str]]:
    with atomic_output(output, overwrite=options.overwrite) as temp:
        engine = load_engine(options)
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
    with EncodedOutput(output, options, info.fps, audio_source=input_path) as encoded:
        engine = load_engine(options)
        stats = RunStats(engine=engine.name, fps=info.fps)
        stats.warnings.extend(_mode_warnings(engine, control))
        decoding = DecodeReport()
        frames = resample_frames(iter_frames(input_path, report=decoding), info.fps,
                                 info.duration_seconds)
        with FaceMeshDetector(video_mode=True) as detector, \
                encoded.progress("edit-au", info.frame_count) as progress:
            while batch := list(islice(frames, options.batch_size)):
                for frame in batch:
                    # Full size up to --max-size; the encoder pads an odd side by one pixel.
                    image = downscale_to_max_side(frame.image, options.max_size)
                    faces = detector.detect(image)
                    if len(faces) <= options.face_index:
                        stats.frames_without_face += 1
                        encoded.write(image)
                        continue
                    state = engine.prepare(image, faces[options.face_index])
                    (edited,) = engine.edit(state, [control.at(frame.time_seconds)],
                                            control.au_mode)
                    encoded.write(edited)
                progress.advance(len(batch))
        stats.frames = encoded.frames_written
        stats.has_audio = encoded.finish()
    if decoding.warning():
        stats.warnings.append(decoding.warning(filled_with_last_frame=True))
    if stats.frames_without_face:
        stats.warnings.append(f"{stats.frames_without_face} frames had no face and were kept "
                              "unchanged")
    return stats


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
