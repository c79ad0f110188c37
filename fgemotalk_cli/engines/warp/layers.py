"""Layers of a portrait: the head (with its hair), the neck and body, and the background.

Built once per source (:func:`build_layers`):
- the person mask (:func:`fgemotalk_cli.faces.segmentation.person_mask`);
- a background plate: the photo with the person painted out (``cv2.inpaint`` on a small copy,
  upsampled), so background the head uncovers is the photo's own background, the same every
  frame (no flicker);
- the person's own colour, unmixed from the background at its soft edges
  (``(source - (1 - mask) * plate) / mask``), which composites back onto the plate into the
  source (to within a grey level) when nothing moves;
- the head region: a soft weight that is 1 over the head and hair and falls to 0 down the
  neck, in the source face's own frame (so a tilted head's neck is still "down").

Per frame, :func:`layered_map` builds the backward map of the whole frame: the head moves with
the head's motion (the affine that the warp mesh's outer rings follow, 3-D turned), the body
stays, and the neck blends between them. Where the sampled source pixel belongs to the head
more than the output pixel does (the place a moving head has left), the person's alpha goes to
zero and the plate shows (:func:`composite`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.faces.segmentation import person_mask

# Head weight falloff in the face frame (IOD units): below the chin, over the neck. It starts
# low enough that a dropped jaw stays inside the head layer.
_NECK_TOP_IOD = 0.45
_NECK_BOTTOM_IOD = 1.5
# Sideways, beyond the ears and hair, nothing belongs to the head.
_SIDE_INNER_IOD = 2.6
_SIDE_OUTER_IOD = 4.2
_PLATE_SIDE = 256  # the plate is inpainted on a copy this size (a smooth fill suffices)
_PERSON_THRESHOLD = 0.04
#: Step of the coarse grid of the frame's backward map, in working pixels (it is affine
#: almost everywhere, so a coarse grid upsampled is exact enough).
FRAME_GRID_STEP = 8


@dataclass(frozen=True)
class HeadRegion:
    """The head's soft weight, as a function of position in working pixels."""

    origin: np.ndarray  # (2,) eye midpoint
    axes: np.ndarray  # (2, 2): rows are the face's sideways and downward unit axes
    iod_px: float
    chin_iod: float  # the chin's height below the eye midpoint, IODs

    @classmethod
    def from_face(cls, frame: L.FaceFrame, points: np.ndarray) -> HeadRegion:
        # The in-plane part of the face frame: its x axis projected into the picture.
        sideways = frame.rotation[:2, 0] / max(np.linalg.norm(frame.rotation[:2, 0]), 1e-9)
        down = np.array([-sideways[1], sideways[0]])
        axes = np.stack([sideways, down])
        chin = (points[L.CHIN, :2] - frame.origin[:2]) @ down / frame.iod_px
        return cls(frame.origin[:2].astype(np.float64), axes, float(frame.iod_px), float(chin))

    def weight(self, xy: np.ndarray) -> np.ndarray:
        """Head weight 0..1 at points ``xy`` (..., 2) in working pixels."""
        relative = (xy - self.origin) / self.iod_px
        across = np.abs(relative @ self.axes[0])
        below = relative @ self.axes[1] - self.chin_iod
        return ((1.0 - L.smoothstep(_NECK_TOP_IOD, _NECK_BOTTOM_IOD, below))
                * (1.0 - L.smoothstep(_SIDE_INNER_IOD, _SIDE_OUTER_IOD, across)))


@dataclass(frozen=True)
class SourceLayers:
    """Per-source layers at the output (full) resolution; the head region in working pixels."""

    plate: np.ndarray  # (H, W, 3) uint8 background with the person painted out
    foreground: np.ndarray  # (H, W, 3) uint8 the person's colour, unmixed from the plate
    person: np.ndarray  # (H, W) float32 person alpha
    head: HeadRegion


