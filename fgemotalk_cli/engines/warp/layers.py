"""Layers of a portrait: the head (with its hair), the neck and body, and the background.

Built once per source (:func:`build_layers`):
- the person mask (:func:`fgemotalk_cli.faces.segmentation.person_mask`);
- a background plate: the photo with the person painted out
  (:func:`~fgemotalk_cli.engines.warp.plate.background_fill`: the background beside the
  person mirrored into the band along its outline, a smooth fill deeper in), so background the
  head uncovers has the photo's own colours and texture, the same every frame (no flicker);
- the person's own colour, unmixed from the background at its soft edges
  (``(source - (1 - mask) * plate) / mask``), which composites back onto the plate into the
  source (to within a grey level) when nothing moves;
- the head region: a soft weight that is 1 over the head and hair and falls to 0 down the
  neck, in the source face's own frame (so a tilted head's neck is still "down").

Per frame, :func:`layered_map` builds the backward map of the whole frame: the head moves with
the head's motion (the affine that the warp mesh's outer rings follow, 3-D turned), the body
stays, and the neck blends between them (a raised head stretches its neck rather than opening
a hole in it). Every output pixel then takes the person's colour and alpha from where the map
samples the source, over the plate (:func:`composite`): background beside and above a moving
head is the photo's own still background, never background dragged along with the head.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.plate import MATTE_REACH_IOD, background_fill, soft_matte
from fgemotalk_cli.faces.segmentation import person_mask

# Head weight falloff in the face frame (IOD units): below the chin, over the neck (about one
# IOD long). The face mesh's own map fades out further down, so a dropped jaw stays whole.
_NECK_TOP_IOD = 0.3
_NECK_BOTTOM_IOD = 1.1
_FACE_MAP_EXTRA_IOD = 0.6
# Sideways, beyond the ears and hair, nothing belongs to the head.
_SIDE_INNER_IOD = 2.6
_SIDE_OUTER_IOD = 4.2
# The segmentation's soft edge is wide and reaches into the background; sharpened to this
# band, hair keeps a soft edge and the background a little way off stays background.
_PERSON_EDGE = (0.2, 0.8)
_PERSON_FLOOR = 0.02  # alpha at or below this is none (the matte's faint noise)
_FRINGE_FLOOR = 0.02  # segmentation above this may hold the edge's mixed colours
# The person continues beyond the photo's edge only where it meets it this wide (IODs).
_EDGE_CONTACT_IOD = 0.6
# The neck under the jaw: from the lower jaw corners (MediaPipe 172 and 397, the subject's
# right and left), narrowed towards the middle, this many IODs down.
_LOWER_JAW = (172, 397)
_NECK_WIDTH = 0.8
_NECK_LENGTH_IOD = 1.6
#: Share of the head's translation the neck and body follow: a talking head's shoulders move
#: with it (and a shaking camera moves both), but less.
BODY_FOLLOW = 0.5
#: Step of the coarse grid of the frame's backward map, in working pixels (it is affine
#: almost everywhere, so a coarse grid upsampled is exact enough).
FRAME_GRID_STEP = 8
#: How the person is sampled beyond the photo's edge (cv2's BORDER_REFLECT).
PERSON_BORDER = 2


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), pixels


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

    def weight(self, xy: np.ndarray, extra_iod: float = 0.0) -> np.ndarray:
        """Head weight 0..1 at points ``xy`` (..., 2) in working pixels; ``extra_iod`` moves
        the neck falloff further down."""
        return self.weights(xy, (extra_iod,))[0]

    def weights(self, xy: np.ndarray, extra_iods: tuple[float, ...]) -> list[np.ndarray]:
        """:meth:`weight` at ``xy`` for each of ``extra_iods``, the shared terms computed once."""
        relative = (xy - self.origin) / self.iod_px
        across = np.abs(relative @ self.axes[0])
        below = relative @ self.axes[1] - self.chin_iod
        sideways = 1.0 - L.smoothstep(_SIDE_INNER_IOD, _SIDE_OUTER_IOD, across)
        return [(1.0 - L.smoothstep(_NECK_TOP_IOD, _NECK_BOTTOM_IOD, below - extra))
                * sideways for extra in extra_iods]


@dataclass(frozen=True)
class SourceLayers:
    """Per-source layers at the output (full) resolution; the head region in working pixels."""

    plate: np.ndarray  # (H, W, 3) uint8 background with the person painted out
    foreground: np.ndarray  # (H, W, 4) uint8 the person's colour (unmixed from the plate)
    # and alpha, in one image so that one remap samples both
    person: np.ndarray  # (H, W) float32 person alpha
    head: HeadRegion
    # x0, y0, x1, y1 (full pixels) around every pixel with any alpha: beyond where the frame
    # map can sample it, a frame is the plate (see :func:`layered_map`).
    person_box: Box = (0, 0, 0, 0)
    # (H, W) uint8: the alpha with its outermost rows and columns kept only where the person
    # meets the photo's edge over a width (see :func:`composite`); None: the alpha as it is.
    edge_alpha: np.ndarray | None = None


def build_layers(full_image: np.ndarray, work_scale: float, frame: L.FaceFrame,
                 points: np.ndarray) -> SourceLayers:
    """The layers of a source; ``frame`` and ``points`` are in working pixels, which are
    ``work_scale`` times smaller than ``full_image``'s."""
    import cv2

    height, width = full_image.shape[:2]
    iod_px = frame.iod_px * work_scale
    segmentation = person_mask(full_image)
    person = L.smoothstep(*_PERSON_EDGE, segmentation).astype(np.float32)
    # The segmentation can miss a shadowed neck side or a cheek against a like-coloured
    # wall; the face and the neck under it are the person whatever it says.
    face_and_neck = _face_and_neck(points, frame, work_scale, (width, height))
    np.maximum(person, face_and_neck, out=person)
    # The background guessed over the person and the band beyond its mask where fine hair
    # may be; against it the mask's edge becomes a soft matte (wisps included).
    reach = max(2, round(2 * work_scale))
    wide = reach + round(MATTE_REACH_IOD * iod_px)
    wide_hole = cv2.dilate((person > 0.0).astype(np.uint8),
                           cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * wide + 1,) * 2))
    guess = background_fill(full_image, wide_hole, iod_px)
    person = np.maximum(soft_matte(full_image, guess, person, iod_px), face_and_neck)
    # The hole to paint: the person, the faint outer edge of the segmentation (the hair's
    # fringe of mixed colours is there, which mirrored would outline the head's old place)
    # and a few pixels more, mirrored across its outline so the photo's texture runs on.
    hole = cv2.dilate(((person > _PERSON_FLOOR) | (segmentation > _FRINGE_FLOOR)).astype(np.uint8),
                      cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2))
    filled = background_fill(full_image, hole, iod_px)
    inside = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), max(1.0, reach / 3.0))
    # Exactly the photo where no person is near: the still background composites back as is.
    inside[hole == 0] = 0.0
    source = full_image.astype(np.float32)
    plate = np.clip(source + inside[..., None] * (filled - source) + 0.5,
                    0, 255).astype(np.uint8)
    person[person <= _PERSON_FLOOR] = 0.0
    # Where the mask is faint the unmixed colour is noise; there it is the photo's own.
    alpha = np.maximum(person, 0.05)[..., None]
    unmixed = (source - (1.0 - alpha) * plate) / alpha
    colour = np.where(person[..., None] > 0.05, unmixed, source)
    foreground = np.clip(np.dstack([colour, 255.0 * person]) + 0.5, 0, 255).astype(np.uint8)
    return SourceLayers(plate=plate, foreground=foreground, person=person,
                        head=HeadRegion.from_face(frame, points),
                        person_box=bounding_box(foreground[..., 3] > 0),
                        edge_alpha=_edge_alpha(foreground[..., 3],
                                               round(_EDGE_CONTACT_IOD * iod_px)))


