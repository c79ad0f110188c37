"""AU read-out: FACS intensities 0..5 estimated from MediaPipe's blendshape scores.

The blendshape model (:mod:`fgemotalk_cli.expression.blendshapes`) scores 52 ARKit-style
shapes 0..1. Each AU below reads one shape (the mean of its left and right halves where the
model splits them). A score maps to an intensity through a floor (what neutral faces score),
a strong level (what real, strong expressions of that kind score: intensity 5) and a concave
power law in between, ``intensity = 5 * ((score - floor) / (strong - floor)) ** 0.6``: the
model's scores rise slowly for slight movements and saturate for extreme ones, while FACS
grades A (trace) and B (slight) are small movements already, so a linear map would read
them as nearly 0.

The strong level is the median over the clips that show the expression strongly.

Reference table: real expressions in /work/shared/media, measured with this model
(5th and 97th percentile of each clip's frames; portraits single frames)::

    AU  blendshape       neutral faces   strong real expressions                 floor strong
    1   browInnerUp      0.00-0.03 (*)   d7 brow raise 0.56, s42 0.55            0.02  0.55
    2   browOuterUp      0.00-0.06 (*)   d7 brow raise 0.61, d30 0.74            0.02  0.60
    4   browDown         0.00-0.45       d8 frown 0.83, d5 0.77 (from 0.45)      0.15  0.80
    5   eyeWide          0.00-0.01       d7 wide eyes 0.28, s11 0.15             0.01  0.28
    7   eyeSquint        0.01-0.60       d7 squint 0.85, d2 0.80                 0.45  0.85
    10  mouthUpperUp     0.00            d18 0.59, d5 0.55, d8 0.55              0.01  0.55
    12  mouthSmile       0.00-0.05       d8 0.95, d5 0.87, d0 0.87, d7 0.68      0.02  0.87
    15  mouthFrown       0.00            d18 sad mouth 0.01 (blind), issue 0.14  0.00  0.15
    17  mouthShrugLower  0.00-0.12       d8 0.82, d18 0.40                       0.05  0.60
    20  mouthStretch     0.00-0.01       d8 0.22, d0 0.17, issue 0.41            0.00  0.35
    23  mouthPress       0.00-0.23       d18 0.46, d5 0.36                       0.15  0.50
    26  jawOpen          0.00-0.02       d18 0.93, d19 0.87, d9 0.79, d5 0.69    0.02  0.80
    43  eyeBlink         0.05-0.20       d1 0.79, d7 0.79, d2 0.63 (narrow eyes) 0.15  0.75
    45  eyeBlink         as 43

    (*) sadtalker_sad 0.19 browOuterUp, s11 0.55 (child): some faces rest with raised brows.

Where the model is blind, and what we do:
- AU 6 (cheek raiser): ``cheekSquint`` stays at 0.00 on every face and clip here, broad
  Duchenne smiles included, and ``eyeSquint`` mixes AU 6 with AU 7 and the lid shape of the
  neutral face. AU 6 is NOT estimated (NaN).
- AU 9 (nose wrinkler): ``noseSneer`` stays at 0.00 everywhere, so AU 9 is NOT estimated.
- AU 25 (lips part) has no shape of its own (``jawOpen`` is AU 26); not estimated.
- AU 15: ``mouthFrown`` barely moves even on clearly depressed lip corners (d18's sad mouth
  0.00-0.01, d8's turned-down frown 0.00); AU 5: ``eyeWide`` reads one symmetric real lid
  raise (d7) 0.12 on one eye and 0.44 on the other. A change of either within one face
  (an edit against its source, a frame against a reference frame) is read from the mesh
  instead (:data:`CHANGE_RULES`, :mod:`.landmark_readout`: geometry, not appearance); a
  single photo's AU 5 and 15 still come from the scores below, weak as they are.
- AU 4 and AU 7 rest at very different levels on neutral faces (heavy brows, narrow eyes
  read 0.3-0.6), so single-image readings of them are biased by the face; changes within one
  face (a video, an edit against its source) are what they measure well. A change reads on
  its own scale (:meth:`ReadoutRule.change_intensity`): ``strong - floor`` for every AU whose
  strong clips start near the floor (1, 2, 5, 12, 26, 43: their rise from rest matches it
  within 0.05), but for AU 4 the rise real frowns show from their own rest, 0.36 (p97 - p5
  of d8, d5, d2, d18), since the faces that frown hardest rest at 0.45 already.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.expression.landmark_readout import LANDMARK_RULES, LandmarkRule

MAX_INTENSITY = 5.0
#: Score changes below this are the read-out's own noise between two renders of one face.
SCORE_NOISE = 0.02
#: Exponent of the score -> intensity map (see the module docstring).
READOUT_EXPONENT = 0.6


@dataclass(frozen=True)
class ReadoutRule:
    """How one AU is read from the blendshape scores."""

    au: int
    blendshapes: tuple[str, ...]  # averaged
    floor: float  # score of a neutral face: intensity 0
    strong: float  # score of a strong real expression: intensity 5
    #: The score change a strong real expression shows from the same face at rest, where it
    #: differs from ``strong - floor`` (faces that rest well above the floor): what a change
    #: within one face (an edit against its source) needs to read 5.
    strong_change: float | None = None

    @property
    def change_span(self) -> float:
        """The score change that reads as intensity 5 within one face."""
        return self.strong - self.floor if self.strong_change is None else self.strong_change

    def change_intensity(self, score_change: float) -> float:
        """A score change within one face in intensity units (0 for falls)."""
        share = float(np.clip(score_change / self.change_span, 0.0, 1.0))
        return MAX_INTENSITY * share**READOUT_EXPONENT

    def change_at(self, intensity: float) -> float:
        """The score change that reads as ``intensity`` (the inverse of
        :meth:`change_intensity`)."""
        share = float(np.clip(intensity / MAX_INTENSITY, 0.0, 1.0)) ** (1.0 / READOUT_EXPONENT)
        return share * self.change_span

    @property
    def noise(self) -> float:
        """Score changes below this are the read-out's own noise between two renders."""
        return SCORE_NOISE

    def score(self, scores: Mapping[str, float]) -> float:
        return float(np.mean([scores[name] for name in self.blendshapes]))

    def signal(self, face: object) -> float:
        """The score of one read face (anything with ``scores``), as :class:`LandmarkRule`
        reads its measure: what a change within one face is taken between."""
        return self.score(face.scores)  # type: ignore[attr-defined]

    def intensity(self, score: float) -> float:
        share = float(np.clip((score - self.floor) / (self.strong - self.floor), 0.0, 1.0))
        return MAX_INTENSITY * share**READOUT_EXPONENT

    def score_at(self, intensity: float) -> float:
        """The score that reads as ``intensity`` (the inverse of :meth:`intensity`)."""
        share = float(np.clip(intensity / MAX_INTENSITY, 0.0, 1.0)) ** (1.0 / READOUT_EXPONENT)
        return self.floor + share * (self.strong - self.floor)


