"""Closed-loop AU calibration of one source face: intensity k reads about k on every face.

The AU fields (:mod:`.au_fields`) are geometric guesses; how strongly an independent observer
sees them depends on the face (brow shape, eye opening, lip fullness, resolution). For each
AU a job asks for, the first time it asks (:class:`FaceCalibrator`, the engine's default
``auto``; ``full`` solves every AU at prepare time), the AU's field is rendered at a few
strengths on a small crop of the face and read back by the landmarker: its blendshape scores,
and for AU 15 its mesh against the unedited crop (``CHANGE_RULES`` of
:mod:`fgemotalk_cli.expression.readout`). AU 5 is not calibrated: its table is a lid rise
measured on real wide eyes (``GENERAL_RESPONSE`` of :mod:`.au_geometry`), because on rendered
eyes the landmarker follows a third of the lid's move. The measured change against strength gives,
by monotone interpolation, the strength whose change matches the calibration curve: the
change a real face shows going from rest to k (``rule.change_at(k)``), where 5 is what real
strong expressions reach.

Bounds keep it sane: strengths stay within :data:`PROBE_SHARES` (at most 2.6 times the
designed field, less where :data:`MAX_SHARE` says the face breaks), within
:data:`MAX_GAIN_OVER_GENERAL` of the general table at every intensity (:func:`upper_bound`;
the model's dead zone for small moves would otherwise buy a read-out of 1 with a marked
movement, and identity with it), and at 5 at least :data:`MIN_GAIN_UNDER_GENERAL` of the
general table's 5 (a face read through an unlucky framing would otherwise get a trace for its
strongest intensity); a strength whose off-target movement (another reliably read AU rising)
is more than half its own change is not used; an AU the model does not see move on this face,
or sees only as another AU (no usable strength reads above the noise), keeps the general
table.
Cost: 5 to 7 renders and reads per AU on the face scaled to an 80 px eye distance, about
0.15-0.2 s per AU (plus about 0.2 s to start the read-out once per process).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from fgemotalk_cli.engines.warp.au_geometry import GENERAL_RESPONSE, AUGeometry, response_table
from fgemotalk_cli.engines.warp.render import WarpSource, prepare_source, render_warp
from fgemotalk_cli.expression.blendshapes import BlendshapeFace, BlendshapeReader
from fgemotalk_cli.expression.readout import (
    CHANGE_RULES,
    READOUT_RULES,
    RELIABLE_AUS,
    au_intensities,
)

#: How a warp engine calibrates its sources: each AU when a job first asks for it (``auto``),
#: every AU at prepare time (``full``), or not at all (``off``: the general table).
CalibrationMode = Literal["off", "auto", "full"]
#: Strengths (share of the designed intensity-5 field) rendered per AU.
PROBE_SHARES = (0.3, 0.6, 1.2, 1.9, 2.6)
#: Largest strength per AU where the default (the last probe) would break the face, chosen
#: by looking at strength sheets of several portraits: past these the outer brows arch into
#: a V (AU 2), the lips thin to a line (AU 12); the jaw
#: turns 15 degrees per unit, up to 27 (AU 26: d18's real yawn, jawOpen 0.86, looks like 1.6
#: to 1.8 on the sheets, and past 2 the mouth becomes a cavern), and eye closure cannot pass
#: fully closed.
MAX_SHARE = {1: 2.2, 2: 1.8, 7: 1.6, 12: 2.2, 26: 1.8, 43: 1.0}
#: AUs whose reading of a single photo is unbiased enough to say the face already shows them
#: (AU 4 rests high on heavy brows; eye closure is absolute). One of those that the source
#: reads above ROOM_FROM and whose strongest probe reads less than SATURATED_GAIN more is
#: saturated on this face (a broad smile cannot read broader): an added intensity then gets
#: only the room left to 5 of its field, at least MIN_ROOM; the full share on top of a broad
#: smile is a caricature. Not AU 5 and 15: their change is read from the mesh, which has no
#: ceiling (:func:`~fgemotalk_cli.evaluation.au_readout_study.has_room`), and the scores that
#: read a single photo of them are the unreliable ones (eyeWide reads s7's cartoon eyes, which
#: show no white above the iris, as 5: at a quarter of the field AU 5 at 5 left them as they
#: were; with the whole field they stare).
ROOM_AUS = (1, 2, 12, 20, 26)
ROOM_FROM = 2.5
SATURATED_GAIN = 2.0
MIN_ROOM = 0.25
#: How far one face's table may rise above the general table, at any intensity.
MAX_GAIN_OVER_GENERAL = 1.5
#: AUs whose bound follows the general table's intensity 5 along the square of the intensity
#: where that is above the general table itself (as the lift at 5 below grows). The brow
#: raises' general tables are medians over two kinds of face, brows resting raised (read from
#: 0.3 of the field) and low brows (the read-out's dead zone: from 0.9), so their 4 lies far
#: below their 5 (AU 1: 0.62 against 1.17); 1.5 times that capped a low-browed face's 4 at
#: 0.93 where it reads 4 at 1.0-1.6, and AU 1 at 4 read 3 there. The square leaves
#: intensities 1 and 2 bounded as before (a trace stays slight) and intensity 5 keeps its
#: bound.
SQUARED_BOUND_AUS = (1, 2)
#: How far below the general table's intensity 5 one face's may fall.
MIN_GAIN_UNDER_GENERAL = 0.5
#: AUs calibrated (45 reads and moves as 43). Not AU 5, whose table is geometric (see
#: ``GENERAL_RESPONSE`` in :mod:`.au_geometry`).
CALIBRATED_AUS = (1, 2, 4, 7, 10, 12, 15, 17, 20, 23, 26, 43)
#: The calibration crop's inter-ocular distance in pixels.
CROP_IOD_PX = 80.0
INTENSITIES = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)


@dataclass(frozen=True)
class AUCalibration:
    """Shares of each AU's designed field at intensities 0..5, and what was measured."""

    response: dict[int, tuple[float, ...]]
    probe_changes: dict[int, tuple[float, ...]]  # target score change at each probe share
    notes: tuple[str, ...] = ()
    source_aus: dict[int, float] = field(default_factory=dict)  # read-out of the source itself