def _edge_alpha(alpha: np.ndarray, width_px: int) -> np.ndarray:
    """``alpha`` with its four border lines opened (eroded, then dilated) along the border
    over ``width_px``: where the person only grazes the photo's edge (a tuft of hair, the
    soft rim of the mask) it is not continued beyond it, which would draw a column."""
    import cv2

    edged = np.array(alpha, np.uint8, order="C")  # a copy
    kernel = np.ones((1, max(1, width_px)), np.uint8)
    for line in (edged[:1], edged[-1:], edged[:, :1].T, edged[:, -1:].T):
        opened = cv2.morphologyEx(np.ascontiguousarray(line), cv2.MORPH_OPEN, kernel,
                                  borderType=cv2.BORDER_REPLICATE)
        line[...] = opened
    return edged


def bounding_box(mask: np.ndarray) -> Box:
    """x0, y0, x1, y1 (exclusive) around the true pixels of ``mask``; all zero if none."""
    columns, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
    if not len(columns):
        return (0, 0, 0, 0)
    return (int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1)


def _face_and_neck(points: np.ndarray, frame: L.FaceFrame, work_scale: float,
                   size: tuple[int, int]) -> np.ndarray:
    """(H, W) float32: the face oval and a neck below it (from the lower jaw down), softened."""
    import cv2

    region = HeadRegion.from_face(frame, points)
    down = region.axes[1] * _NECK_LENGTH_IOD * frame.iod_px
    jaw = points[list(_LOWER_JAW), :2]
    centre = jaw.mean(axis=0)
    neck_top = centre + _NECK_WIDTH * (jaw - centre)
    neck = np.array([neck_top[0], neck_top[1], neck_top[1] + down, neck_top[0] + down])
    mask = np.zeros((size[1], size[0]), np.uint8)
    scale = 1 << 4
    for polygon in (points[list(L.FACE_OVAL), :2], neck):
        full = ((polygon + 0.5) * work_scale - 0.5) * scale
        cv2.fillPoly(mask, [np.round(full).astype(np.int32)], (255,), cv2.LINE_AA, 4)
    soft = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.05 * frame.iod_px * work_scale))
    return soft.astype(np.float32) * (1.0 / 255.0)


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """The inverse of a (2, 3) affine map, in closed form: a LAPACK call per frame would wake
    OpenBLAS's helper threads for a 2x2 matrix (see :mod:`fgemotalk_cli.pipelines.threads`)."""
    (a, b), (c, d) = affine[:, :2]
    determinant = a * d - b * c
    linear = np.array([[d, -b], [-c, a]], np.float64) / determinant
    return np.concatenate([linear, -linear @ affine[:, 2:]], axis=1)


