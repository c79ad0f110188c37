"""Fixed square face boxes for whole clips, and writing the crops.

[paper] FG-EmoTalk lets the head move freely inside a fixed frame (no per-frame alignment),
so each clip gets ONE square box: the union of the face boxes over the clip, enlarged
[ours: scale 1.6 of the larger side, outlier boxes dropped, shrunk to the frame when the
input is already a face crop]. Crops that still reach past the frame edge are padded with
black rather than stretched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fgemotalk_cli.errors import InputError

SUPPORTED_SIZES = (64, 128, 256, 512)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv",
                  ".wmv"}
AU_LABEL_PATTERN = re.compile(r"^(?P<subject>.+)_au(?P<au>\d+)\.txt$", re.IGNORECASE)


@dataclass(frozen=True)
class SquareBox:
    """A square in full-frame pixels: top-left (x, y) and side, all integers."""

    x: int
    y: int
    side: int

    def to_list(self) -> list[int]:
        return [self.x, self.y, self.side]


class NoStableFace(Exception):
    """A clip has too few frames with a face: it is skipped with this message."""


def union_box(
    boxes: Iterable[tuple[float, float, float, float]], frame_width: int, frame_height: int,
    scale: float,
) -> SquareBox:
    """One square holding the (inlier) face boxes of a clip, enlarged by ``scale``.

    A box whose centre lies further than one median face size from the median centre is a
    stray detection (another person, a poster) and is left out of the union [ours].
    """
    array = np.asarray(list(boxes), dtype=np.float64).reshape(-1, 4)
    if len(array) == 0:
        raise NoStableFace("no face found")
    centres = (array[:, :2] + array[:, 2:]) / 2
    sizes = np.maximum(array[:, 2] - array[:, 0], array[:, 3] - array[:, 1])
    median_centre = np.median(centres, axis=0)
    keep = np.linalg.norm(centres - median_centre, axis=1) <= np.median(sizes)
    inliers = array[keep]
    x0, y0 = inliers[:, 0].min(), inliers[:, 1].min()
    x1, y1 = inliers[:, 2].max(), inliers[:, 3].max()
    tight = max(x1 - x0, y1 - y0)
    side = tight * scale
    # Already-cropped inputs (CelebV-HQ, aligned HDTF) leave no room for the margin; giving
    # up some margin beats black bars, as long as the face itself still fits with 10 % spare.
    frame_side = min(frame_width, frame_height)
    if side > frame_side >= tight * 1.1:
        side = frame_side
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side_px = max(8, int(round(side)))
    left = int(round(cx - side_px / 2))
    top = int(round(cy - side_px / 2))
    # Slide the square back inside the frame where it fits, so padding is only needed when
    # the box is larger than the frame itself.
    if side_px <= frame_width:
        left = min(max(left, 0), frame_width - side_px)
    if side_px <= frame_height:
        top = min(max(top, 0), frame_height - side_px)
    return SquareBox(left, top, side_px)


def crop_resize(image: np.ndarray, box: SquareBox, size: int) -> np.ndarray:
    """Cut ``box`` out of an RGB frame (black outside the frame) and resize to size x size."""
    import cv2

    height, width = image.shape[:2]
    x0, y0, x1, y1 = box.x, box.y, box.x + box.side, box.y + box.side
    pad = (max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width))
    crop = image[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
    if any(pad):
        crop = cv2.copyMakeBorder(crop, *pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    # AREA for shrinking keeps fine detail free of aliasing; cubic for the rare enlargement.
    interpolation = cv2.INTER_AREA if box.side >= size else cv2.INTER_CUBIC
    return cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=interpolation)


def write_image(path: Path, rgb: np.ndarray, jpeg_quality: int = 95) -> None:
    import cv2

    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if path.suffix == ".jpg" else []
    # Encoded in memory and written by Python: cv2.imwrite only says False, and a full disk
    # must stop the run as an OSError (ENOSPC), not be taken for a bad clip and skipped.
    encoded, data = cv2.imencode(path.suffix, bgr, params)
    if not encoded:
        raise InputError(f"cannot encode {path.name} as {path.suffix}")
    path.write_bytes(data.tobytes())


def read_image(path: str | Path) -> np.ndarray:
    """An RGB uint8 image written by ``write_image`` (or any image OpenCV reads)."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def clip_id_for(relative: Path) -> str:
    """A folder-safe, stable name from a path relative to the input root."""
    parts = list(relative.with_suffix("").parts)
    text = "__".join(parts)
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "clip"


def unique_clip_ids(relatives: list[Path]) -> dict[Path, str]:
    """Clip ids for many paths; ``a.mp4`` and ``a.avi`` side by side keep their suffix."""
    plain = {rel: clip_id_for(rel) for rel in relatives}
    counts: dict[str, int] = {}
    for name in plain.values():
        counts[name] = counts.get(name, 0) + 1
    return {rel: (name if counts[name] == 1 else f"{name}_{rel.suffix.lstrip('.').lower()}")
            for rel, name in plain.items()}


def write_json_atomic(path: Path, data: object) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(temporary, path)


def fresh_partial_dir(clips_dir: Path, clip_id: str) -> Path:
    """An empty ``<id>.partial`` folder: work happens there and is renamed when complete,
    so an interrupted run never leaves a half-written clip that looks finished."""
    partial = clips_dir / f"{clip_id}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    return partial


def finish_clip(partial: Path, clip_id: str, record: dict) -> Path:
    """Write ``clip.json`` (the completion marker) and move the clip into place."""
    write_json_atomic(partial / "clip.json", record)
    final = partial.with_name(clip_id)
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    return final