def calibration_crop(source: WarpSource) -> WarpSource:
    """The source around its face (3 face sizes wide: the read-out depends on the framing, and
    this keeps a portrait whole) scaled to an inter-ocular distance of ``CROP_IOD_PX``."""
    import cv2

    frame = source.geometry.frame
    scale = min(1.0, CROP_IOD_PX / frame.iod_px)
    points = source.points[:, :2]
    centre = points.mean(axis=0)
    half = 3.0 * float(np.max(points.max(axis=0) - points.min(axis=0))) / 2
    height, width = source.image.shape[:2]
    x0, y0 = (max(int(c - half), 0) for c in centre)
    x1, y1 = min(int(centre[0] + half), width), min(int(centre[1] + half), height)
    crop = source.image[y0:y1, x0:x1]
    size = (max(int(round((x1 - x0) * scale)), 16), max(int(round((y1 - y0) * scale)), 16))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    moved = source.points.astype(np.float64).copy()
    moved[:, 0] = (moved[:, 0] - x0) * size[0] / (x1 - x0)
    moved[:, 1] = (moved[:, 1] - y0) * size[1] / (y1 - y0)
    moved[:, 2] *= size[0] / (x1 - x0)
    return prepare_source(np.ascontiguousarray(small), moved.astype(np.float32))


def _render(source: WarpSource, geometry: AUGeometry, au: int) -> np.ndarray:
    face = geometry.face + geometry.offsets({au: 5.0})
    return render_warp(replace(source, geometry=geometry), geometry.frame.to_image(face))


def _rise_share(au: int, before: BlendshapeFace, after: BlendshapeFace) -> float:
    rule = CHANGE_RULES[au]
    change = rule.signal(after) - rule.signal(before)
    return max(change - rule.noise, 0.0) / rule.change_span


