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

Per frame, :func:`fgemotalk_cli.engines.warp.frame_map.layered_map` builds the backward map
of the whole frame (head, neck, body). Every output pixel then takes the person's colour and
alpha from where the map samples the source, over the plate (:func:`composite`): background
beside and above a moving head is the photo's own still background, never background dragged
along with the head.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.insets import inset_boxes
from fgemotalk_cli.engines.warp.plate import (
    MATTE_REACH_IOD,
    Box,
    background_fill,
    soft_matte,
)
from fgemotalk_cli.faces.segmentation import person_mask

# Head weight falloff in the face frame (IOD units): below the chin, over the neck (about one
# IOD long). The face mesh's own map fades out further down, so a dropped jaw stays whole.
_NECK_TOP_IOD = 0.3
_NECK_BOTTOM_IOD = 1.1
# Sideways, beyond the ears and hair, nothing belongs to the head.
_SIDE_INNER_IOD = 2.6
_SIDE_OUTER_IOD = 4.2
# The segmentation's soft edge is wide and reaches into the background; sharpened to this
# band, hair keeps a soft edge and the background a little way off stays background.
_PERSON_EDGE = (0.2, 0.8)
_PERSON_FLOOR = 0.02  # alpha at or below this is none (the matte's faint noise)
_FRINGE_FLOOR = 0.02  # segmentation above this may hold the edge's mixed colours
#: The plate's hole reaches this far (face-frame IOD) beyond the segmentation's faint edge.
FRINGE_MARGIN_IOD = 0.05
# The person continues beyond the photo's edge only where it meets it this wide (IODs).
_EDGE_CONTACT_IOD = 0.6
# The neck under the jaw: from the lower jaw corners (MediaPipe 172 and 397, the subject's
# right and left), narrowed towards the middle, this many IODs down.
_LOWER_JAW = (172, 397)
_NECK_WIDTH = 0.8
_NECK_LENGTH_IOD = 1.6
#: How the person is sampled beyond the photo's edge (cv2's BORDER_REFLECT).
PERSON_BORDER = 2


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
    # map can sample it, a frame is the plate (see :mod:`.frame_map`).
    person_box: Box = (0, 0, 0, 0)
    # (H, W) uint8: the alpha with its outermost rows and columns kept only where the person
    # meets the photo's edge over a width (see :func:`composite`); None: the alpha as it is.
    edge_alpha: np.ndarray | None = None
    #: Boxes (full pixels) of thumbnails pasted into the photo's corners (:mod:`.insets`):
    #: no part of the person, drawn over every frame as the photo has them.
    insets: tuple[Box, ...] = ()


def build_layers(full_image: np.ndarray, work_scale: float, frame: L.FaceFrame,
                 points: np.ndarray) -> SourceLayers:
    """The layers of a source; ``frame`` and ``points`` are in working pixels, which are
    ``work_scale`` times smaller than ``full_image``'s."""
    import cv2

    height, width = full_image.shape[:2]
    iod_px = frame.iod_px * work_scale
    segmentation = person_mask(full_image)
    # A thumbnail pasted into a corner is no part of the person, however person-like it
    # looks: it stays where it is, in front of everything (:func:`paste_insets`).
    insets = tuple(box for box in inset_boxes(full_image)
                   if not _overlaps_face(box, points, work_scale))
    for x0, y0, x1, y1 in insets:
        segmentation[y0:y1, x0:x1] = 0.0
    person = L.smoothstep(*_PERSON_EDGE, segmentation).astype(np.float32)
    # The segmentation can miss a shadowed neck side or a cheek against a like-coloured
    # wall; the face and the neck under it are the person whatever it says.
    face_and_neck = _face_and_neck(points, frame, work_scale, (width, height))
    np.maximum(person, face_and_neck, out=person)
    # The background guessed over the person and the band beyond its mask where fine hair
    # may be; against it the mask's edge becomes a soft matte (wisps included).
    reach = max(2, round(2 * work_scale))
    wide = reach + round(MATTE_REACH_IOD * iod_px)
    # (A dilation this wide is slow; the distance to the person is not.)
    wide_hole = (cv2.distanceTransform((person <= 0.0).astype(np.uint8), cv2.DIST_L2, 3)
                 <= wide).astype(np.uint8)
    guess = background_fill(full_image, wide_hole, iod_px)
    person = np.maximum(soft_matte(full_image, guess, person, iod_px), face_and_neck)
    # The hole to paint: the person, the faint outer edge of the segmentation (the hair's
    # fringe of mixed colours is there, which mirrored would outline the head's old place)
    # and a few pixels more, mirrored across its outline so the photo's texture runs on.
    # The hair's soft edge reaches a few pixels past the segmentation's faint edge (on
    # vasa1_13's foliage 10 % of the hair's colour just outside it, 3 % 0.045 IOD out, none
    # by 0.07); the hole reaches past it, or its mirror doubles it into a dark line at the
    # head's old outline.
    margin = max(reach, round(FRINGE_MARGIN_IOD * iod_px))
    hole = (cv2.distanceTransform(
        ((person <= _PERSON_FLOOR) & (segmentation <= _FRINGE_FLOOR)).astype(np.uint8),
        cv2.DIST_L2, 3) <= margin).astype(np.uint8)
    filled = background_fill(full_image, hole, iod_px)
    # The plate is the fill over the whole hole (no photo mixed in at its edge: there the
    # photo is the hair's fringe) and exactly the photo elsewhere, so the still background
    # composites back as is. The fill is continuous with the photo at the hole's edge
    # (:data:`~.plate.EXACT_EDGE_IOD`), so the edge needs no softening.
    plate = np.where(hole[..., None] > 0, np.clip(filled + 0.5, 0, 255), full_image
                     ).astype(np.uint8)
    source = full_image.astype(np.float32)
    person[person <= _PERSON_FLOOR] = 0.0
    # Where the mask is faint the unmixed colour is noise; there it is the photo's own.
    alpha = np.maximum(person, 0.05)[..., None]
    unmixed = (source - (1.0 - alpha) * plate) / alpha
    colour = np.where(person[..., None] > 0.05, unmixed, source)
    foreground = np.clip(np.dstack([colour, 255.0 * person]) + 0.5, 0, 255).astype(np.uint8)
    edge_alpha = _edge_alpha(foreground[..., 3], round(_EDGE_CONTACT_IOD * iod_px))
    for box in insets:
        plate[box[1]:box[3], box[0]:box[2]] = full_image[box[1]:box[3], box[0]:box[2]]
        _continue_behind(foreground, box)
    return SourceLayers(plate=plate, foreground=foreground, person=person,
                        head=HeadRegion.from_face(frame, points),
                        person_box=bounding_box(foreground[..., 3] > 0),
                        edge_alpha=edge_alpha, insets=insets)