@dataclass(frozen=True)
class FrameMap:
    """The frame's backward map at the output resolution, before the face mesh, over ``box``:
    beyond it the map samples no person, so the frame there is the plate."""

    box: Box  # x0, y0, x1, y1 in output (full) pixels
    coordinates: np.ndarray  # (h, w, 2) float32 source x, y in output (full) pixels
    face_weight: np.ndarray  # (h, w) float32: how far down the face mesh's own map reaches
    beyond_edge: bool = False  # whether the map samples beyond the photo's edge anywhere


def layered_map(layers: SourceLayers, head_forward: np.ndarray, work_size: tuple[int, int],
                full_size: tuple[int, int], keep: Box = (0, 0, 0, 0)) -> FrameMap:
    """The head (affine ``head_forward``: source to target working pixels) over a body that
    follows its translation by :data:`BODY_FOLLOW`, on a coarse grid upsampled to
    ``full_size``; only over the pixels whose map can reach the person, and ``keep``."""
    width, _ = full_size
    head = layers.head
    scale = width / work_size[0]
    step, work = _frame_grid(full_size, work_size[0])
    backward = invert_affine(head_forward)
    rigid = work @ backward[:, :2].T + backward[:, 2]
    weight, face_weight = head.weights(rigid, (0.0, _FACE_MAP_EXTRA_IOD))
    head_shift = head_forward[:, :2] @ head.origin + head_forward[:, 2] - head.origin
    body = work - BODY_FOLLOW * head_shift
    blended = body + weight[..., None] * (rigid - body)
    coordinates = ((blended + 0.5) * scale - 0.5).astype(np.float32)
    box = _union(_reach_box(coordinates, layers.person_box, step, full_size), keep)
    beyond = bool(coordinates.min() < 0.0 or coordinates[..., 0].max() > width - 1
                  or coordinates[..., 1].max() > full_size[1] - 1)
    return FrameMap(box, _upsampled(coordinates, step, box), _upsampled(face_weight, step, box),
                    beyond)


@functools.lru_cache(maxsize=8)
def _frame_grid(full_size: tuple[int, int], work_width: int) -> tuple[int, np.ndarray]:
    """The coarse grid of :func:`layered_map` for an output size: its step (full pixels) and
    (ny, nx, 2) sample positions in working pixels (read-only; the same for every frame)."""
    width, height = full_size
    scale = width / work_width
    step = max(2, round(FRAME_GRID_STEP * scale))
    # One sample beyond the frame on every side, so the upsampled grid interpolates out to
    # the edges (cv2.resize places sample i at (i + 0.5) * step - 0.5 - step after the crop).
    nx, ny = width // step + 3, height // step + 3
    first = 0.5 * step - 0.5 - step
    xs = first + step * np.arange(nx)
    ys = first + step * np.arange(ny)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)  # (ny, nx, 2) full pixels
    work = (grid + 0.5) / scale - 0.5
    work.setflags(write=False)
    return step, work