@dataclass
class _Probe:
    """Renders of one AU at chosen strengths on the crop, read back (private, mutable)."""

    crop: WarpSource
    reader: BlendshapeReader
    base: BlendshapeFace
    au: int
    shares: list[float] = field(default_factory=lambda: [0.0])
    changes: list[float] = field(default_factory=lambda: [0.0])
    usable: list[float] = field(default_factory=lambda: [0.0])

    def render(self, share: float) -> np.ndarray:
        """The crop with this AU at 5 drawn at ``share`` of its designed field."""
        linear = tuple(share * k / 5.0 for k in INTENSITIES)
        return _render(self.crop, self.crop.geometry.with_response({self.au: linear}), self.au)

    def measure_all(self, shares: Sequence[float]) -> None:
        """:meth:`measure` each share in turn, each next one rendered on a thread while this
        one is read (the warp and the read-out model both let go of the GIL while they
        work): the same renders read in the same order, about a fifth sooner."""
        with ThreadPoolExecutor(1, thread_name_prefix="fgemotalk-probes") as renders:
            for share, rendered in zip(shares, [renders.submit(self.render, share)
                                                for share in shares]):
                self.measure(share, rendered.result())

    def measure(self, share: float, rendered: np.ndarray | None = None) -> None:
        rule = CHANGE_RULES[self.au]
        read = self.reader.read(self.render(share) if rendered is None else rendered)
        change = 0.0 if read is None else rule.signal(read) - rule.signal(self.base)
        self.shares.append(share)
        self.changes.append(change)
        if read is None:
            return
        off = max((_rise_share(other, self.base, read) for other in RELIABLE_AUS
                   if other != self.au and {self.au, other} != {43, 45}), default=0.0)
        if off <= 0.5 * max(change, 0.0) / rule.change_span + 1e-9:
            self.usable.append(share)

    def reads_alone(self) -> bool:
        """Whether some usable strength (its off-target movement at most half its own) reads
        above the read-out's noise. Where only strengths within the noise are usable (d19's
        open mouth: every stretch that reads as AU 20 also reads as a smile), solving on them
        would take a strength that reads nothing for intensity 5: AU 20 at 0.15 of its field
        on art_20, 0.6 on d19, against 1.3 in the general table."""
        rule = CHANGE_RULES[self.au]
        return any(change >= 2 * rule.noise for share, change in zip(self.shares, self.changes)
                   if share > 0 and share in self.usable)

    def peak(self) -> float:
        """The largest usable strength worth rendering: the first that reads the most. Past
        it the read-out falls on some faces (a move past what the landmarker believes reads
        lower again: s9's AU 5, when it was calibrated, 2.3 at 1.5, 1.2 at 2.0), and the
        monotone response below would otherwise carry intensity 5 out to the last, weaker
        strength."""
        if self.au in (43, 45):  # eye closure at 5 is a closed eye, whatever reads then
            return float(max(self.usable))
        usable = [(share, change) for share, change in zip(self.shares, self.changes)
                  if share > 0 and share in self.usable]
        best = max(change for _, change in usable)
        return float(min(share for share, change in usable if change >= best))

    def solve(self, fallback_top: float) -> tuple[float, ...]:
        """Shares at intensities 0..5 whose change follows the calibration curve."""
        rule = CHANGE_RULES[self.au]
        order = np.argsort(self.shares, kind="stable")
        shares = np.asarray(self.shares)[order]
        changes = np.maximum.accumulate(np.asarray(self.changes)[order])  # monotone response
        # Strictly increasing x for interp. A flat stretch (the model's dead zone for small
        # moves) takes its last strength: the next rise starts from there.
        x = np.unique(changes)
        strength = [shares[changes == value].max() for value in x]
        top = self.peak() if len(self.usable) > 1 else fallback_top
        solved = [0.0] + [min(float(np.interp(rule.change_at(k), x, strength)), top)
                          for k in INTENSITIES[1:]]
        table = np.maximum.accumulate(solved)
        # Intensities whose target change lies within the read-out's noise cannot be solved
        # (the interpolation lands anywhere in the dead zone): they get shares in proportion
        # to the intensity, up to the first one the model resolves.
        resolved = [k for k in INTENSITIES[1:] if rule.change_at(k) >= 2 * rule.noise]
        first = int(resolved[0]) if resolved else 5
        for k in range(1, first):
            table[k] = table[first] * k / first
        # The model's dead zone for small moves asks for large strengths at low intensities;
        # followed all the way, a slight brow raise on a small face moves the brows as much as
        # a marked one and changes who the face looks like (dlib distance 0.39 for AU 1 at 1.5
        # on the 256 px portraits). So a face's table stays within MAX_GAIN_OVER_GENERAL of
        # the general table at every intensity (:func:`upper_bound`): a bounded correction,
        # not a new curve.
        general = np.asarray(GENERAL_RESPONSE.get(self.au, response_table()))
        table = np.minimum(table, upper_bound(self.au))
        # And intensity 5 takes at least half the general table's: a face that reads 5 with
        # less is read through its framing, not seen (s2, 47 px between the eyes: the crop
        # reads its frown 5 at 0.6 of the field, the whole picture 1.1, and the sheet shows
        # a slight frown there). The lift grows with the square of the intensity, so the
        # table stays smooth and the low intensities keep the face's own curve: a face that
        # truly reads strongly (s12's frown, 4.9 in either framing at 0.8) would over-read
        # at 1 if they were lifted as much (2.6 instead of 1.4).
        lift = max(MIN_GAIN_UNDER_GENERAL * general[-1] - table[-1], 0.0)
        table = table + lift * (np.asarray(INTENSITIES) / INTENSITIES[-1]) ** 2
        return _strictly_rising(table)