def build_layers(full_image: np.ndarray, work_scale: float, frame: L.FaceFrame,
                 points: np.ndarray) -> SourceLayers:
    """The layers of a source; ``frame`` and ``points`` are in working pixels, which are
    ``work_scale`` times smaller than ``full_image``'s."""
    import cv2

    height, width = full_image.shape[:2]
    person = person_mask(full_image)
    # The hole to fill: the person, widened past the mask's soft edge and hair halo.
    reach = max(3, round(0.12 * frame.iod_px * work_scale))
    hole = cv2.dilate((person > _PERSON_THRESHOLD).astype(np.uint8),
                      cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2))
    small_scale = min(1.0, _PLATE_SIDE / max(height, width))
    small_size = (max(8, round(width * small_scale)), max(8, round(height * small_scale)))
    small = cv2.resize(full_image, small_size, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole, small_size, interpolation=cv2.INTER_NEAREST)
    small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA)
    # Telea leaves streaks across a large hole; a blur of the fill alone hides them.
    filled = np.where(small_hole[..., None] > 0,
                      cv2.GaussianBlur(filled, (0, 0), 2.0), filled)
    filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    inside = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), max(1.0, reach / 3.0))
    # Exactly the photo where no person is near, so the premultiplied person is zero there.
    inside[hole == 0] = np.minimum(inside[hole == 0], 0.0)
    source = full_image.astype(np.float32)
    plate = np.clip(source + inside[..., None] * (filled.astype(np.float32) - source) + 0.5,
                    0, 255).astype(np.uint8)
    # Where the mask is faint the unmixed colour is noise; there it is the photo's own.
    alpha = np.maximum(person, 0.05)[..., None]
    unmixed = (source - (1.0 - alpha) * plate) / alpha
    foreground = np.clip(np.where(person[..., None] > 0.05, unmixed, source) + 0.5,
                         0, 255).astype(np.uint8)
    return SourceLayers(plate=plate, foreground=foreground, person=person,
                        head=HeadRegion.from_face(frame, points))


def fit_affine(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(2, 3) least-squares affine taking (N, 2) ``source`` points onto ``target``."""
    design = np.concatenate([source, np.ones((len(source), 1))], axis=1)
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    return solution.T


def invert_affine(affine: np.ndarray) -> np.ndarray:
    linear = np.linalg.inv(affine[:, :2])
    return np.concatenate([linear, -linear @ affine[:, 2:]], axis=1)


@dataclass(frozen=True)
class FrameMap:
    """The whole frame's backward map at the output resolution, before the face mesh."""

    coordinates: np.ndarray  # (H, W, 2) float32 source x, y in output (full) pixels
    head_weight: np.ndarray  # (H, W) float32: how much each output pixel moves with the head
    visibility: np.ndarray  # (H, W) float32 0..1: 1 = the person may show, 0 = plate only


def layered_map(head: HeadRegion, head_forward: np.ndarray, work_size: tuple[int, int],
                full_size: tuple[int, int]) -> FrameMap:
    """The head (affine ``head_forward``: source to target working pixels) over a still body,
    on a coarse grid upsampled to ``full_size``."""
    import cv2

    width, height = full_size
    scale = width / work_size[0]
    step = max(2, round(FRAME_GRID_STEP * scale))
    # One sample beyond the frame on every side, so the upsampled grid interpolates out to
    # the edges (cv2.resize places sample i at (i + 0.5) * step - 0.5 - step after the crop).
    nx, ny = width // step + 3, height // step + 3
    first = 0.5 * step - 0.5 - step
    xs = first + step * np.arange(nx)
    ys = first + step * np.arange(ny)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)  # (ny, nx, 2) full pixels
    work = (grid + 0.5) / scale - 0.5
    backward = invert_affine(head_forward)
    rigid = work @ backward[:, :2].T + backward[:, 2]
    weight = head.weight(rigid)
    blended = work + weight[..., None] * (rigid - work)
    # Sampling more head than this pixel is head: the place the head moved away from, where
    # the plate shows.
    visibility = 1.0 - np.clip(head.weight(blended) - weight, 0.0, 1.0)
    coordinates = ((blended + 0.5) * scale - 0.5).astype(np.float32)

    def upsampled(values: np.ndarray) -> np.ndarray:
        big = cv2.resize(values.astype(np.float32), (nx * step, ny * step),
                         interpolation=cv2.INTER_LINEAR)
        return big[step: step + height, step: step + width]

    return FrameMap(upsampled(coordinates), upsampled(weight), upsampled(visibility))


def composite(layers: SourceLayers, coordinates: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """The person sampled through ``coordinates`` (full pixels) over the background plate."""
    import cv2

    map_xy, map_fraction = cv2.convertMaps(coordinates, None, cv2.CV_16SC2)
    person = cv2.remap(layers.foreground, map_xy, map_fraction, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.remap(layers.person, map_xy, map_fraction, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    alpha *= visibility
    return cv2.blendLinear(person, layers.plate, alpha, 1.0 - alpha)