def _reach_box(coordinates: np.ndarray, person_box: Box, step: int,
               full_size: tuple[int, int]) -> Box:
    """The output pixels whose upsampled map can sample a person pixel.

    The upsampled map is bilinear between coarse samples, so over a cell it stays within its
    four corners' range (each axis apart); folded back into the frame, as the remap's
    reflected border samples it, a cell can only reach the person if that range meets the
    person's box, widened by the one pixel a bilinear sample reaches. The cells that can make
    the box."""
    width, height = full_size
    px0, py0, px1, py1 = person_box
    if px1 <= px0 or py1 <= py0:
        return (0, 0, 0, 0)

    def cell_range(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        corners = (values[:-1, :-1], values[:-1, 1:], values[1:, :-1], values[1:, 1:])
        low = np.minimum(np.minimum(corners[0], corners[1]), np.minimum(corners[2], corners[3]))
        high = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
        # The range reflected at the frame's edges (BORDER_REFLECT: -1 - x, 2 size - 1 - x);
        # a range across an edge folds onto the edge and the larger of its two sides.
        low_in, high_in = _reflected(low, size), _reflected(high, size)
        folded_low, folded_high = np.minimum(low_in, high_in), np.maximum(low_in, high_in)
        folded_low = np.where(low < 0, 0.0, folded_low)
        folded_high = np.where(high > size - 1, size - 1.0, folded_high)
        return folded_low, folded_high

    (x_low, x_high) = cell_range(coordinates[..., 0], width)
    (y_low, y_high) = cell_range(coordinates[..., 1], height)
    reaches = ((x_high > px0 - 2) & (x_low < px1 + 1) & (y_high > py0 - 2) & (y_low < py1 + 1))
    rows, columns = np.flatnonzero(reaches.any(axis=1)), np.flatnonzero(reaches.any(axis=0))
    if not len(rows):
        return (0, 0, 0, 0)
    # Cell i (samples i and i + 1) spans output pixels (i - 0.5) * step - 0.5 .. (i + 0.5) *
    # step - 0.5 (see the grid above).
    def pixels(first_cell: int, last_cell: int, size: int) -> tuple[int, int]:
        low = int(np.floor((first_cell - 0.5) * step - 0.5))
        high = int(np.ceil((last_cell + 0.5) * step - 0.5)) + 1
        return max(low, 0), min(high, size)

    x0, x1 = pixels(int(columns[0]), int(columns[-1]), width)
    y0, y1 = pixels(int(rows[0]), int(rows[-1]), height)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else (0, 0, 0, 0)


def _reflected(values: np.ndarray, size: int) -> np.ndarray:
    """Positions mirrored into 0..size - 1 as BORDER_REFLECT samples them (once each side)."""
    return np.clip(np.where(values < 0, -1.0 - values,
                            np.where(values > size - 1, 2.0 * size - 1.0 - values, values)),
                   0, size - 1)


def _union(first: Box, second: Box) -> Box:
    if first[2] <= first[0] or first[3] <= first[1]:
        return second
    if second[2] <= second[0] or second[3] <= second[1]:
        return first
    return (min(first[0], second[0]), min(first[1], second[1]),
            max(first[2], second[2]), max(first[3], second[3]))


def _upsampled(values: np.ndarray, step: int, box: Box) -> np.ndarray:
    """The coarse grid ``values`` upsampled ``step`` times (INTER_LINEAR) over ``box`` of the
    output: the samples around the box only, resized, give the same pixels as the whole grid
    (with a sample of margin, the resize's own border handling stays outside the box)."""
    import cv2

    x0, y0, x1, y1 = box
    channels = values.shape[2:]
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0, *channels), np.float32)
    # Output pixel x is upsampled pixel x + step, which interpolates samples
    # floor((x + step + 0.5) / step - 0.5) and the next one.
    ny, nx = values.shape[:2]
    j0 = max(int(np.floor((x0 + step + 0.5) / step - 0.5)) - 1, 0)
    j1 = min(int(np.floor((x1 - 1 + step + 0.5) / step - 0.5)) + 2, nx - 1)
    i0 = max(int(np.floor((y0 + step + 0.5) / step - 0.5)) - 1, 0)
    i1 = min(int(np.floor((y1 - 1 + step + 0.5) / step - 0.5)) + 2, ny - 1)
    block = np.ascontiguousarray(values[i0: i1 + 1, j0: j1 + 1].astype(np.float32))
    big = cv2.resize(block, (block.shape[1] * step, block.shape[0] * step),
                     interpolation=cv2.INTER_LINEAR)
    left, top = x0 + step - j0 * step, y0 + step - i0 * step
    return big[top: top + (y1 - y0), left: left + (x1 - x0)]


