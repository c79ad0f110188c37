"""Combine AU and speech-mouth controls into landmark displacements for one face.

The per-AU fields, their magnitudes and the intensity response are tabulated in one place,
the docstring of :mod:`fgemotalk_cli.engines.warp.au_fields`. This module adds them up, soft-clips
the sum, runs the closures (eyes closing, lips pressing) and rotates the result into the
head's pose:

    geometry = AUGeometry.from_landmarks(source_landmarks)
    pixels = geometry.displacements({12: 4, 6: 2})          # (478, 2), image pixels
    target = geometry.target_points({26: 5}, MouthShape(closure=0.3))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.articulation import SpeechJaw, midline_gap
from fgemotalk_cli.engines.warp.au_fields import (
    JAW_MAX_RADIANS,
    au_fields,
    jaw_field,
    speech_fields,
)
from fgemotalk_cli.engines.warp.regions import EyeRegion, FaceRegions
from fgemotalk_cli.errors import AUError
from fgemotalk_cli.speech.visemes import MouthShape

SUPPORTED_WARP_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 12, 15, 17, 20, 23, 25, 26, 43, 45)
MAX_INTENSITY = 5.0
_RESPONSE_INTENSITIES = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
_RESPONSE_SHARES = (0.0, 0.07, 0.25, 0.55, 0.82, 1.0)  # FACS A..E, see intensity_response
_SOFT_CLIP_HEADROOM = 1.3
_LOWER_LID_SHARE = 0.15  # how far the lower lid rises to meet a closing upper lid
_TEETH_SHOW = 0.035  # face units of upper teeth left visible above the lower lip for F/V
_JAW_LIMIT = 1.15  # AU 26 and jaw_open together open at most this much more than either
_MIN_LIP_SHARE = 0.4  # of the source's own lip height that every expression keeps


def intensity_response(intensity: float) -> float:
    """Share of the intensity-5 field applied at ``intensity``: monotonic, 0 -> 0, 5 -> 1.

    The FACS letter grades are not evenly spaced: A (trace) and E (maximum) are narrow bands
    at the ends, C (marked) the widest in the middle. Each whole intensity maps to about the
    middle of its grade's band (E to the full field) and fractions interpolate between them.
    """
    return float(np.interp(float(np.clip(intensity, 0.0, MAX_INTENSITY)),
                           _RESPONSE_INTENSITIES, _RESPONSE_SHARES))


#: Share of each AU's intensity-5 field at intensities 0..5, for faces in general: the FACS
#: grade curve of :func:`intensity_response` times a gain, measured with the blendshape read-out
#: over the shared portraits (``bench/au_calibration.py``) so that intensity k reads about k.
#: A per-face closed loop (:mod:`fgemotalk_cli.engines.warp.calibration`) refines it.
#: Medians of the per-face tables over the 15 shared portraits (2026-12-01, after the AU 2,
#: 5, 15 and 20 fields were reshaped); AUs the model cannot read (6, 9, 23, 25) or reads with
#: a face-dependent bias (7) keep the FACS
#: curve. Where the loop finds the model confusing AU 15 and AU 20 on a face (it reads the
#: same corners), that face falls back to this table.
GENERAL_RESPONSE: dict[int, tuple[float, ...]] = {
    # AU 1's field lifts the brow's medial half with its inner end since 2026-12-01 (part 5f):
    # the per-face median (solved without the bound below it) fell from 1.55 to 1.17 at 5.
    1: (0.00, 0.12, 0.24, 0.39, 0.62, 1.17),
    2: (0.00, 0.09, 0.30, 0.58, 0.86, 1.80),
    4: (0.00, 0.48, 0.96, 1.39, 1.71, 2.12),
    # AU 5 is geometric, the same lid rise on every face (not calibrated: on our rendered
    # eyes the landmarker follows about a third of the lid's move, and the loop that
    # followed it raised the lid 2.3 to 4 times as far as real wide eyes do, a white dome
    # over the iris). d7's strongest real wide eyes (frames 134-146) raise the upper lid
    # 0.035 IOD above its rest (FaceMesh on the real frames); the field raises it 0.056-0.06
    # IOD per unit share (s42, obama, sadtalker_sad), so 5 (FACS E, a little past d7's)
    # takes 0.9 of it: 0.05 IOD; 1 (a trace) 0.017 IOD, a pixel or two on a portrait.
    5: (0.00, 0.30, 0.50, 0.66, 0.79, 0.90),
    10: (0.00, 0.79, 1.00, 1.35, 1.58, 1.90),
    12: (0.00, 0.46, 0.63, 0.80, 1.33, 2.12),
    # AU 15 read from the mesh (lip corners below the lips, :mod:`~fgemotalk_cli.expression.
    # landmark_readout`): it sees small frowns sooner than mouthFrown did. Since AU 15 holds
    # the lower lip up (0.045, part 6h) the per-face median is (0.28, 0.45, 0.61, 0.82, 0.95);
    # 5 stays above it for the faces whose corners the landmarker does not follow (they fall
    # back to this table), but at 1.9 the bend is a horseshoe on small mouths (s7) and a
    # face's floor (half of this at 5) drove s7 into the share that reads as an open mouth.
    15: (0.00, 0.30, 0.50, 0.75, 1.05, 1.40),
    17: (0.00, 0.59, 1.14, 1.48, 1.86, 2.60),
    20: (0.00, 0.37, 0.69, 0.98, 1.14, 1.32),
    # The per-face median after the jaw's knee counted AU 26 at its largest share (its own
    # per-face bound, 1.8 = 27 degrees, is where the median of the faces with room lands).
    26: (0.00, 0.14, 0.40, 0.68, 1.08, 1.80),
    # Eye closure is a fraction of the opening (1 = closed); measured close to linear.
    43: (0.00, 0.19, 0.41, 0.66, 0.89, 1.00),
    45: (0.00, 0.19, 0.41, 0.66, 0.89, 1.00),
}


def response_table(gain: float = 1.0) -> tuple[float, ...]:
    """The default response curve (shares at 0..5) scaled by ``gain``."""
    return tuple(gain * share for share in _RESPONSE_SHARES)


def check_warp_aus(au_intensities: Mapping[int, float]) -> None:
    """Raise :class:`AUError` for an AU this engine cannot drive or an intensity out of range."""
    for au, value in au_intensities.items():
        if int(au) not in SUPPORTED_WARP_AUS:
            supported = ", ".join(str(a) for a in SUPPORTED_WARP_AUS)
            raise AUError(f"the warp engine cannot drive AU {au}; it supports {supported}")
        if not np.isfinite(value) or value < 0 or value > MAX_INTENSITY:
            raise AUError(f"AU {au} intensity {value:g} is outside 0..{MAX_INTENSITY:g}")


class AUGeometry:
    """The AU and speech fields of one face (built once per source), combined per frame."""

    def __init__(self, face: np.ndarray, frame: L.FaceFrame,
                 response: Mapping[int, Sequence[float]] | None = None):
        self.face = face
        self.frame = frame
        self.regions = FaceRegions.from_face(face)
        self.au_fields = au_fields(self.regions)
        self.speech_fields = speech_fields(self.regions)
        self._set_response(response or {})
        #: Per AU, the share of its field an *added* intensity gets on this face (1 unless the
        #: face already shows the AU strongly: :meth:`with_headroom`).
        self.headroom: dict[int, float] = {}
        self.visible_iris = tuple(_visible_iris(face, eye) for eye in self.regions.eyes)
        upper_thickness = face[list(L.UPPER_INNER_LIP[1:-1]), 1] - face[
            list(L.UPPER_OUTER_LIP[1:-1]), 1]
        lower_thickness = face[list(L.LOWER_OUTER_LIP[1:-1]), 1] - face[
            list(L.LOWER_INNER_LIP[1:-1]), 1]
        self._min_lip_thickness = (_MIN_LIP_SHARE * np.maximum(upper_thickness, 0.0),
                                   _MIN_LIP_SHARE * np.maximum(lower_thickness, 0.0))
        # A closed mouth's inner contours (and a closed eye's lids) often cross a little as
        # detected; that much crossing is the source's own and no edit should undo it.
        self._source_overlap = tuple(
            np.maximum(face[list(upper), 1] - face[list(lower), 1], 0.0)
            for upper, lower in _CROSSING_PAIRS)
        self.speech_jaw = SpeechJaw.tabulated(self._jaw_gap, self._jaw_limit)

    def _jaw_gap(self, share: float) -> float:
        """The midline lip gap (IOD) with the jaw alone turned by ``share`` of its rotation."""
        moved = self.face + _soft_clip(jaw_field(self.regions, JAW_MAX_RADIANS * share), self.knee)
        return midline_gap(self._keep_order(_uncross(moved, self._source_overlap)))

    def _set_response(self, response: Mapping[int, Sequence[float]]) -> None:
        """Per-AU shares of the field at intensities 0..5 (``GENERAL_RESPONSE`` by default)."""
        self.response = {au: tuple(response.get(au, GENERAL_RESPONSE.get(au, _RESPONSE_SHARES)))
                         for au in (*self.au_fields, 26, 43, 45)}
        magnitudes = [np.linalg.norm(f, axis=1) * max(self.response[au])
                      for au, f in self.au_fields.items()]
        magnitudes += [np.linalg.norm(f, axis=1) for f in self.speech_fields.values()]
        self._jaw_limit = max(_JAW_LIMIT, max(self.response[26]))
        # AU 26 at its largest share is a single control too: without it the knee is the
        # speech jaw's (share 1), and a wider jaw drop saturated at 1.3 of that.
        magnitudes.append(np.linalg.norm(
            jaw_field(self.regions, JAW_MAX_RADIANS * self._jaw_limit), axis=1))
        # The largest move any single control makes at each point (at its largest share):
        # sums beyond it saturate, a single AU at full intensity never does.
        self.knee = np.maximum(np.max(magnitudes, axis=0), 1e-4)

    def with_response(self, response: Mapping[int, Sequence[float]]) -> AUGeometry:
        """A copy of this geometry whose AUs follow ``response`` (shares at 0..5 per AU)."""
        copy = object.__new__(AUGeometry)
        copy.__dict__.update(self.__dict__)
        copy._set_response({**self.response, **response})
        return copy

    def with_headroom(self, headroom: Mapping[int, float]) -> AUGeometry:
        """A copy whose added AUs move ``headroom`` (0..1, per AU) of their field: a face
        already at a broad smile has little room for more, and the full share on top reads
        as a caricature. What `replace` removes of the face's own AU is not scaled, and an AU
        it removes is set again at its full share."""
        copy = object.__new__(AUGeometry)
        copy.__dict__.update(self.__dict__)
        copy.headroom = {**self.headroom, **{int(au): float(v) for au, v in headroom.items()}}
        return copy

    def share(self, au: int, intensity: float) -> float:
        """The share of AU ``au``'s intensity-5 field applied at ``intensity``."""
        return float(np.interp(float(np.clip(intensity, 0.0, MAX_INTENSITY)),
                               _RESPONSE_INTENSITIES, self.response[int(au)]))

    @classmethod
    def from_landmarks(cls, landmarks: object) -> AUGeometry:
        points = L.as_points(landmarks)
        frame = L.face_frame(points)
        return cls(frame.to_face(points), frame)

    def offsets(self, au_intensities: Mapping[int, float], mouth: MouthShape | None = None,
                base: np.ndarray | None = None,
                removed_shares: Mapping[int, float] | None = None) -> np.ndarray:
        """(478, 3) face-unit displacements of ``base`` (default: this face) for the controls.

        ``removed_shares`` takes field shares away again (per AU; negative gives them back):
        what `replace` uses to cancel an AU that ``base`` already shows (a driver's smile)
        before setting its own value. Eye closures cannot be removed.
        """
        check_warp_aus(au_intensities)
        base = self.face if base is None else base
        # A speech mouth asks for an opening of the face (articulation), not on top of the
        # photo's own; without one the jaw stays where the photo has it.
        speech_jaw = 0.0 if mouth is None else self.speech_jaw.share(mouth.jaw_open)
        mouth = (mouth or MouthShape()).clipped()
        removed_shares = removed_shares or {}
        total = np.zeros_like(self.face)
        for au, intensity in au_intensities.items():
            if int(au) in self.au_fields and intensity > 0:
                # An AU `replace` takes away first has all its room again.
                room = 1.0 if int(au) in removed_shares else self.headroom.get(int(au), 1.0)
                total += self.share(au, intensity) * room * self.au_fields[int(au)]
        # What `replace` takes away is not soft-clipped: it must cancel exactly what is there.
        removed = np.zeros_like(self.face)
        for au, share in removed_shares.items():
            if int(au) in self.au_fields:
                removed += share * self.au_fields[int(au)]
        if mouth.lip_width > 0:
            total += mouth.lip_width * self.speech_fields["widen"]
        elif mouth.lip_width < 0:
            total -= mouth.lip_width * self.speech_fields["narrow"]
        total += mouth.rounding * self.speech_fields["rounding"]
        total += mouth.lip_to_teeth * self.speech_fields["lip_to_teeth"]
        jaw = self.share(26, au_intensities.get(26, 0.0)) + speech_jaw
        jaw -= removed_shares.get(26, 0.0)  # negative: a driver's open jaw closes again
        if jaw != 0:
            total += jaw_field(self.regions, JAW_MAX_RADIANS * min(jaw, self._jaw_limit))
        positions = base + _soft_clip(total, self.knee) - removed

        closed = 1 - np.prod([1 - min(self.share(au, au_intensities.get(au, 0.0)), 1.0)
                              for au in (43, 45)])
        if closed > 0:
            positions = self._close_eyes(positions, float(closed))
        if mouth.closure > 0:
            positions = self._pull_lips(positions, mouth.closure, meet=0.5, gap=0.0)
        if mouth.lip_to_teeth > 0:
            positions = self._pull_lips(positions, mouth.lip_to_teeth, meet=0.0, gap=_TEETH_SHOW)
        return self._keep_order(_uncross(positions, self._source_overlap)) - base

    def displacements(self, au_intensities: Mapping[int, float],
                      mouth: MouthShape | None = None,
                      frame: L.FaceFrame | None = None) -> np.ndarray:
        """(478, 2) image-pixel displacements, rotated into ``frame`` (default: this face's)."""
        return (frame or self.frame).offsets_to_image(self.offsets(au_intensities, mouth))

    def target_points(self, au_intensities: Mapping[int, float],
                      mouth: MouthShape | None = None,
                      frame: L.FaceFrame | None = None) -> np.ndarray:
        """(478, 3) image positions (x, y, depth) of this face with the controls applied in
        ``frame`` (default: this face's own pose)."""
        frame = frame or self.frame
        return frame.to_image(self.face + self.offsets(au_intensities, mouth))

    def _keep_order(self, positions: np.ndarray) -> np.ndarray:
        """Iris points seen between the lids in the source stay between them, so a closing
        lid folds the eye opening away instead of leaving a sliver of white below it; and
        each lip keeps some of its own height, so an expression taken from thinner lips
        cannot turn a lip inside out."""
        out = positions.copy()
        upper_min, lower_min = self._min_lip_thickness
        inner, outer = list(L.UPPER_INNER_LIP[1:-1]), list(L.UPPER_OUTER_LIP[1:-1])
        out[outer, 1] = np.minimum(out[outer, 1], out[inner, 1] - upper_min)
        inner, outer = list(L.LOWER_INNER_LIP[1:-1]), list(L.LOWER_OUTER_LIP[1:-1])
        out[outer, 1] = np.maximum(out[outer, 1], out[inner, 1] + lower_min)
        for eye, iris in zip(self.regions.eyes, self.visible_iris):
            if not iris:
                continue
            upper, lower = list(eye.upper_lid), list(eye.lower_lid)
            u = out[iris, 0]
            top = L.polyline_at(out[upper, 0], out[upper, 1], u)
            bottom = L.polyline_at(out[lower, 0], out[lower, 1], u)
            margin = 0.1 * np.maximum(bottom - top, 0.0)
            out[iris, 1] = np.clip(out[iris, 1], top + margin, np.maximum(bottom - margin,
                                                                          top + margin))
        return out

    def _close_eyes(self, positions: np.ndarray, closed: float) -> np.ndarray:
        """Upper lid margins onto the (slightly rising) lower lids; lid skin follows."""
        out = positions.copy()
        u = self.face[:, 0]
        for eye in self.regions.eyes:
            upper, lower = list(eye.upper_lid), list(eye.lower_lid)
            meet = positions[lower] + _LOWER_LID_SHARE * (positions[upper] - positions[lower])
            out += _spread(u, upper, closed * (meet - positions[upper]), eye.closure_zone)
            out += _spread(u, lower, closed * (meet - positions[lower]), eye.lower_zone)
        return out

    def _pull_lips(self, positions: np.ndarray, amount: float, meet: float,
                   gap: float) -> np.ndarray:
        """Inner lip contours pulled together to meet at ``meet`` of the way from the upper to
        the lower lip (0.5: halfway; 0: the upper lip stays), the lower lip ``gap`` below."""
        upper, lower = list(L.UPPER_INNER_LIP), list(L.LOWER_INNER_LIP)
        target = positions[upper] + meet * (positions[lower] - positions[upper])
        target_lower = target.copy()
        target_lower[:, 1] += gap
        target_lower[[0, -1]] = positions[lower][[0, -1]]
        mouth = self.regions.mouth
        out = positions.copy()
        u = self.face[:, 0]
        if meet > 0.0:
            upper_target = target.copy()
            upper_target[[0, -1]] = positions[upper][[0, -1]]
            out += _spread(u, upper, amount * (upper_target - positions[upper]),
                           mouth.upper_zone)
        return out + _spread(u, lower, amount * (target_lower - positions[lower]),
                             mouth.lower_zone)


