"""Portraits with their landmarks and prepared warp sources, detected once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from fgemotalk_cli.engines.warp.render import WarpSource, prepare_source
from fgemotalk_cli.faces.detector import FaceMeshDetector, detect_source_face
from fgemotalk_cli.faces.landmarks import FaceLandmarks
from fgemotalk_cli.media.images import load_image

# Two 512 px frontal portraits, one with a closed-ish mouth and one bearded, slightly turned.
WARP_PORTRAITS = ("liveportrait_s42.jpg", "vexpress_vasa1_3_ref.jpg")


@dataclass(frozen=True)
class WarpCase:
    name: str
    image: np.ndarray
    landmarks: FaceLandmarks
    source: WarpSource


@pytest.fixture(scope="session")
def warp_cases(portraits: list[Path]) -> list[WarpCase]:
    by_name = {path.name: path for path in portraits}
    cases = []
    for name in WARP_PORTRAITS:
        image = load_image(by_name[name])
        landmarks = detect_source_face(image)
        cases.append(WarpCase(name, image, landmarks, prepare_source(image, landmarks)))
    return cases


@pytest.fixture(scope="session")
def still_detector() -> FaceMeshDetector:
    with FaceMeshDetector(video_mode=False, max_faces=1) as detector:
        yield detector

