"""Speech jaw opening measured on the face, not on the source's resting mouth.

A speech mouth shape's ``jaw_open`` asks for an inner-lip gap at the midline of
``jaw_open * SPEECH_OPENING_IOD`` inter-ocular distances, whatever the photo shows: a closed
mouth opens to it, a mouth photographed open (a smile showing teeth, a shout) closes towards
it, so an "aa" looks as wide on every portrait. The jaw rotation that gives that gap is read
off this face's own geometry (the gap its jaw field actually makes at a range of rotations,
lips' limits included), so a face whose mesh rides less on the jaw still reaches it.

The scale comes from real talking faces: over six talking clips of different people
(``bench/speech_articulation.py``), the detected midline gap of speech is about 0.11-0.16 IOD
at the median and 0.19-0.27 IOD at the 90th percentile; ``speech/mouth.py`` scales each track's
jaw so that its 90th percentile asks for 0.55 of this, 0.22 IOD. [ours]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Inner-lip gap at the midline (IOD) that ``jaw_open = 1`` asks for.
SPEECH_OPENING_IOD = 0.40
_UPPER_MIDDLE, _LOWER_MIDDLE = 13, 14  # the inner lip contours' midpoints
#: The most the jaw closes back from a photo's open mouth, in shares of the full rotation
#: (beyond this a shout cannot be brought back to speech without tearing the lips).
_MAX_CLOSING_SHARE = 1.5
_TABLE_STEPS = 16
_CLOSED_IOD = 0.005  # gaps this small count as closed lips (detection noise)


def midline_gap(face: np.ndarray) -> float:
    """Inner-lip gap at the midline of face-frame points (IOD units; closed: about 0)."""
    return float(face[_LOWER_MIDDLE, 1] - face[_UPPER_MIDDLE, 1])


@dataclass(frozen=True)
class SpeechJaw:
    """Speech ``jaw_open`` to jaw-rotation shares for one face: the midline gap its jaw makes
    at each tabulated rotation share, inverted."""

    shares: np.ndarray  # increasing rotation shares (negative: closing)
    gaps_iod: np.ndarray  # the midline gap at each, made non-decreasing

    @classmethod
    def tabulated(cls, gap_at: Callable[[float], float], largest_share: float) -> SpeechJaw:
        """``gap_at(share)``: this face's midline gap with the jaw alone turned by ``share``
        of its full rotation; tabulated from closing back to ``largest_share``."""
        # Share 0 (the photo's own jaw) is always in the table.
        shares = np.union1d(np.linspace(-_MAX_CLOSING_SHARE, largest_share, _TABLE_STEPS), [0.0])
        gaps = np.maximum.accumulate([max(gap_at(float(s)), 0.0) for s in shares])
        return cls(shares=shares, gaps_iod=gaps)

    def share(self, jaw_open: float) -> float:
        """The rotation share that brings this face's gap to what ``jaw_open`` asks for
        (negative where the photo's mouth is open wider and the jaw must close)."""
        wanted = float(np.clip(jaw_open, 0.0, 1.0)) * SPEECH_OPENING_IOD
        # Among equal gaps (a closed mouth over a range of closing rotations) take the
        # rotation nearest the photo's own, the least warp that closes it.
        rest = int(np.searchsorted(self.shares, 0.0))
        closed = np.flatnonzero(self.gaps_iod[: rest + 1] <= self.gaps_iod[0] + _CLOSED_IOD)
        first = int(closed[-1]) if len(closed) else 0
        return float(np.interp(wanted, self.gaps_iod[first:], self.shares[first:]))
