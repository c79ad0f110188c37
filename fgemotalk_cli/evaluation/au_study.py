"""The AU-response study: edit faces with each AU at each intensity and measure what moved.

For every image, AU and intensity: landmark movement inside the AU's face region and
elsewhere (face mesh, in inter-ocular distances) and the change of fer's emotion
probabilities. ``edit_fn`` is the engine under test. Results as a table, JSON and a PNG plot.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fgemotalk_cli.errors import InputError, NoFaceError
from fgemotalk_cli.evaluation.emotion import EMOTIONS, EmotionClassifier, crop_face
from fgemotalk_cli.evaluation.evaluate import _largest_face, _mean
from fgemotalk_cli.evaluation.identity import DlibFaceDetector
from fgemotalk_cli.evaluation.metrics import interocular_distance, region_displacement
from fgemotalk_cli.expression.aus import CATALOGUE, check_intensity
from fgemotalk_cli.faces.detector import FaceMeshDetector
from fgemotalk_cli.faces.mesh_model import region_indices

EditFunction = Callable[[np.ndarray, dict[int, float]], np.ndarray]

#: Face-mesh regions (:func:`fgemotalk_cli.faces.mesh_model.region_indices`) that make up each AU
#: region named in :data:`fgemotalk_cli.expression.aus.CATALOGUE`.
AU_REGION_MESH: dict[str, tuple[str, ...]] = {
    "brows": ("left_brow", "right_brow"),
    "eyes": ("left_eye_upper", "left_eye_lower", "right_eye_upper", "right_eye_lower"),
    "cheeks": ("cheeks",),
    "nose": ("nose",),
    "mouth": ("upper_lip_outer", "lower_lip_outer", "upper_lip_inner", "lower_lip_inner"),
    "chin": ("chin",),
    "jaw": ("jaw", "chin"),
}


@dataclass(frozen=True)
class AUResponseRow:
    """One image edited with one AU at one intensity."""

    image: str
    au: int
    intensity: float
    region: str
    region_displacement_iod: float | None  # mean landmark movement inside the AU's region
    elsewhere_displacement_iod: float | None  # the same for every other landmark (leakage)
    emotion: dict[str, float] | None
    emotion_change: dict[str, float] | None  # minus the unedited image's probabilities


@dataclass(frozen=True)
class AUResponseTable:
    rows: tuple[AUResponseRow, ...]
    notes: tuple[str, ...] = ()

    def summary(self) -> list[dict[str, Any]]:
        """Rows averaged over images: one entry per (AU, intensity)."""
        groups: dict[tuple[int, float], list[AUResponseRow]] = {}
        for row in self.rows:
            groups.setdefault((row.au, row.intensity), []).append(row)
        summary = []
        for (au, intensity), rows in sorted(groups.items()):
            changes = [r.emotion_change for r in rows if r.emotion_change is not None]
            summary.append({
                "au": au, "intensity": intensity, "region": rows[0].region, "images": len(rows),
                "region_displacement_iod": _mean([r.region_displacement_iod for r in rows
                                                  if r.region_displacement_iod is not None]),
                "elsewhere_displacement_iod": _mean([r.elsewhere_displacement_iod for r in rows
                                                     if r.elsewhere_displacement_iod is not None]),
                "emotion_change": {name: float(np.mean([c[name] for c in changes]))
                                   for name in changes[0]} if changes else None,
            })
        return summary

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [asdict(row) for row in self.rows], "summary": self.summary(),
                "notes": list(self.notes)}

    def write_json(self, path: str | Path) -> Path:

        target = Path(path)
        target.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return target

    def write_plot(self, path: str | Path) -> Path:
        """Region movement against intensity per AU, and the emotion change at each AU's
        highest intensity as an AU x emotion heat map."""
        # A bare Figure renders with Agg without touching pyplot's global backend state.
        from matplotlib.figure import Figure


        summary = self.summary()
        aus = sorted({entry["au"] for entry in summary})
        figure = Figure(figsize=(12, 4.5), layout="tight")
        movement, emotion = figure.subplots(1, 2)
        heat = np.full((len(aus), len(EMOTIONS)), np.nan)
        for row, au in enumerate(aus):
            entries = [e for e in summary if e["au"] == au]
            measured = [e for e in entries if e["region_displacement_iod"] is not None]
            movement.plot([e["intensity"] for e in measured],
                          [e["region_displacement_iod"] for e in measured], marker="o",
                          label=f"AU{au} ({entries[0]['region']})")
            strongest = max(entries, key=lambda e: e["intensity"])
            if strongest["emotion_change"] is not None:
                heat[row] = [strongest["emotion_change"][name] for name in EMOTIONS]
        movement.set(xlabel="AU intensity (0..5)", ylabel="landmark movement in region (IOD)",
                     title="Geometric response")
        movement.legend(fontsize="small")
        limit = float(np.nanmax(np.abs(heat))) if np.isfinite(heat).any() else 1.0
        shown = emotion.imshow(heat, cmap="coolwarm", vmin=-limit, vmax=limit, aspect="auto")
        emotion.set(xticks=range(len(EMOTIONS)), xticklabels=EMOTIONS, yticks=range(len(aus)),
                    yticklabels=[f"AU{au}" for au in aus],
                    title="Emotion probability change at the highest intensity")
        emotion.tick_params(axis="x", rotation=45)
        figure.colorbar(shown, ax=emotion)
        target = Path(path)
        figure.savefig(target, dpi=100)
        return target


def au_response_study(
    images: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    aus: Sequence[int],
    intensities: Sequence[float],
    edit_fn: EditFunction,
    classifier=None,
) -> AUResponseTable:
    """Edit every image with every AU at every intensity and measure what moved.

    ``edit_fn(image, {au: intensity}) -> image`` is the engine under test (same size out).
    Landmark movement is measured with the face mesh on the edited image against the unedited
    one, inside the AU's region (:func:`fgemotalk_cli.faces.mesh_model.region_indices`) and
    elsewhere, in inter-ocular distances. Emotion probabilities use one dlib face box per source
    image so that only the edit changes the classifier's input. ``classifier`` defaults to fer's
    model.
    """
    named = dict(images) if isinstance(images, Mapping) else {
        f"image_{i}": image for i, image in enumerate(images)}
    for au in aus:
        for intensity in intensities:
            check_intensity(au, float(intensity), " in the AU-response study")
    classifier = classifier or EmotionClassifier.load()
    study = _Study(aus, [float(i) for i in intensities], edit_fn, classifier, DlibFaceDetector())
    with FaceMeshDetector(video_mode=False) as mesh:
        for name, image in named.items():
            study.measure(name, image, mesh)
    return AUResponseTable(rows=tuple(study.rows), notes=tuple(study.notes))


@dataclass
class _Study:
    """Collects the rows of :func:`au_response_study` (mutable on purpose, private)."""

    aus: Sequence[int]
    intensities: list[float]
    edit_fn: EditFunction
    classifier: Any
    detector: Any
    rows: list[AUResponseRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def measure(self, name: str, image: np.ndarray, mesh) -> None:
        base = _largest_face(mesh, image)
        if base is None:
            raise NoFaceError(f"no face found in study image '{name}'")
        iod = interocular_distance(base.points)
        box = self.detector.largest(image)
        if box is None:
            self.notes.append(f"{name}: dlib found no face; emotion not measured")
        before = None if box is None else self.classifier.predict(crop_face(image, box))
        regions = region_indices()
        for au in self.aus:
            region_name = CATALOGUE[au].region
            region = np.unique(np.concatenate([np.asarray(regions[part], dtype=np.int64)
                                               for part in AU_REGION_MESH[region_name]]))
            for intensity in self.intensities:
                edited = self.edit_fn(image, {au: intensity})
                if edited.shape != image.shape:
                    raise InputError(f"edit_fn changed the size of '{name}' from {image.shape} "
                                     f"to {edited.shape}")
                moved = _largest_face(mesh, edited)
                if moved is None:
                    self.notes.append(f"{name}: no face after AU{au}={intensity:g}")
                inside, elsewhere = (None, None) if moved is None else region_displacement(
                    base.points, moved.points, region, iod)
                after = None if box is None else self.classifier.predict(crop_face(edited, box))
                change = None if after is None or before is None else {
                    key: after[key] - before[key] for key in after}
                self.rows.append(AUResponseRow(name, au, intensity, region_name, inside,
                                               elsewhere, after, change))
