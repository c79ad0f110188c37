"""DISFA-layout input for stage 2: frames plus per-AU intensity label files.

DISFA ships ``ActionUnit_Labels/SN001/SN001_au1.txt`` (lines ``frame,intensity``, frames
counted from 1, intensities 0..5) beside one video per subject and camera
(``Videos_LeftCamera/LeftVideoSN001_comp.avi``). Frames may also be a folder of images
named after the subject (``frames/SN001/00001.png``). A subject is found by the name before
``_au`` in its label files; its frames are the image folder or video whose name contains it
(the left camera when both exist, DISFA's usual choice [ours]).

Each subject becomes one "clip": crops of its labelled frames in one fixed box, and
``labels.csv`` (``file,au1,au2,...``). Only frames labelled for every AU of the subject are kept.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.faces.detector import FaceMeshDetector
from fgemotalk_cli.media.images import downscale_to_max_side
from fgemotalk_cli.media.video import iter_frames
from fgemotalk_cli.training.crops import (
    AU_LABEL_PATTERN,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    NoStableFace,
    crop_resize,
    finish_clip,
    fresh_partial_dir,
    read_image,
    union_box,
    write_image,
)

TRAILING_NUMBER = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class Subject:
    """One DISFA subject: its label files per AU and where its frames are."""

    name: str
    labels: dict[int, Path] = field(default_factory=dict)
    frames: Path | None = None

    def __str__(self) -> str:
        return f"{self.name} ({self.frames})"


def find_subjects(root: Path, label_files: list[Path]) -> list[tuple[str, Subject]]:
    """(clip id, Subject) for every subject with label files; frames found in one walk."""
    labels: dict[str, dict[int, Path]] = {}
    for path in label_files:
        match = AU_LABEL_PATTERN.match(path.name)
        assert match is not None  # label_files were filtered with this pattern
        labels.setdefault(match["subject"], {})[int(match["au"])] = path
    image_dirs, videos = [], []
    for folder, _, files in os.walk(root):
        if any(Path(f).suffix.lower() in IMAGE_SUFFIXES for f in files):
            image_dirs.append(Path(folder))
        videos += [Path(folder) / f for f in files if Path(f).suffix.lower() in VIDEO_SUFFIXES]
    subjects = []
    for name in sorted(labels):
        key = name.lower()
        folders = [d for d in image_dirs if key in d.name.lower()]
        clips = sorted((v for v in videos if key in v.stem.lower()),
                       key=lambda v: ("left" not in v.stem.lower(), str(v)))
        frames = folders[0] if folders else (clips[0] if clips else None)
        subjects.append((_safe(name), Subject(name, labels[name], frames)))
    return subjects


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def read_labels(subject: Subject) -> tuple[list[int], dict[int, list[float]]]:
    """(AU list, {frame number: intensities in AU order}) for frames labelled for every AU."""
    aus = sorted(subject.labels)
    per_au: list[dict[int, float]] = []
    for au in aus:
        path = subject.labels[au]
        values: dict[int, float] = {}
        for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            text = line.strip()
            if not text:
                continue
            parts = [p.strip() for p in text.replace(";", ",").split(",")]
            try:
                frame, intensity = int(parts[0]), float(parts[1])
            except (ValueError, IndexError):
                if line_number == 1:  # a header line
                    continue
                raise InputError(f"{path}:{line_number}: expected 'frame,intensity', got "
                                 f"{text!r}") from None
            if not 0 <= intensity <= 5:
                raise InputError(f"{path}:{line_number}: intensity {intensity} outside 0..5")
            values[frame] = intensity
        per_au.append(values)
    common = set.intersection(*(set(v) for v in per_au)) if per_au else set()
    return aus, {frame: [v[frame] for v in per_au] for frame in sorted(common)}


def _image_frames(folder: Path) -> list[tuple[int, Path]]:
    """(frame number counted from 1, path) for a folder of frame images."""
    images = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    numbers = [TRAILING_NUMBER.search(p.stem) for p in images]
    if images and all(numbers):
        values = [int(m[1]) for m in numbers if m]
        offset = 1 if min(values) == 0 else 0  # 0-based file names map to DISFA's frame 1
        return sorted((v + offset, p) for v, p in zip(values, images))
    return [(i + 1, p) for i, p in enumerate(sorted(images))]


def iter_labelled_frames(subject: Subject, wanted: set[int],
                         max_size: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(frame number, RGB image) for the wanted frames, in order."""
    if subject.frames is None:
        raise InputError(f"no frames (image folder or video named like '{subject.name}') found")
    if subject.frames.is_dir():
        for number, path in _image_frames(subject.frames):
            if number in wanted:
                image = read_image(path)
                if max_size and max(image.shape[:2]) > max_size:
                    image = downscale_to_max_side(image, max_size)
                yield number, image
        return

    last = max(wanted) if wanted else 0
    for frame in iter_frames(subject.frames, max_size=max_size):
        number = frame.index + 1
        if number > last:
            break
        if number in wanted:
            yield number, frame.image