def _overlaps_face(box: Box, points: np.ndarray, work_scale: float) -> bool:
    """Whether ``box`` (full pixels) reaches the face (``points`` in working pixels): a
    border found across the face is no thumbnail's, and pasted still it would cut the face."""
    oval = (points[list(L.FACE_OVAL), :2] + 0.5) * work_scale - 0.5
    x0, y0, x1, y1 = box
    return bool(oval[:, 0].max() > x0 and oval[:, 0].min() < x1
                and oval[:, 1].max() > y0 and oval[:, 1].min() < y1)


def _continue_behind(foreground: np.ndarray, box: Box) -> None:
    """The person continued, mirrored across the inset's top or bottom border, into the
    inset's ``box`` of ``foreground`` (in place): a body moved up from behind a thumbnail
    shows more of itself above it, as one moved up from the photo's bottom edge does (see
    :func:`composite`), not a straight cut along the thumbnail's top. Not across its side
    border: a neck beside a thumbnail mirrored sideways behind it came out twice as wide
    under a roll (vasa1_3). An inset is at most half the photo tall (:mod:`.insets`), so it
    meets the top edge or the bottom one, not both."""
    x0, y0, x1, y1 = box
    rows = np.arange(y0, y1)
    # The border that faces into the picture: the top one for an inset at the bottom.
    mirrored = 2 * y0 - 1 - rows if y0 > 0 else 2 * y1 - 1 - rows
    inside = (mirrored >= 0) & (mirrored < foreground.shape[0])
    foreground[y0:y1, x0:x1] = 0
    foreground[rows[inside], x0:x1] = foreground[mirrored[inside], x0:x1]


def paste_insets(frame: np.ndarray, layers: SourceLayers) -> None:
    """The photo's own corner insets over a composited ``frame`` (full pixels, in place):
    a thumbnail lies in front of the moving person, still."""
    for x0, y0, x1, y1 in layers.insets:
        frame[y0:y1, x0:x1] = layers.plate[y0:y1, x0:x1]


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


def composite(layers: SourceLayers, coordinates: np.ndarray, box: Box,
              plate: np.ndarray | None = None,
              beyond_edge: Sequence[Box] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The person sampled through ``coordinates`` (full pixels, over ``box`` of the output)
    over the background plate there, and the person's alpha (uint8, 255 = opaque); drawn
    into ``plate`` if given (C-contiguous, the plate over the box), else into a copy.
    ``beyond_edge``: the only parts of the box (relative to it) whose coordinates may lie
    beyond the photo's edge (empty: none); None: anywhere."""
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
    edge_alpha = (layers.edge_alpha if layers.edge_alpha is not None
                  else cv2.extractChannel(layers.foreground, 3))
    for bx0, by0, bx1, by1 in ([(0, 0, x1 - x0, y1 - y0)] if beyond_edge is None
                               else beyond_edge):
        at_edge = cv2.remap(edge_alpha, np.ascontiguousarray(map_xy[by0:by1, bx0:bx1]),
                            np.ascontiguousarray(map_fraction[by0:by1, bx0:bx1]),
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        np.minimum(alpha[by0:by1, bx0:bx1], at_edge, out=alpha[by0:by1, bx0:bx1])
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