def _pair(name: str) -> tuple[str, ...]:
    return (f"{name}Left", f"{name}Right")


READOUT_RULES: dict[int, ReadoutRule] = {rule.au: rule for rule in (
    ReadoutRule(1, ("browInnerUp",), 0.02, 0.55),
    ReadoutRule(2, _pair("browOuterUp"), 0.02, 0.60),
    # Neutral faces rest at 0.00-0.45 and strong frowns rise 0.24-0.42 from their own rest
    # (d8 +0.39, d5 +0.32, d2 +0.42, d18 +0.24; median 0.36): within one face, 0.36 is 5.
    ReadoutRule(4, _pair("browDown"), 0.15, 0.80, strong_change=0.36),
    ReadoutRule(5, _pair("eyeWide"), 0.01, 0.28),
    ReadoutRule(7, _pair("eyeSquint"), 0.45, 0.85),
    ReadoutRule(10, _pair("mouthUpperUp"), 0.01, 0.55),
    ReadoutRule(12, _pair("mouthSmile"), 0.02, 0.87),
    ReadoutRule(15, _pair("mouthFrown"), 0.0, 0.15),
    ReadoutRule(17, ("mouthShrugLower",), 0.05, 0.60),
    ReadoutRule(20, _pair("mouthStretch"), 0.0, 0.35),
    ReadoutRule(23, _pair("mouthPress"), 0.15, 0.50),
    ReadoutRule(26, ("jawOpen",), 0.02, 0.80),
    ReadoutRule(43, _pair("eyeBlink"), 0.15, 0.75),
    ReadoutRule(45, _pair("eyeBlink"), 0.15, 0.75),
)}

#: AUs the tool knows but the blendshape model cannot see (reported as NaN), and why.
NOT_ESTIMATED: dict[int, str] = {
    6: "cheekSquint stays at 0 even on broad smiles",
    9: "noseSneer stays at 0 on every face measured",
    25: "no blendshape of its own (jawOpen is AU 26)",
}

#: AUs whose shape the model reads reliably (the others are weak or face-biased, see above):
#: only these count as another AU's off-target movement.
RELIABLE_AUS: tuple[int, ...] = (1, 2, 4, 5, 12, 15, 20, 26, 43)

#: How a change within one face (an edit against its source, a frame against a reference
#: frame) is read, per AU: from the mesh where the blendshape model misses real expressions
#: (AU 5 and 15, :mod:`.landmark_readout`), from the blendshape scores otherwise.
CHANGE_RULES: dict[int, ReadoutRule | LandmarkRule] = {**READOUT_RULES, **LANDMARK_RULES}

#: Every AU in a read-out, in order.
READOUT_AUS: tuple[int, ...] = tuple(sorted({*READOUT_RULES, *NOT_ESTIMATED}))


def au_scores(scores: Mapping[str, float]) -> dict[int, float]:
    """The raw blendshape score (0..1) behind each estimated AU."""
    return {au: rule.score(scores) for au, rule in READOUT_RULES.items()}


def au_intensities(scores: Mapping[str, float]) -> dict[int, float]:
    """Intensity 0..5 per AU of :data:`READOUT_AUS`; NaN for those in :data:`NOT_ESTIMATED`."""
    out = {au: math.nan for au in READOUT_AUS}
    for au, rule in READOUT_RULES.items():
        out[au] = rule.intensity(rule.score(scores))
    return out
