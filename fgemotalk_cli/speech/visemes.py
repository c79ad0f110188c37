"""Phones to visemes to mouth controls, with coarticulation.

Visemes: the 15 of the MPEG-4 face animation convention as used by Oculus Lipsync
(sil PP FF TH DD kk CH SS nn RR aa E ih oh ou). Each has a target for five mouth controls:

- ``jaw_open`` 0..1: how wide the jaw opens, as a lip gap asked of the face (the warp
  engine: 0.40 inter-ocular distances at 1, whatever the photo's own mouth shows)
- ``lip_width`` -1..1: negative narrow and pushed forward, positive stretched
- ``rounding`` 0..1
- ``closure`` 0..1: lips touching; P, B and M must reach 1
- ``lip_to_teeth`` 0..1: lower lip against the upper teeth (F, V)

Coarticulation follows the dominance model of Cohen & Massaro (1993, "Modeling
coarticulation in synthetic visual speech"): every phone pulls each control towards its
target with a weight that decays exponentially with the time from the phone, faster after it
than before it, and a control's value is the weight-averaged target. Phones that barely use
the lips (K, T, N, HH) have weak lip weights, so the lips keep the shape of the vowels around
them; rounding is anticipated far ahead, as lips round during the consonants before an
"oo". Short bilabials must still show, so P/B/M closure is then enforced on at least one
frame (a constraint the original model does not have). [paper: Cohen & Massaro; ours]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np

from fgemotalk_cli.errors import AUError

CONTROL_NAMES = ("jaw_open", "lip_width", "rounding", "closure", "lip_to_teeth")
JAW, WIDTH, ROUNDING, CLOSURE, TEETH = range(len(CONTROL_NAMES))
REST = np.array([0.0, 0.0, 0.0, 1.0, 0.0])  # silence: mouth closed, relaxed


@dataclass(frozen=True)
class MouthShape:
    """Speech mouth controls for one frame, each 0..1 except ``lip_width`` (-1..1); how an
    engine shows them is its own business (the warp engine's fields: ``engines/warp/au_fields``)."""

    jaw_open: float = 0.0
    lip_width: float = 0.0  # -1 narrow .. +1 stretched
    rounding: float = 0.0
    closure: float = 0.0
    lip_to_teeth: float = 0.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> MouthShape:
        names = {f.name for f in fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise AUError(f"unknown mouth controls {sorted(unknown)}; known: {sorted(names)}")
        return cls(**{name: float(value) for name, value in values.items()}).clipped()

    def clipped(self) -> MouthShape:
        return MouthShape(
            jaw_open=float(np.clip(self.jaw_open, 0, 1)),
            lip_width=float(np.clip(self.lip_width, -1, 1)),
            rounding=float(np.clip(self.rounding, 0, 1)),
            closure=float(np.clip(self.closure, 0, 1)),
            lip_to_teeth=float(np.clip(self.lip_to_teeth, 0, 1)),
        )


class TimedPhone(Protocol):
    """A phone with its times in seconds, read-only (a frozen ``PhoneSegment`` fits)."""

    @property
    def phone(self) -> str: ...

    @property
    def start_s(self) -> float: ...

    @property
    def end_s(self) -> float: ...


@dataclass(frozen=True)
class Viseme:
    """Targets for the five controls, and how strongly this viseme holds each one."""

    targets: tuple[float, float, float, float, float]
    strengths: tuple[float, float, float, float, float] = (1.0, 1.0, 1.0, 1.0, 1.0)


# fmt: off
#                         jaw   width  round  close  teeth
VISEMES: dict[str, Viseme] = {
    "sil": Viseme((0.00, 0.00, 0.00, 1.00, 0.00)),
    "PP": Viseme((0.03, 0.00, 0.00, 1.00, 0.00), (4.0, 0.3, 0.3, 8.0, 1.0)),
    "FF": Viseme((0.12, 0.10, 0.00, 0.00, 1.00), (2.0, 0.3, 0.3, 1.0, 8.0)),
    "TH": Viseme((0.22, 0.15, 0.00, 0.00, 0.00), (0.6, 0.2, 0.2, 1.0, 1.0)),
    "DD": Viseme((0.22, 0.15, 0.00, 0.00, 0.00), (0.6, 0.2, 0.2, 1.0, 1.0)),
    "kk": Viseme((0.30, 0.10, 0.00, 0.00, 0.00), (0.5, 0.15, 0.15, 1.0, 1.0)),
    "CH": Viseme((0.15, -0.45, 0.55, 0.00, 0.00), (1.0, 1.5, 1.5, 1.0, 1.0)),
    "SS": Viseme((0.08, 0.35, 0.00, 0.00, 0.00), (1.5, 0.5, 0.3, 1.0, 1.0)),
    "nn": Viseme((0.20, 0.12, 0.00, 0.00, 0.00), (0.6, 0.2, 0.2, 1.0, 1.0)),
    "RR": Viseme((0.22, -0.35, 0.45, 0.00, 0.00), (1.0, 1.0, 1.0, 1.0, 1.0)),
    "aa": Viseme((0.85, 0.05, 0.00, 0.00, 0.00), (1.5, 1.0, 1.0, 1.0, 1.0)),
    "E": Viseme((0.50, 0.45, 0.00, 0.00, 0.00), (1.5, 1.0, 1.0, 1.0, 1.0)),
    "ih": Viseme((0.22, 0.70, 0.00, 0.00, 0.00), (1.5, 1.0, 1.0, 1.0, 1.0)),
    "oh": Viseme((0.55, -0.45, 0.65, 0.00, 0.00), (1.5, 1.5, 1.5, 1.0, 1.0)),
    "ou": Viseme((0.18, -0.85, 0.90, 0.00, 0.00), (1.5, 3.0, 3.0, 1.0, 1.0)),
}

# ARPAbet (CMUdict's 39 phones) to visemes; diphthongs glide from a first to a second viseme.
PHONE_VISEMES: dict[str, tuple[str, ...]] = {
    "SIL": ("sil",),
    "P": ("PP",), "B": ("PP",), "M": ("PP",),
    "F": ("FF",), "V": ("FF",),
    "TH": ("TH",), "DH": ("TH",),
    "T": ("DD",), "D": ("DD",),
    "K": ("kk",), "G": ("kk",), "NG": ("kk",), "HH": ("kk",),
    "CH": ("CH",), "JH": ("CH",), "SH": ("CH",), "ZH": ("CH",),
    "S": ("SS",), "Z": ("SS",),
    "N": ("nn",), "L": ("nn",),
    "R": ("RR",), "ER": ("RR",),
    "AA": ("aa",), "AH": ("aa",), "AE": ("E",), "EH": ("E",),
    "IH": ("ih",), "IY": ("ih",), "Y": ("ih",),
    "AO": ("oh",), "UH": ("ou",), "UW": ("ou",), "W": ("ou",),
    "AY": ("aa", "ih"), "AW": ("aa", "ou"), "OY": ("oh", "ih"), "EY": ("E", "ih"),
    "OW": ("oh", "ou"),
}
# fmt: on
# Phones sharing a viseme but opening the jaw more or less than its target.
_JAW_SCALE = {"AH": 0.7, "AE": 1.4, "IH": 1.3, "UH": 1.5}

# Decay rates (1/s) of the dominance before (anticipation) and after (carry-over) a phone.
_ANTICIPATION_RATE = np.array([30.0, 25.0, 10.0, 40.0, 40.0])
_CARRYOVER_RATE = np.array([35.0, 30.0, 20.0, 45.0, 45.0])
_REACH_S = 0.5  # beyond this the weights are negligible (e^-5 for rounding)
_EDGE_S = 0.02  # a phone holds full weight up to this close to its edges


def phone_visemes(phone: str) -> tuple[str, ...]:
    """Viseme(s) of an ARPAbet phone; unknown symbols are treated as a neutral mid vowel."""
    return PHONE_VISEMES.get(phone.rstrip("012").upper(), ("aa",))


def mouth_controls(phones: Sequence[TimedPhone], times_s: np.ndarray) -> np.ndarray:
    """Mouth controls (len(times_s), 5) in `CONTROL_NAMES` order at the given times."""
    times = np.asarray(times_s, dtype=np.float64)
    # A whisper of rest everywhere keeps the average defined where no phone reaches.
    numerator = np.tile(REST * 1e-6, (len(times), 1))
    denominator = np.full((len(times), len(CONTROL_NAMES)), 1e-6)
    for viseme_name, jaw_scale, start, end in _viseme_targets(phones):
        viseme = VISEMES[viseme_name]
        centre, half = (start + end) / 2, (end - start) / 2
        first, last = np.searchsorted(times, [start - _REACH_S, end + _REACH_S])
        if first == last:
            continue
        offset = times[first:last] - centre
        distance = np.maximum(np.abs(offset) - max(half - _EDGE_S, 0.0), 0.0)[:, None]
        rate = np.where(offset[:, None] < 0, _ANTICIPATION_RATE, _CARRYOVER_RATE)
        weight = np.asarray(viseme.strengths) * np.exp(-rate * distance)
        target = np.asarray(viseme.targets)
        target = np.concatenate([[min(target[JAW] * jaw_scale, 1.0)], target[1:]])
        numerator[first:last] += weight * target
        denominator[first:last] += weight
    controls = numerator / denominator
    _enforce_contacts(controls, phones, times)
    return controls


def _viseme_targets(phones: Sequence[TimedPhone]) -> list[tuple[str, float, float, float]]:
    """(viseme, jaw scale, start, end) per phone, diphthongs split into two halves."""
    targets = []
    for phone in phones:
        names = phone_visemes(phone.phone)
        jaw_scale = _JAW_SCALE.get(phone.phone.rstrip("012").upper(), 1.0)
        step = (phone.end_s - phone.start_s) / len(names)
        for index, name in enumerate(names):
            start = phone.start_s + index * step
            targets.append((name, jaw_scale, start, start + step))
    return targets


def _enforce_contacts(
    controls: np.ndarray, phones: Sequence[TimedPhone], times: np.ndarray
) -> None:
    """Every P/B/M closes the lips and every F/V touches the teeth on at least one frame.

    Averaging alone can leave a 50 ms "b" between two open vowels half closed, and a
    bilabial that never closes is the lip-sync error viewers notice first.
    """
    if len(times) == 0:
        return
    spacing = float(np.median(np.diff(times))) if len(times) > 1 else np.inf
    for phone in phones:
        visemes = phone_visemes(phone.phone)
        if visemes not in (("PP",), ("FF",)):
            continue
        inside = np.flatnonzero((times >= phone.start_s) & (times < phone.end_s))
        if len(inside) == 0:
            centre = (phone.start_s + phone.end_s) / 2
            nearest = int(np.argmin(np.abs(times - centre)))
            if abs(times[nearest] - centre) > spacing / 2 + (phone.end_s - phone.start_s) / 2:
                continue
            inside = np.array([nearest])
        if visemes == ("PP",):
            controls[inside, CLOSURE] = 1.0
            controls[inside, JAW] = np.minimum(controls[inside, JAW], VISEMES["PP"].targets[JAW])
        else:
            controls[inside, TEETH] = np.maximum(controls[inside, TEETH], 0.9)
            controls[inside, CLOSURE] = 0.0
