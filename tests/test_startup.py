"""Start-up work: what a job imports before its first frame (no matplotlib, no scipy, none of
MediaPipe's audio, hand or pose modules)."""

from __future__ import annotations

import os
import subprocess
import sys

_PROBE = """
import sys
import numpy as np
from fgemotalk_cli.faces.detector import FaceMeshDetector
import fgemotalk_cli.pipelines.speak
with FaceMeshDetector() as detector:
    detector.detect(np.zeros((64, 64, 3), np.uint8))
from fgemotalk_cli.expression.blendshapes import BlendshapeReader
BlendshapeReader()
heavy = sorted(name for name in ("matplotlib", "scipy.signal", "scipy.ndimage", "sounddevice",
                                 "urllib.request", "attr") if name in sys.modules)
import mediapipe
spec = mediapipe.solutions.drawing_utils.DrawingSpec  # still usable, loaded on first use
from mediapipe.tasks.python.audio import AudioClassifier  # a deferred package, on use
from mediapipe.python.solutions.hands import HandLandmark
real = type(sys.modules["mediapipe.tasks.python.audio"]) is type(sys)
print(",".join(heavy) or "none", "matplotlib" in sys.modules and real)
"""


def test_face_work_skips_what_it_never_uses() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=120, check=True)
    heavy, loaded_on_use = done.stdout.split()
    assert heavy == "none"
    assert loaded_on_use == "True"  # a deferred module loads when it is used


_WORKER_PROBE = """
import sys
from fgemotalk_cli.faces.mesh_model import mesh_triangles
triangles = mesh_triangles()
print(len(triangles), "mediapipe" in sys.modules)
"""


def test_the_mesh_topology_needs_no_mediapipe_import() -> None:
    """A render worker builds the warp mesh's topology on its first frame; MediaPipe's edge
    lists are plain data, and importing the package for them cost each worker ~0.1 s."""
    done = subprocess.run([sys.executable, "-c", _WORKER_PROBE], capture_output=True,
                          text=True, env=os.environ.copy(), timeout=120, check=True)
    count, imported = done.stdout.split()
    assert int(count) > 800  # the whole tessellation
    assert imported == "False"
