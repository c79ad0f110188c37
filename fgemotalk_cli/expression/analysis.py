"""``fgemotalk analyze``: measured AU intensities and head pose per frame of an image or video.

The read-out is :mod:`fgemotalk_cli.expression.readout` (MediaPipe blendshapes mapped to FACS
0..5); head pose is the canonical-mesh fit of
:func:`fgemotalk_cli.faces.landmarks.estimate_head_pose` on the landmarker's own 478 points.
Frames without a face are kept as rows of NaN and counted; when no frame at all has a face
the call raises :class:`NoFaceError` (exit 2).

With a reference frame (``reference_frame``, ``--reference-frame N``: a frame where the face
is at rest, mouth closed), AU 5 and AU 15 are read from the landmarker's mesh against that
frame (:mod:`.landmark_readout`: the blendshape model misses real sad mouths and reads wide
eyes unevenly); without one, and always for a single image, which has no rest to compare
with, they come from the blendshape scores like the other AUs.

    analysis = analyze_media("driver.mp4", reference_frame=0)
    analysis.write_csv("aus.csv"); analysis.write_plot("aus.png")
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from fgemotalk_cli.errors import InputError, NoFaceError
from fgemotalk_cli.expression.blendshapes import BlendshapeFace, BlendshapeReader
from fgemotalk_cli.expression.landmark_readout import LANDMARK_RULES
from fgemotalk_cli.expression.readout import NOT_ESTIMATED, READOUT_AUS, au_intensities
from fgemotalk_cli.faces.landmarks import estimate_head_pose
from fgemotalk_cli.media.images import downscale_to_max_side, load_image
from fgemotalk_cli.media.video import iter_frames

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
#: Frames are read at most this large: the landmarker works on a 256 px face crop anyway.
ANALYSIS_MAX_SIDE = 1024
POSE_NAMES = ("yaw", "pitch", "roll")


@dataclass(frozen=True)
class AUFrame:
    """One frame's read-out: AU intensities (NaN where not estimated or no face) and pose."""

    index: int
    time_seconds: float
    face_found: bool
    aus: dict[int, float]
    pose_degrees: tuple[float, float, float]  # yaw, pitch, roll; NaN without a face