def _visible_iris(face: np.ndarray, eye: EyeRegion) -> list[int]:
    iris = L.RIGHT_IRIS if eye.side < 0 else L.LEFT_IRIS
    upper, lower = list(eye.upper_lid), list(eye.lower_lid)
    u, v = face[list(iris), 0], face[list(iris), 1]
    top = L.polyline_at(face[upper, 0], face[upper, 1], u)
    bottom = L.polyline_at(face[lower, 0], face[lower, 1], u)
    share = (v - top) / np.maximum(bottom - top, 1e-6)
    return [i for i, s in zip(iris, share) if 0.12 < s < 0.88]


def _spread(u: np.ndarray, handles: list[int], handle_moves: np.ndarray,
            zone: np.ndarray) -> np.ndarray:
    """Carry moves of handle points (a contour ordered by u) to every point of their zone."""
    order = np.argsort(u[handles])
    handle_u = u[handles][order]
    moves = np.stack([np.interp(u, handle_u, handle_moves[order, k]) for k in range(3)], 1)
    return moves * zone[:, None]


def _soft_clip(total: np.ndarray, knee: np.ndarray) -> np.ndarray:
    magnitude = np.linalg.norm(total, axis=1)
    room = (_SOFT_CLIP_HEADROOM - 1.0) * knee
    clipped = np.where(magnitude > knee, knee + room * np.tanh((magnitude - knee) / room),
                       magnitude)
    return total * (clipped / np.maximum(magnitude, 1e-12))[:, None]


