"""AU response measured by the blendshape read-out: requested intensity against what it reads.

For every face, AU and intensity the face is edited (``edit_fn``, the engine under test) and
both the edit and the unedited face are read by :mod:`fgemotalk_cli.expression.readout`. A
score change is turned into intensity units (:func:`change_intensity`), so "measured 3"
means "moved as much as a real face moves from rest to intensity 3" (for most AUs: as a
neutral face moves from 0 to 3). Off-target is the largest such *rise* of any other
estimated AU (falls are the same action seen from its antagonist: wider eyes lower the blink
score), counted over the AUs the model reads reliably (:data:`RELIABLE_AUS`) and above the
read-out's own noise between two renders (each rule's ``noise``). AU 5 and 15 are read from
the mesh against the source (:data:`~fgemotalk_cli.expression.readout.CHANGE_RULES`), the
others from the blendshape scores.

Faces with room (:func:`has_room`), one rule for every AU: a face counts in the per-face
minimum and in the mean over faces with room when the read-out can show, above the face's
own rest, the rise that reads 5 (a real strong expression's, ``change_span``). A blendshape
score cannot pass 1, so a face resting at score ``s`` has room when ``s + change_span <= 1``;
a change read from the mesh (AU 5 and 15) has no such ceiling, so every face has room for it.
The rule comes from the ruler alone (its range and its reference), never from what the
engine's renders read. A face that rests with its mouth wide open (liveportrait_d19, d9:
jawOpen 0.87 and 0.78 at rest, where a rise of 0.78 reads 5) or at a broad smile (obama:
mouthSmile 0.94) can read little of an added AU 26 or 12; it counts in the mean over all
faces (the headline figure) but not in the minimum. Faces that rest with raised brows but
below that ceiling (s7, d30: browInnerUp 0.45, 0.37) keep their room: a raise reads on them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fgemotalk_cli.errors import InputError, NoFaceError
from fgemotalk_cli.expression.blendshapes import BlendshapeFace, BlendshapeReader
from fgemotalk_cli.expression.landmark_readout import LandmarkRule
from fgemotalk_cli.expression.readout import (
    CHANGE_RULES,
    READOUT_RULES,
    RELIABLE_AUS,
    ReadoutRule,
)

EditFunction = Callable[[np.ndarray, dict[int, float]], np.ndarray]
#: The range of a blendshape score (a probability): no reading of a face passes 1.
SCORE_CEILING = 1.0
#: AUs read from the same blendshape: one never counts as the other's off-target movement.
SAME_SHAPE = {43: 45, 45: 43}


def change_intensity(rule: ReadoutRule | LandmarkRule, score_change: float) -> float:
    """A score change in intensity units (:meth:`ReadoutRule.change_intensity`): for most
    AUs the intensity a neutral face reads after it."""
    return rule.change_intensity(score_change)


def has_room(au: int, source_score: float) -> bool:
    """Whether the read-out can show AU ``au``'s reference rise (what reads 5) on a face whose
    unedited score is ``source_score``: within a blendshape score's range (a face resting at
    0.9 can rise 0.1 at most), always for a change read from the mesh (no ceiling)."""
    rule = CHANGE_RULES[au]
    if isinstance(rule, LandmarkRule):
        return True
    return source_score + rule.change_span <= SCORE_CEILING


@dataclass(frozen=True)
class ReadoutRow:
    image: str
    au: int
    intensity: float
    source_reading: float  # the AU's intensity on the unedited face
    measured: float  # the AU's change, in intensity units
    off_target: float  # the largest rise of another AU, in intensity units
    off_target_au: int | None
    room: bool = True  # the read-out can show the AU's reference rise on it (has_room)


@dataclass(frozen=True)
class ReadoutStudy:
    rows: tuple[ReadoutRow, ...]

    def summary(self) -> list[dict[str, Any]]:
        """Per (AU, intensity): mean and per-face minimum of the measured change, off-target."""
        groups: dict[tuple[int, float], list[ReadoutRow]] = {}
        for row in self.rows:
            groups.setdefault((row.au, row.intensity), []).append(row)
        out = []
        for (au, intensity), rows in sorted(groups.items()):
            room = [r.measured for r in rows if r.room]
            out.append({
                "au": au, "intensity": intensity, "faces": len(rows), "faces_with_room": len(room),
                "measured_mean": float(np.mean([r.measured for r in rows])),
                "measured_min": float(min(room)) if room else None,
                "measured_mean_room": float(np.mean(room)) if room else None,
                "off_target_mean": float(np.mean([r.off_target for r in rows])),
                "off_target_max": float(max(r.off_target for r in rows)),
            })
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [asdict(r) for r in self.rows], "summary": self.summary()}

    def write_json(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return target

    def table(self) -> str:
        lines = [f"{'AU':>4} {'req':>4} {'mean':>6} {'min':>6} {'off':>6} {'off/tgt':>7} "
                 f"{'room':>4} {'mean (faces with room)':>22}"]
        for entry in self.summary():
            low, room = entry["measured_min"], entry["measured_mean_room"]
            ratio = entry["off_target_mean"] / max(entry["measured_mean"], 1e-6)
            lines.append(f"{entry['au']:>4} {entry['intensity']:>4g} "
                         f"{entry['measured_mean']:6.2f} "
                         f"{'-' if low is None else f'{low:.2f}':>6} "
                         f"{entry['off_target_mean']:6.2f} {ratio:7.2f} "
                         f"{entry['faces_with_room']:>4} "
                         f"{'-' if room is None else f'{room:.2f}':>22}")
        return "\n".join(lines)

    def write_plot(self, path: str | Path) -> Path:
        """Requested (x) against measured (y) intensity, one line per AU (mean over faces,
        the band down to the per-face minimum), and the ideal diagonal."""
        from matplotlib.figure import Figure  # heavy; a bare Figure needs no pyplot backend

        summary = self.summary()
        figure = Figure(figsize=(7.5, 6.5), layout="tight")
        axis = figure.subplots()
        axis.plot([0, 5], [0, 5], color="black", linestyle="--", label="ideal")
        for au in sorted({entry["au"] for entry in summary}):
            entries = [e for e in summary if e["au"] == au]
            x = [0.0] + [e["intensity"] for e in entries]
            mean = [0.0] + [e["measured_mean"] for e in entries]
            low = [0.0] + [e["measured_min"] if e["measured_min"] is not None else np.nan
                           for e in entries]
            (line,) = axis.plot(x, mean, marker="o", label=f"AU{au}")
            axis.fill_between(x, low, mean, color=line.get_color(), alpha=0.08)
        axis.set(xlim=(0, 5.1), ylim=(0, 5.3), xlabel="requested intensity",
                 ylabel="measured intensity (blendshape read-out)",
                 title="AU response: mean over faces (band: down to the weakest face)")
        axis.legend(fontsize="small", ncol=2)
        axis.grid(alpha=0.3)
        target = Path(path)
        figure.savefig(target, dpi=100)
        return target


def _rise(rule: ReadoutRule | LandmarkRule, before: BlendshapeFace, after: BlendshapeFace,
          noise: float = 0.0) -> float:
    change = rule.signal(after) - rule.signal(before)
    return change_intensity(rule, change - noise if change > noise else 0.0)


def readout_study(images: Mapping[str, np.ndarray], aus: Sequence[int],
                  intensities: Sequence[float], edit_fn: EditFunction,
                  context: Mapping[int, float] | None = None) -> ReadoutStudy:
    """Edit every face with every AU at every intensity and read what it shows.

    ``context``: AUs set on every edit and on the reference it is read against (the face
    with the context alone), so an AU is measured in the company real expressions give it:
    real wide eyes come with raised brows (liveportrait_d7 and d10's strongest lid rises,
    the AU 5 reference, all do), and the read-out's lid reading follows the brows.
    """
    unknown = [au for au in aus if au not in READOUT_RULES]
    if unknown:
        raise InputError(f"the read-out cannot measure AU {unknown[0]}")
    context = {int(au): float(v) for au, v in (context or {}).items()}
    rows = []
    with BlendshapeReader(video_mode=False) as reader:
        for name, image in images.items():
            source = reader.read(edit_fn(image, context) if context else image)
            if source is None:
                raise NoFaceError(f"no face found in study image '{name}'")
            for au in aus:
                rule = CHANGE_RULES[au]
                source_score = READOUT_RULES[au].score(source.scores)
                room = has_room(au, source_score)
                for intensity in intensities:
                    edited = reader.read(edit_fn(image, {**context, au: float(intensity)}))
                    if edited is None:
                        rows.append(ReadoutRow(name, au, float(intensity), np.nan, 0.0, 0.0, None,
                                               room))
                        continue
                    others = {other: _rise(CHANGE_RULES[other], source, edited,
                                           CHANGE_RULES[other].noise)
                              for other in RELIABLE_AUS
                              if other != au and SAME_SHAPE.get(au) != other
                              and other not in context}
                    worst = max(others, key=lambda other: others[other])
                    rows.append(ReadoutRow(
                        name, au, float(intensity), READOUT_RULES[au].intensity(source_score),
                        _rise(rule, source, edited), others[worst],
                        worst if others[worst] > 0 else None, room))
    return ReadoutStudy(tuple(rows))