def upper_bound(au: int) -> np.ndarray:
    """The largest share one face's table may take at intensities 0..5: MAX_GAIN_OVER_GENERAL
    times the general table, or for :data:`SQUARED_BOUND_AUS` times the larger of the
    general table and its intensity 5 along the square of the intensity."""
    general = np.asarray(GENERAL_RESPONSE.get(au, response_table()), dtype=float)
    if au in SQUARED_BOUND_AUS:
        general = np.maximum(general,
                             general[-1] * (np.asarray(INTENSITIES) / INTENSITIES[-1]) ** 2)
    return MAX_GAIN_OVER_GENERAL * general


def _strictly_rising(table: np.ndarray) -> tuple[float, ...]:
    """Where the bound flattened the top of a table (the intensities within a tenth of the
    top), spread those evenly up to the bound, so that every whole intensity still moves
    visibly more than the one below."""
    table = np.asarray(table, dtype=float).copy()
    top = table[-1]
    capped = int(np.argmax(table >= 0.9 * top - 1e-9))
    if 0 < capped < len(table) - 1:
        table[capped:] = np.linspace(table[capped - 1], top, len(table) - capped + 1)[1:]
    return tuple(float(v) for v in table)


class FaceCalibrator:
    """The closed loop of one source, solved AU by AU when an AU is first asked for.

    Built once per source (one read of the crop); :meth:`solve` renders and reads only the AUs
    not solved yet, so an edit with one AU pays for that AU alone (about 0.15 s).
    """

    def __init__(self, source: WarpSource, reader: BlendshapeReader) -> None:
        self.crop = calibration_crop(source)
        self.reader = reader
        self.base = reader.read(self.crop.image)
        self.base_scores = None if self.base is None else self.base.scores
        self.response: dict[int, tuple[float, ...]] = {}
        self.probe_changes: dict[int, tuple[float, ...]] = {}
        self.notes: list[str] = []
        self._tried: set[int] = set()
        self._headroom: dict[int, float] = {}
        if self.base is None:
            self.notes.append("calibration: the read-out found no face; general table")

    @property
    def source_aus(self) -> dict[int, float]:
        """The read-out of the source itself (finite AUs only; empty without a face)."""
        if self.base_scores is None:
            return {}
        return {au: v for au, v in au_intensities(self.base_scores).items() if np.isfinite(v)}

    @property
    def headroom(self) -> dict[int, float]:
        """Per AU found saturated on this face (see :data:`ROOM_AUS`), the share of an added
        intensity's field left to it."""
        return dict(self._headroom)

    @property
    def tried(self) -> frozenset[int]:
        """The AUs solved so far, or found unreadable on this face (45 goes with 43)."""
        return frozenset(self._tried | ({45} if 43 in self._tried else set()))

    def solve(self, aus: Iterable[int]) -> dict[int, tuple[float, ...]]:
        """Solve the tables of those ``aus`` not tried yet; returns the new tables (45 follows
        43), empty when nothing new could be solved."""
        wanted = sorted({43 if au == 45 else int(au) for au in aus} & set(CALIBRATED_AUS)
                        - self._tried)
        self._tried.update(wanted)
        if self.base_scores is None:
            return {}
        new = {}
        for au in wanted:
            table = self._solve_one(au)
            if table is not None:
                new[au] = table
        if 43 in new:
            new[45] = new[43]
        self.response.update(new)
        return new

    def _solve_one(self, au: int) -> tuple[float, ...] | None:
        assert self.base is not None and self.base_scores is not None
        limit = MAX_SHARE.get(au, PROBE_SHARES[-1])
        probe = _Probe(self.crop, self.reader, self.base, au)
        probe.measure_all([share * limit / PROBE_SHARES[-1] for share in PROBE_SHARES])
        self.probe_changes[au] = tuple(probe.changes[1:])
        # How far the face already shows the AU: a single photo, so from the scores.
        reading = READOUT_RULES[au].intensity(READOUT_RULES[au].score(self.base_scores))
        rule = CHANGE_RULES[au]
        if (au in ROOM_AUS and reading > ROOM_FROM
                and max(probe.changes) < rule.change_at(SATURATED_GAIN)):
            self._headroom[au] = max((5.0 - reading) / (5.0 - ROOM_FROM), MIN_ROOM)
            self.notes.append(f"calibration: the face already shows AU{au} at {reading:.1f}; "
                              f"added intensities get {self._headroom[au]:.0%} of the field")
            return None
        if max(probe.changes) < 2 * rule.noise:
            self.notes.append(f"calibration: AU{au} barely reads on this face; general table")
            return None
        # Eye closure at 5 is a closed eye by definition, whatever else the model reads then.
        if au == 43:
            probe.usable.append(limit)
        if not probe.reads_alone():
            # Every strength that reads moved another AU more than half as much: the model
            # confuses the two on this face (15 and 20 read each other's corners, a stretched
            # open mouth reads as a smile), so its own change says nothing the general table
            # does not.
            self.notes.append(f"calibration: AU{au} reads as another AU on this face; "
                              "general table")
            return None
        fallback_top = float(max(probe.usable))
        table = probe.solve(fallback_top)
        # The response is strongly convex near 0 (dead zone), so linear interpolation
        # between probes misjudges the low intensities: render the solved strengths of
        # intensities 1 and 3 once more and solve again with those samples.
        for k in (1, 3):
            if 0.0 < table[k] < limit and table[k] not in probe.shares:
                probe.measure(table[k])
        return probe.solve(fallback_top)


def calibrate(source: WarpSource, reader: BlendshapeReader,
              aus: Iterable[int] = CALIBRATED_AUS) -> AUCalibration:
    """Solve the response tables of ``aus`` (default: every calibrated AU) on ``source``."""
    calibrator = FaceCalibrator(source, reader)
    calibrator.solve(aus)
    return AUCalibration(dict(calibrator.response), dict(calibrator.probe_changes),
                         tuple(calibrator.notes), calibrator.source_aus)


def calibrated_source(source: WarpSource, reader: BlendshapeReader) -> tuple[WarpSource,
                                                                            AUCalibration]:
    """``source`` with its geometry following its own calibrated response tables."""
    calibration = calibrate(source, reader)
    if not calibration.response:
        return source, calibration
    geometry = source.geometry.with_response(calibration.response)
    return replace(source, geometry=geometry), calibration

