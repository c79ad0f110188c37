"""Pieces every pipeline shares: the source face, output sizing, the side-by-side view."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from fgemotalk_cli.errors import NoFaceError
from fgemotalk_cli.faces.detector import detect_source_face
from fgemotalk_cli.faces.landmarks import FaceLandmarks
from fgemotalk_cli.media.images import downscale_to_max_side, load_image

#: Default long side of rendered output (``--max-size``): a larger source is downscaled to it,
#: and the run says so. The warp itself runs at a working resolution and is applied to the
#: output resolution, so a 2048 px photo costs far less than 16x a 512 px one per frame.
MAX_OUTPUT_SIDE = 2048


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
    landmarks: FaceLandmarks
    path: Path
    original_size: tuple[int, int]  # (width, height) of the file, before any downscaling

    def size_warnings(self) -> list[str]:
        """One line when the output is smaller than the source (``--max-size``)."""
        height, width = self.image.shape[:2]
        if (width, height) == self.original_size:
            return []
        return [f"the {self.original_size[0]}x{self.original_size[1]} source was downscaled to "
                f"{width}x{height} (--max-size {max(width, height)}; raise it to keep more)"]


def load_source_face(path: Path, face_index: int,
                     max_size: int | None = MAX_OUTPUT_SIDE) -> SourceFace:
    """Load the portrait at its own size (downscaled only past ``max_size``) and find its
    face (or fail). Odd sizes stay odd: an image output keeps them, the video encoder pads."""
    full = load_image(path)
    original_size = (full.shape[1], full.shape[0])
    image = full if max_size is None else downscale_to_max_side(full, max_size)
    try:
        landmarks = detect_source_face(image, face_index=face_index)
    except NoFaceError:
        raise NoFaceError(f"no face found in the source image {path}") from None
    return SourceFace(image, landmarks, path, original_size)


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