def prepare_subject(clip_id: str, subject: Subject, clips_dir: Path, settings) -> dict:
    """Crop one subject's labelled frames into ``clips/<id>/`` with ``labels.csv``."""
    aus, labels = read_labels(subject)
    if not labels:
        raise InputError("no frame is labelled for every AU")
    frames = sorted(labels)
    if settings.max_frames is not None:
        frames = frames[:settings.max_frames]
    wanted = set(frames)
    box, full_size = _subject_box(subject, wanted, settings)
    partial = fresh_partial_dir(clips_dir, clip_id)
    rows = []
    for number, image in iter_labelled_frames(subject, wanted):
        if image.shape[1::-1] != full_size:
            raise InputError(f"frame {number} is {image.shape[1]}x{image.shape[0]}, the others "
                             f"{full_size[0]}x{full_size[1]}")
        name = f"{number:06d}.{settings.image_format}"
        write_image(partial / name, crop_resize(image, box, settings.size), settings.jpeg_quality)
        rows.append([name, *labels[number]])
    if len(rows) < settings.min_frames:
        raise NoStableFace(f"only {len(rows)} labelled frames could be read")
    with open(partial / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", *(f"au{au}" for au in aus)])
        writer.writerows(rows)
    record = {"id": clip_id, "source": str(subject.frames), "frames": len(rows), "aus": aus,
              "labels": "labels.csv", "box": box.to_list(), "frame_size": list(full_size),
              "image_format": settings.image_format, "audio": False,
              "audio_note": "DISFA subject"}
    finish_clip(partial, clip_id, record)
    return record


def _subject_box(subject: Subject, wanted: set[int], settings):
    """Fixed box over the subject's labelled frames; also the full frame size (w, h)."""
    sampled = set(sorted(wanted)[::settings.detect_every])
    boxes, analysed, full_size = [], 0, None
    # Full-size frames are needed for the size; detection itself runs on a downscaled copy.
    with FaceMeshDetector(video_mode=True, max_faces=1) as detector:
        for _, image in iter_labelled_frames(subject, sampled):
            height, width = image.shape[:2]
            full_size = full_size or (width, height)
            factor = min(1.0, settings.detection_side / max(height, width))
            small = image
            if factor < 1:
                import cv2

                small = cv2.resize(image, (round(width * factor), round(height * factor)),
                                   interpolation=cv2.INTER_AREA)
            analysed += 1
            faces = detector.detect(small)
            if faces:
                boxes.append(tuple(v / factor for v in faces[0].bbox()))
    if full_size is None:
        raise NoStableFace("none of the labelled frames could be read")
    if len(boxes) < settings.min_face_fraction * analysed:
        raise NoStableFace(f"a face in only {len(boxes)} of {analysed} analysed frames")
    return union_box(boxes, full_size[0], full_size[1], settings.box_scale), full_size
