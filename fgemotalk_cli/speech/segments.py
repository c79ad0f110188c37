"""Phone and word segments of speech and the 10 ms frame grid they are measured on.

Shared by the phone decoder (:mod:`.phonemes`) and its pocketsphinx back end (:mod:`.sphinx`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.errors import InputError

SAMPLE_RATE_HZ = 16000
FRAMES_PER_SECOND = 100  # pocketsphinx analyses 10 ms frames
SILENCE = "SIL"
SPEECH_BELOW_LEVEL_DB = -30.0  # 10 ms frames within this of the loud level count as speech
_HOP = SAMPLE_RATE_HZ // FRAMES_PER_SECOND


@dataclass(frozen=True)
class PhoneSegment:
    """One phone: ARPAbet without stress (``"B"``, ``"AA"``) or ``"SIL"``; times in seconds."""

    phone: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class WordSegment:
    word: str
    start_s: float
    end_s: float


def frame_rms(wave: np.ndarray) -> np.ndarray:
    """RMS of each 10 ms frame, computed in blocks so no full-length temporary is made."""
    n_frames = len(wave) // _HOP
    rms = np.empty(n_frames, dtype=np.float32)
    block = 500  # frames (5 s): the float64 temporaries stay small however long the clip
    for first in range(0, n_frames, block):
        last = min(first + block, n_frames)
        frames = wave[first * _HOP : last * _HOP].reshape(-1, _HOP).astype(np.float64)
        rms[first:last] = np.sqrt(np.mean(frames**2, axis=1))
        if not np.isfinite(rms[first:last]).all():
            raise InputError("the audio contains NaN or infinite samples")
    return rms
