"""Start-up work: what a job imports before its first frame (no matplotlib, no scipy)."""

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
heavy = sorted(name for name in ("matplotlib", "scipy.signal", "scipy.ndimage")
               if name in sys.modules)
import mediapipe
spec = mediapipe.solutions.drawing_utils.DrawingSpec  # still usable, loaded on first use
print(",".join(heavy) or "none", "matplotlib" in sys.modules)
"""


def test_face_tracking_and_speech_skip_matplotlib_and_scipy() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=120, check=True)
    heavy, loaded_on_use = done.stdout.split()
    assert heavy == "none"
    assert loaded_on_use == "True"  # the deferred drawing module loads when it is used