_CROSSING_PAIRS = (
    (L.RIGHT_UPPER_LID, L.RIGHT_LOWER_LID), (L.LEFT_UPPER_LID, L.LEFT_LOWER_LID),
    (L.UPPER_INNER_LIP[1:-1], L.LOWER_INNER_LIP[1:-1]),
)


def _uncross(positions: np.ndarray, allowed: tuple[np.ndarray, ...]) -> np.ndarray:
    """No upper lid or upper inner lip point further below its lower partner than in the
    source (``allowed``): pairs crossed beyond that meet symmetrically."""
    out = positions.copy()
    for (upper, lower), overlap in zip(_CROSSING_PAIRS, allowed):
        upper_v, lower_v = out[list(upper), 1], out[list(lower), 1]
        crossed = upper_v - lower_v > overlap
        middle = (upper_v + lower_v) / 2
        out[list(upper), 1] = np.where(crossed, middle + overlap / 2, upper_v)
        out[list(lower), 1] = np.where(crossed, middle - overlap / 2, lower_v)
    return out


def au_displacements(landmarks: object, au_intensities: Mapping[int, float],
                     mouth: MouthShape | None = None,
                     frame: L.FaceFrame | None = None) -> np.ndarray:
    """(478, 2) pixel displacements of ``landmarks`` for the AU intensities and mouth shape.

    One-off convenience; build an :class:`AUGeometry` once when animating many frames.
    """
    return AUGeometry.from_landmarks(landmarks).displacements(au_intensities, mouth, frame)