@dataclass(frozen=True)
class AUAnalysis:
    """Every frame of one input, with a per-AU summary over the frames that had a face."""

    path: Path
    frames: tuple[AUFrame, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def frames_with_face(self) -> int:
        return sum(frame.face_found for frame in self.frames)

    def series(self, au: int) -> np.ndarray:
        return np.array([frame.aus[au] for frame in self.frames], dtype=float)

    def summary(self) -> dict[str, Any]:
        """Mean, max and the share of face frames at intensity >= 1, per estimated AU."""
        per_au: dict[str, Any] = {}
        for au in READOUT_AUS:
            values = self.series(au)
            values = values[np.isfinite(values)]
            per_au[str(au)] = None if not len(values) else {
                "mean": round(float(values.mean()), 3), "max": round(float(values.max()), 3),
                "active_share": round(float(np.mean(values >= 1.0)), 3)}
        return {"path": str(self.path), "frames": len(self.frames),
                "frames_with_face": self.frames_with_face,
                "frames_without_face": len(self.frames) - self.frames_with_face,
                "aus": per_au, "not_estimated": {str(au): why for au, why in NOT_ESTIMATED.items()},
                "notes": list(self.notes)}

    def summary_line(self) -> str:
        """One line: frames with a face and the mean of each estimated AU."""
        means = " ".join(f"AU{au}={row['mean']:.2f}" for au, row in self.summary()["aus"].items()
                         if row)
        return f"{self.frames_with_face}/{len(self.frames)} frames with a face; mean {means}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the summary plus every frame (NaN written as null)."""
        rows = [{"frame": f.index, "time": round(f.time_seconds, 4), "face": f.face_found,
                 "aus": {str(au): _rounded(v) for au, v in f.aus.items()},
                 "pose_degrees": dict(zip(POSE_NAMES, map(_rounded, f.pose_degrees)))}
                for f in self.frames]
        return {**self.summary(), "per_frame": rows}

    def write_json(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(json.dumps(self.to_dict()) + "\n")
        return target

    def write_csv(self, path: str | Path) -> Path:
        """One row per frame: frame, time, face, AU<n> columns, yaw, pitch, roll (empty = NaN)."""
        target = Path(path)
        with target.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["frame", "time", "face", *(f"AU{au}" for au in READOUT_AUS),
                             *POSE_NAMES])
            for f in self.frames:
                values = [f.aus[au] for au in READOUT_AUS] + list(f.pose_degrees)
                writer.writerow([f.index, f"{f.time_seconds:.4f}", int(f.face_found),
                                 *("" if not math.isfinite(v) else f"{v:.3f}" for v in values)])
        return target

    def write_plot(self, path: str | Path) -> Path:
        """AU curves over time (brows and eyes, mouth) and head pose, as a PNG."""
        from matplotlib.figure import Figure  # heavy; a bare Figure needs no pyplot backend

        times = np.array([f.time_seconds for f in self.frames])
        groups = (("brows and eyes", (1, 2, 4, 5, 7, 43)), ("mouth", (10, 12, 15, 17, 20, 23, 26)))
        figure = Figure(figsize=(11, 8), layout="tight")
        axes = figure.subplots(3, 1, sharex=True)
        for axis, (title, aus) in zip(axes, groups):
            for au in aus:
                axis.plot(times, self.series(au), label=f"AU{au}", linewidth=1.4)
            axis.set(ylim=(-0.1, 5.1), ylabel="intensity (0..5)", title=title)
            axis.legend(fontsize="small", ncol=4, loc="upper right")
            axis.grid(alpha=0.3)
        pose = np.array([f.pose_degrees for f in self.frames], dtype=float)
        for column, name in enumerate(POSE_NAMES):
            axes[2].plot(times, pose[:, column], label=name)
        axes[2].set(xlabel="time (s)", ylabel="degrees", title="head pose")
        axes[2].legend(fontsize="small")
        axes[2].grid(alpha=0.3)
        figure.suptitle(f"{self.path.name}: measured AU intensities "
                        f"({self.frames_with_face}/{len(self.frames)} frames with a face)")
        target = Path(path)
        figure.savefig(target, dpi=100)
        return target

    def table(self) -> str:
        """The per-frame table as text (AUs that are estimated, then pose)."""
        shown = [au for au in READOUT_AUS if au not in NOT_ESTIMATED]
        lines = ["frame   time " + " ".join(f"{'AU' + str(au):>5}" for au in shown)
                 + "   yaw pitch  roll"]
        for f in self.frames:
            cells = " ".join(_cell(f.aus[au], 5, 2) for au in shown)
            pose = " ".join(_cell(v, 5, 1) for v in f.pose_degrees)
            lines.append(f"{f.index:5d} {f.time_seconds:6.2f} {cells} {pose}")
        return "\n".join(lines)


def _rounded(value: float) -> float | None:
    return None if not math.isfinite(value) else round(float(value), 3)


def _cell(value: float, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if not math.isfinite(value) else f"{value:{width}.{digits}f}"


def read_frame(reader: BlendshapeReader, index: int, image: np.ndarray,
               time_seconds: float) -> AUFrame:
    """The read-out of one RGB frame (blendshape scores only)."""
    return _frame(index, time_seconds, reader.read(image, time_seconds))


def _frame(index: int, time_seconds: float, face: BlendshapeFace | None) -> AUFrame:
    if face is None:
        return AUFrame(index, time_seconds, False, {au: math.nan for au in READOUT_AUS},
                       (math.nan, math.nan, math.nan))
    pose = estimate_head_pose(face.landmarks)
    return AUFrame(index, time_seconds, True, au_intensities(face.scores),
                   (pose.yaw, pose.pitch, pose.roll))


def _against_reference(frames: list[AUFrame], signals: list[dict[int, float] | None],
                       reference: int) -> list[AUFrame]:
    """``frames`` with AU 5 and 15 read from the mesh against frame ``reference``."""
    rest = signals[reference]
    if rest is None:
        raise InputError(f"the reference frame {reference} has no face")
    out = []
    for frame, signal in zip(frames, signals):
        if signal is not None:
            frame = replace(frame, aus={**frame.aus, **{
                au: rule.change_intensity(signal[au] - rest[au])
                for au, rule in LANDMARK_RULES.items()}})
        out.append(frame)
    return out


def _media_frames(path: Path, max_frames: int | None) -> Iterator[tuple[np.ndarray, float]]:
    if path.suffix.lower() in IMAGE_SUFFIXES:
        yield load_image(path, max_size=ANALYSIS_MAX_SIDE), 0.0
        return
    for frame in islice(iter_frames(path, max_size=ANALYSIS_MAX_SIDE), max_frames):
        yield downscale_to_max_side(frame.image, ANALYSIS_MAX_SIDE), frame.time_seconds


def analyze_media(path: str | Path, max_frames: int | None = None,
                  reference_frame: int | None = None) -> AUAnalysis:
    """Read AU intensities and head pose from an image or every frame of a video (streamed).

    ``reference_frame``: the index of a frame at rest; AU 5 and 15 are then read from the mesh
    against it (see the module docstring). Raises :class:`InputError` for a missing or
    unreadable file or a reference frame without a face or past the end, :class:`NoFaceError`
    when no frame has a face. Frames without a face stay in the result as NaN rows, counted in
    a note.
    """
    media = Path(path).expanduser()
    if not media.is_file():
        raise InputError(f"file not found: {media}")
    if max_frames is not None and max_frames < 1:
        raise InputError("max_frames must be at least 1")
    if reference_frame is not None and reference_frame < 0:
        raise InputError("the reference frame must be 0 or more")
    is_image = media.suffix.lower() in IMAGE_SUFFIXES
    frames = []
    # The mesh measures of each frame (two numbers, not the mesh: a long video stays small).
    signals: list[dict[int, float] | None] = []
    with BlendshapeReader(video_mode=not is_image) as reader:
        for index, (image, time_seconds) in enumerate(_media_frames(media, max_frames)):
            face = reader.read(image, time_seconds)
            frames.append(_frame(index, time_seconds, face))
            signals.append(None if face is None else
                           {au: rule.signal(face) for au, rule in LANDMARK_RULES.items()})
    if not frames:
        raise InputError(f"no frames could be read from {media}")
    found = sum(frame.face_found for frame in frames)
    if found == 0:
        raise NoFaceError(f"no face found in {media}" if is_image else
                          f"no face found in any of the {len(frames)} frames of {media}")
    notes: tuple[str, ...] = ()
    if found < len(frames):
        notes = (f"{len(frames) - found} of {len(frames)} frames had no face (NaN rows)",)
    if reference_frame is not None and is_image:
        notes += ("--reference-frame has no effect on a single image (no rest to compare "
                  "with): AU 5 and 15 come from the blendshape scores",)
    elif reference_frame is not None:
        if reference_frame >= len(frames):
            raise InputError(f"the reference frame {reference_frame} is past the last frame "
                             f"({len(frames) - 1})")
        frames = _against_reference(frames, signals, reference_frame)
        notes += (f"AU 5 and 15 read from the face mesh against frame {reference_frame}",)
    return AUAnalysis(media, tuple(frames), notes)
