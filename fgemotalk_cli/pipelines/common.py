"""Pieces every pipeline shares: the source face, output sizing, the side-by-side view."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from fgemotalk_cli.errors import NoFaceError
from fgemotalk_cli.faces.detector import detect_source_face
from fgemotalk_cli.media.images import load_image

#: Long side of rendered output; larger sources are downscaled first so that a 2048 px photo
#: does not cost 16x a 512 px one per frame.
MAX_OUTPUT_SIDE = 1024


@dataclass
class RunStats:
    """Counters a pipeline fills in while it streams (mutable on purpose)."""

    engine: str
    fps: Fraction
    frames: int = 0
    frames_without_face: int = 0
    has_audio: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SourceFace:
    image: np.ndarray
    landmarks: object  # FaceLandmarks
    path: Path


def load_source_face(path: Path, face_index: int) -> SourceFace:
    """Load the portrait, downscale it to the output size, and find its face (or fail)."""
    image = even_size(load_image(path, max_size=MAX_OUTPUT_SIDE))
    try:
        landmarks = detect_source_face(image, face_index=face_index)
    except NoFaceError:
        raise NoFaceError(f"no face found in the source image {path}") from None
    return SourceFace(image, landmarks, path)


def even_size(image: np.ndarray) -> np.ndarray:
    """H.264 with yuv420p needs even sides: drop a last odd row/column."""
    height, width = image.shape[:2]
    return image[: height - height % 2, : width - width % 2]


def side_by_side(panels: list[np.ndarray], height: int) -> np.ndarray:
    """Panels scaled to one height and joined left to right (for --compare)."""
    import cv2

    scaled = []
    for panel in panels:
        h, w = panel.shape[:2]
        width = max(2, round(w * height / h))
        scaled.append(cv2.resize(panel, (width, height), interpolation=cv2.INTER_AREA))
    return even_size(np.concatenate(scaled, axis=1))