def composite(layers: SourceLayers, coordinates: np.ndarray, box: Box,
              plate: np.ndarray | None = None,
              beyond_edge: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The person sampled through ``coordinates`` (full pixels, over ``box`` of the output)
    over the background plate there, and the person's alpha (uint8, 255 = opaque); drawn
    into ``plate`` if given (C-contiguous, the plate over the box), else into a copy.
    ``beyond_edge`` False promises that no coordinate lies beyond the photo's edge."""
    import cv2

    x0, y0, x1, y1 = box
    map_xy, map_fraction = cv2.convertMaps(  # type: ignore[call-overload]  # the stubs lack map2=None
        coordinates, None, cv2.CV_16SC2)
    # Beyond the photo's edge (a head moved down from a top edge that cuts its hair, a body
    # moved up from the bottom edge) the person continues mirrored: replicated, the edge's
    # last row would smear into streaks. Only as far as the person reaches the edge, though:
    # the alpha there is at most the edge's own (where it meets the edge over a width), so a
    # head well inside the photo is not mirrored in beyond it.
    person = cv2.remap(layers.foreground, map_xy, map_fraction, cv2.INTER_LINEAR,
                       borderMode=PERSON_BORDER)
    colour = cv2.cvtColor(person, cv2.COLOR_RGBA2RGB)
    alpha = cv2.extractChannel(person, 3)
    if beyond_edge:
        edge_alpha = (layers.edge_alpha if layers.edge_alpha is not None
                      else cv2.extractChannel(layers.foreground, 3))
        at_edge = cv2.remap(edge_alpha, map_xy, map_fraction, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
        np.minimum(alpha, at_edge, out=alpha)
    # Most of the box is opaque person or bare plate (about 60% and 35% of a portrait's):
    # those pixels are copied and only the soft edge between (a few percent) is blended,
    # by the same ``blendLinear`` that a blend of the whole box would run.
    output = layers.plate[y0:y1, x0:x1].copy() if plate is None else plate
    opaque = cv2.threshold(alpha, 254, 255, cv2.THRESH_BINARY)[1]
    cv2.copyTo(colour, opaque, output)
    soft = (alpha - np.uint8(1)) < 254  # 1..254 (0 wraps round to 255)
    return blend_where(output, colour, alpha, soft), alpha


def blend_where(under: np.ndarray, over: np.ndarray, alpha: np.ndarray,
                where: np.ndarray) -> np.ndarray:
    """``under`` (h, w, 3 uint8, in place) with ``over`` blended onto it by ``alpha`` (h, w:
    uint8 0..255 or float 0..1) at the pixels ``where`` is non-zero, exactly as
    ``cv2.blendLinear(over, under, alpha, 1 - alpha)`` gives them."""
    import cv2

    pixels = np.flatnonzero(where)
    if len(pixels):
        weight = np.take(alpha.reshape(-1), pixels)
        if weight.dtype == np.uint8:
            weight = np.multiply(weight, np.float32(1.0 / 255.0), dtype=np.float32)
        weight = weight[:, None]
        # take and put (the pixels as 3-byte items) are several times faster than fancy
        # indexing of (n, 3) rows.
        flat_under, flat_over = under.reshape(-1, 3), over.reshape(-1, 3)
        blended = cv2.blendLinear(np.take(flat_over, pixels, axis=0)[:, None],
                                  np.take(flat_under, pixels, axis=0)[:, None], weight,
                                  1.0 - weight)
        rgb = np.dtype((np.void, 3))
        np.put(under.reshape(-1).view(rgb), pixels, blended.reshape(-1).view(rgb))
    return under
