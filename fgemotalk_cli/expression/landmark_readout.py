"""AU read-out from the landmarker's mesh geometry, for AUs the blendshape model misses.

Two AUs are read from where the FaceLandmarker's own 478 points lie, against the same face
at rest, instead of from its blendshape scores (:mod:`.readout`), because the blendshape
model provably misses them on real expressions in /work/shared/media:

- AU 15 (lip corner depressor): ``mouthFrown`` stays at 0.00-0.01 through the clearly
  depressed, sad mouth of liveportrait_d18 (frames 160-215) and the frown with turned-down
  corners of liveportrait_d8 (frames 104-125), where a person sees the corners turn down at
  once.
- AU 5 (upper lid raiser): through the wide eyes of liveportrait_d7 (frames 132-150) both
  upper lids rise alike (0.048-0.053 inter-ocular distances above the iris centre against
  the neutral frame 0), yet ``eyeWideLeft`` reads 0.10-0.14 and ``eyeWideRight`` 0.33-0.46:
  one eye reads 2.7, the other 5 on the blendshape scale, for one symmetric movement.

The measures, in inter-ocular distances (IOD) in the face's own frame (the similarity fit of
the canonical mesh, so head turns and scale cancel), y down the face:

- AU 15: how far the lip corners (61, 291) lie below both the centre of the lip line (the
  midpoint of the inner lips, 13 and 14) and the lower lip's outer contour next to them
  (91, 321); the smaller of the two. The first alone also rises when the mouth rounds or
  the jaw drops (d18's yawn +0.04, d5's pucker +0.03), the second alone on talking mouths;
  together they stay near 0 for both (yawn +0.01, pucker 0.00, open mouths and smiles < 0).
- AU 5: how far the upper lid margin (159, 386, mid-lid) lies above the iris centre (468,
  473), the eye white that shows above the iris. Gaze moves lid and iris together; blinks,
  squints and AU 43 read as falls (0).

Reference levels, measured on the landmarker's points of the shared clips, change from the
clip's neutral first frame (p97 = 97th percentile of a clip's frames)::

    AU  strong real expressions                      neutral / talking clips (p97)    jitter strong
    15  d18 sad mouth p97 0.041, d8 frown p97 0.042  d10 0.009, d20 0.012, d9 0.004,  0.006  0.042
                                                     d7 0.012, d0 0.006, d5 0.003
    5   d7 wide eyes 0.048-0.053, d10 p97 0.054      d18 0.012, d8 0.013, d0 0.011,   0.006  0.051
                                                     d20 0.004, d9 0.019

``jitter`` is what a face at rest moves by (tracking noise, talking): changes up to it read
0; from there the intensity rises linearly to 5 at ``strong`` (a displacement, unlike a
blendshape score, neither saturates nor has a dead zone). Tracked as a video, those clips
read: d18's sad frames (168-200) 2.7-5 (median 4.4), d8's frown (108-125) median 4.9, d7's
wide eyes (132-150) 4.2-5 and its blinks 0, and the talking clips' AU 15 at most 0.2-0.9
(p97) against their neutral first frames. Read frame by frame (image mode, as the
calibration reads its renders) the same frames read somewhat less: d18 176/184 4.2/3.2, d7
132-144 4.0-4.2. A talking clip whose first frame has the mouth open (the AOC clip) is no
rest to compare with: its closed-mouth frames then read as AU 15, so the reference must be
a face at rest.

What it is and is not: this is geometry, not appearance. It sees where the landmarker puts
the lid and the lip corners, nothing of the creases, shading or sclera that come with them,
and it needs the same face at rest: the source photo (calibration, the AU-response study),
a reference frame (a video's read-out). A single photo has no rest to compare with, so its
AU 5 and AU 15 come from the blendshape scores alone (see :mod:`.readout`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.faces import mesh_model as fm
from fgemotalk_cli.faces.landmarks import FaceLandmarks, estimate_head_pose

MAX_INTENSITY = 5.0


def face_units(points: np.ndarray) -> np.ndarray:
    """(478, 3) pixel landmarks in the face's own frame: rotated upright and scaled to IOD."""
    points = np.asarray(points, dtype=np.float64)
    pose = estimate_head_pose(FaceLandmarks(points, (0, 0)))
    shift = np.array([*pose.center, pose.depth])
    return (points - shift) @ np.asarray(pose.rotation, np.float64) / pose.scale


def corner_drop(face: np.ndarray) -> float:
    """AU 15's measure: the lip corners below the lip line's centre and the lower lip's
    contour next to them (the smaller), in IOD (see the module docstring)."""
    corners = (face[61, 1] + face[291, 1]) / 2
    below_centre = corners - (face[13, 1] + face[14, 1]) / 2
    below_lower_lip = corners - (face[91, 1] + face[321, 1]) / 2
    return float(min(below_centre, below_lower_lip))


def lid_above_iris(face: np.ndarray) -> float:
    """AU 5's measure: the upper lid margin above the iris centre, both eyes' mean, in IOD."""
    return float(((face[468, 1] - face[159, 1]) + (face[473, 1] - face[386, 1])) / 2)


def brow_heights(face: np.ndarray) -> tuple[float, float, float]:
    """The brows' lower edge above the eye corners' line at its tail, middle and inner end,
    both brows' mean, in IOD (face units). Not an AU rule: a measure for comparing brows
    (part 6i of bench/README.md): real low-set brows rest at a tail of 0.14-0.18 (obama,
    d5, d18, vasa1_7), raised ones at 0.25-0.39 (d30, d10), and the blendshape scores of a
    brow raise follow more than these heights."""
    eye_line = float(face[list(fm.RIGHT_EYE_CORNERS + fm.LEFT_EYE_CORNERS), 1].mean())
    heights = [eye_line - face[list(brow[:5]), 1] for brow in (fm.RIGHT_BROW, fm.LEFT_BROW)]
    tail, middle, inner = np.mean(heights, axis=0)[[0, 2, 4]]  # the lower row: outer to inner
    return float(tail), float(middle), float(inner)


@dataclass(frozen=True)
class LandmarkRule:
    """How one AU is read from the mesh against the same face at rest."""

    au: int
    measure: Callable[[np.ndarray], float]  # of face-unit landmarks (:func:`face_units`)
    jitter: float  # change (IOD) a face at rest shows: intensity 0
    strong: float  # change (IOD) of a strong real expression: intensity 5

    @property
    def change_span(self) -> float:
        return self.strong

    @property
    def noise(self) -> float:
        return self.jitter

    def signal(self, face: object) -> float:
        """The measure of one read face (anything with ``landmarks.points``)."""
        return self.measure(face_units(face.landmarks.points))  # type: ignore[attr-defined]

    def change_intensity(self, change: float) -> float:
        """A change against the rest in intensity units (0 up to the jitter, 0 for falls)."""
        share = (change - self.jitter) / (self.strong - self.jitter)
        return MAX_INTENSITY * float(np.clip(share, 0.0, 1.0))

    def change_at(self, intensity: float) -> float:
        """The change that reads as ``intensity`` (the inverse of :meth:`change_intensity`)."""
        share = float(np.clip(intensity / MAX_INTENSITY, 0.0, 1.0))
        return self.jitter + share * (self.strong - self.jitter)


LANDMARK_RULES: dict[int, LandmarkRule] = {rule.au: rule for rule in (
    LandmarkRule(5, lid_above_iris, jitter=0.006, strong=0.051),
    LandmarkRule(15, corner_drop, jitter=0.006, strong=0.042),
)}
