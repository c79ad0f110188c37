"""The mouth interior: what shows between the lips where they part further than in the source.

A warp can only stretch pixels the source has, and a closed mouth has none for its inside:
stretched, the lip seam turns into streaks, and a mouth showing its teeth stretches them into
tall stripes. Inside the target's inner lip contour we therefore paint layers:
- a procedural interior (:mod:`fgemotalk_cli.engines.warp.teeth`: teeth rows, tongue, a shaded
  cavity) coloured from the source's own teeth, lips and skin;
- over it, where the source's mouth is open, the source's own interior (its teeth) carried
  rigidly: the upper half with the upper jaw (the nose), the lower half with the chin, at
  the face's scale, so teeth keep their size and the lips slide over them; between the two,
  when the source's opening is open between its teeth, its own interior stretched
  (:mod:`fgemotalk_cli.engines.warp.own_interior`) instead of the procedural cavity;
- or, for reenactment, the driver's own mouth interior (:class:`MouthPatch`) carried onto the
  target contour and colour-matched to the source, in the spirit of Averbuch-Elor et al.,
  "Bringing Portraits to Life" (2017); where it shows teeth, they take the place of the
  source's own (one set of teeth in a mouth, :func:`own_teeth_share`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.driver_mouth import (
    MIN_OPENING,
    MouthPatch,
    driver_interior,
    opening,
    shows_teeth,
    shows_upper_teeth,
    skin_colour,
)
from fgemotalk_cli.engines.warp.own_interior import (
    INNER_CONTOUR,
    OUTER_CONTOUR,
    OwnInterior,
    teeth_like,
)
from fgemotalk_cli.engines.warp.pixel_stats import polygon_pixels
from fgemotalk_cli.engines.warp.teeth import InteriorColours, procedural_interior, upper_teeth

_LUMA = np.array([0.299, 0.587, 0.114])
_ENAMEL = np.array([236.0, 230.0, 214.0])
_IVORY = np.array([1.03, 1.0, 0.96])  # enamel's hue relative to the light (sclera's hue)
_TEETH_OVER_SCLERA = 1.18  # measured on real open mouths, see _teeth_colour
_TEETH_OVER_SKIN = (1.0, 1.45)
_TEETH_SHARE = 0.2  # share of an opening that must look like teeth for a source to show them
#: An opening (inner lip area over the squared mouth width) from which a source's mouth is
#: open wide: a shout or a yawn is 0.5-0.7, a toothy smile 0.15-0.25, parted lips under 0.12.
WIDE_OPEN = 0.3
_TEETH_FADE = 0.15  # openings over which a driver's missing upper teeth are drawn in
#: Frames over which a video decides about the teeth in its driver's openings (the median
#: of the last ones; see :class:`DriverTeeth`).
_TEETH_FRAMES = 5
#: A target this many times as open as the source (from none to all) has a source's own
#: teeth give way to a driver's (see :func:`own_teeth_share`).
_OWN_TEETH_GIVE_WAY = (0.6, 0.9)
_COLOURED_SKIN = 0.12  # cheek saturation from which a picture counts as in colour


@dataclass(frozen=True)
class MouthStyle:
    """Colours for a synthetic interior, taken once from the source portrait."""

    skin: np.ndarray
    lips: np.ndarray
    teeth: np.ndarray
    cavity: np.ndarray
    source_opening: float
    own_interior: OwnInterior | None = None

    @classmethod
    def from_source(cls, image: np.ndarray, xy: np.ndarray) -> MouthStyle:
        skin = skin_colour(image, xy)
        ring = polygon_pixels(image, xy[list(OUTER_CONTOUR), :2])
        lips = np.median(ring, axis=0) if len(ring) else skin * [0.9, 0.6, 0.6]
        teeth = _teeth_colour(image, xy, skin)
        source_opening = opening(xy)
        cavity = lips * 0.22
        # A mouth open wide (a yawn, a shout) shows its own tongue and cavity: keep them.
        own = _shows_teeth(image, xy, skin) or source_opening >= WIDE_OPEN
        return cls(skin=skin, lips=lips, teeth=teeth, cavity=cavity,
                   source_opening=source_opening,
                   own_interior=OwnInterior.from_source(image, xy, skin) if own else None)


def _shows_teeth(image: np.ndarray, xy: np.ndarray, skin: np.ndarray) -> bool:
    """Whether the source's open mouth shows teeth: a fair share of its opening bright
    (against the cheeks, so it holds for any skin and light) and unsaturated. A dark gap
    between parted lips is no interior worth carrying: the procedural one replaces it."""
    if opening(xy) <= MIN_OPENING:
        return False
    pixels = polygon_pixels(image, xy[list(INNER_CONTOUR), :2])
    if len(pixels) < 30:
        return False
    return float(teeth_like(pixels, skin).mean()) > _TEETH_SHARE


def colourfulness(skin: np.ndarray) -> float:
    """0 for a black-and-white picture (grey cheeks), 1 for one in colour: the cheeks'
    saturation against what skin in colour shows at least (about 0.2)."""
    saturation = float(np.ptp(skin)) / max(float(np.max(skin)), 1.0)
    return float(np.clip(saturation / _COLOURED_SKIN, 0.0, 1.0))


def _teeth_colour(image: np.ndarray, xy: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """The colour of this face's teeth: its own visible teeth where there are some, else
    enamel lit like its eyes.

    On real open mouths (``bench/review_realism.py --real``: nine talking clips of different
    people) the teeth are about 1.18 times as bright as the whites of the eyes and 0.9-1.45
    times the cheeks (1.13 at the median), with the eyes' hue (the light's) a little warmer:
    enamel is ivory, the sclera bluish white. So the hue is the sclera's, warmed, and the
    brightness 1.18 times the sclera's, kept within what real faces show against the cheeks
    (1.0-1.45: a dim, shadowed or lash-darkened eye would otherwise give grey teeth)."""
    luma_weights = np.array([0.299, 0.587, 0.114])
    skin_luma = float(skin @ luma_weights)

    def whitish(pixels: np.ndarray) -> np.ndarray:
        if len(pixels) == 0:
            return pixels
        saturation = np.ptp(pixels, axis=1) / np.maximum(pixels.max(axis=1), 1.0)
        luma = pixels @ luma_weights
        return pixels[(saturation < 0.3) & (luma >= np.percentile(luma, 88))]

    teeth = polygon_pixels(image, xy[list(INNER_CONTOUR), :2])
    if opening(xy) > MIN_OPENING and len(teeth) > 30:
        teeth = whitish(teeth)
        if len(teeth) > 10 and float(np.median(teeth, axis=0) @ luma_weights) > 0.8 * skin_luma:
            return np.median(teeth, axis=0)
    eyes = [polygon_pixels(image, xy[L.eye_opening(eye), :2]) for eye in (0, 1)]
    sclera = np.concatenate([whitish(pixels) for pixels in eyes])
    eye_pixels = np.concatenate(eyes)
    brightest = (eye_pixels[eye_pixels @ luma_weights >= np.percentile(eye_pixels @ luma_weights,
                                                                       88)]
                 if len(eye_pixels) > 30 else eye_pixels[:0])
    if len(sclera) > 10:
        light = np.median(sclera, axis=0)
        # The light's hue, but no more saturated than real sclera gets (a coloured iris
        # edge or make-up must not tint the teeth).
        chroma = light / max(float(light.mean()), 1.0)
        chroma = 1.0 + np.clip(chroma - 1.0, -0.15, 0.2)
        brightness = _TEETH_OVER_SCLERA * float(light @ luma_weights)
    elif len(brightest) > 10 and float(np.median(brightest, axis=0) @ luma_weights) > skin_luma:
        # Eye whites brighter than the skin, but none of them unsaturated: the whole picture
        # is tinted (a varnished painting, a sepia print, a coloured light), its whites are
        # the tint's colour, and so are its teeth (neutral enamel would glow white in it),
        # no brighter than those whites (brighter, the tint reads as gold).
        light = np.median(brightest, axis=0)
        chroma = 1.0 + np.clip(light / max(float(light.mean()), 1.0) - 1.0, -0.3, 0.3)
        brightness = float(light @ luma_weights)
    else:
        # No eye whites to read: the skin's hue, mostly neutralised, is the light's.
        chroma = 1.0 + 0.35 * (skin / max(float(skin.mean()), 1.0) - 1.0)
        brightness = float(_ENAMEL @ luma_weights)
    # Enamel's warmth only where the picture has colour (a black-and-white photo's teeth are grey).
    hue = chroma * (1.0 + (_IVORY - 1.0) * colourfulness(skin))
    hue = hue / max(float(hue @ luma_weights), 1e-6)
    low, high = _TEETH_OVER_SKIN
    brightness = float(np.clip(brightness, low * skin_luma, max(high * skin_luma, 60.0)))
    return np.clip(hue * brightness, 0, 245)


def missing_upper_teeth(patch: MouthPatch, target_opening: float) -> float:
    """0..1: how much of the source's own upper teeth row a driver's interior needs on a
    target opening this wide: a mouth open wide shows the edges of its upper teeth under the
    lip, and a driver's that shows none there (an "O" over its teeth, a blurred video) would
    read as a toothless pink hole."""
    missing = _wide(target_opening)
    return missing * (1.0 - shows_upper_teeth(patch)) if missing > 0.0 else 0.0


def _wide(target_opening: float) -> float:
    """0..1: how far an opening is open wide (from :data:`WIDE_OPEN` over ``_TEETH_FADE``)."""
    return float(L.smoothstep(WIDE_OPEN, WIDE_OPEN + _TEETH_FADE, target_opening))


class DriverTeeth:
    """A video's decisions, frame by frame, about the teeth in its driver's openings,
    steadied over its last :data:`_TEETH_FRAMES` frames (the median): how much procedural
    upper row an opening lacks (:func:`missing_upper_teeth`), and how clearly it shows
    teeth of its own (:func:`shows_teeth`, which a source's own teeth give way to:
    :func:`own_teeth_share`).

    Decided frame by frame alone they flicker: on liveportrait_d12 the opening crosses into
    wide open (frame 164) two frames before the driver's teeth come into view under its
    lip (frame 166), and a row of the source's teeth flashed in for those two frames. The
    median ignores such a flash (and shows a row that a driver really lacks two frames
    late); the row never exceeds what the current opening allows, so a closing mouth drops
    it at once.
    """

    def __init__(self) -> None:
        self._missing: deque[float] = deque(maxlen=_TEETH_FRAMES)
        self._shown: deque[float] = deque(maxlen=_TEETH_FRAMES)

    def steadied(self, patch: MouthPatch | None, target_points: np.ndarray) -> MouthPatch | None:
        """``patch`` with its decisions for the frame of ``target_points`` (pixels) set."""
        if patch is None or not patch.usable():
            self._missing.append(0.0)
            self._shown.append(0.0)
            return patch
        target_opening = opening(np.asarray(target_points, np.float64)[:, :2])
        self._missing.append(missing_upper_teeth(patch, target_opening))
        self._shown.append(shows_teeth(patch))
        return replace(patch,
                       missing_teeth=min(float(np.median(self._missing)), _wide(target_opening)),
                       teeth_shown=float(np.median(self._shown)))


def own_teeth_share(teeth_shown: float, target_opening: float, source_opening: float) -> float:
    """0..1: how much of a source's own teeth is carried in front of a driver's interior
    that shows teeth this clearly (``teeth_shown``, :func:`shows_teeth`).

    The source's rows ride with its jaws and the driver's interior fills the rest of the
    opening, its own teeth included, wherever the affine between the two contours puts
    them: two sets of teeth in one mouth (vasa1_13 under Katie Hill, openings 0.8-1.3 times
    the source's: the source's upper row, a dark slab, the driver's upper row, its lower
    row, white shards at a corner). The driver's teeth alone, recoloured to the source's,
    read as one smile, and the source's give way. Not in a target much narrower than the
    source (obama's broad smile narrowed to a slit by AOC's talking mouth, 0.2-0.5 of it:
    the source's own teeth show in the slit, the driver's squeezed into it would not), nor
    for a driver showing none (an "O", a blurred video)."""
    opened = target_opening / max(source_opening, MIN_OPENING)
    return 1.0 - teeth_shown * float(L.smoothstep(_OWN_TEETH_GIVE_WAY[0],
                                                  _OWN_TEETH_GIVE_WAY[1], opened))


def fill_mouth(roi: np.ndarray, roi_origin: tuple[int, int], style: MouthStyle,
               target_points: np.ndarray, patch: MouthPatch | None = None) -> None:
    """Paint the mouth interior into ``roi`` (the warped region, in place)."""
    import cv2

    target = np.asarray(target_points, np.float64)[:, :2] - roi_origin
    target_opening = opening(target)
    # A driver's interior stretched onto a mouth already open wide (a shout, a yawn) shows
    # teeth a third of the face tall: such a source keeps its own interior.
    wide = style.source_opening >= WIDE_OPEN
    use_patch = patch is not None and patch.usable() and not wide
    if target_opening < MIN_OPENING and not use_patch:
        return
    # A source showing teeth supplies its own interior layer, and then the whole opening is
    # repainted (the warp would stretch the teeth); otherwise only the part of the opening the
    # source cannot supply needs painting, fading in as the target opens beyond it (a mouth
    # open wide and moved a little, by a frown or a smile, stays its own warped picture).
    alpha = 1.0 if use_patch or (style.own_interior is not None and not wide) else float(
        np.clip(1.5 * (1.0 - style.source_opening / target_opening), 0.0, 1.0))
    if alpha <= 0.0:
        return
    polygon = target[list(INNER_CONTOUR)]
    x0, y0 = np.maximum(np.floor(polygon.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(polygon.max(0)).astype(int) + 3, roi.shape[1::-1])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    box_polygon = polygon - (x0, y0)
    box_shape = (int(y1 - y0), int(x1 - x0))
    mask = np.zeros(box_shape, np.uint8)
    cv2.fillPoly(mask, [np.round(box_polygon * 16).astype(np.int32)], (255,), cv2.LINE_AA, 4)
    weight = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 0.6)[..., None] * alpha
    own_interior = style.own_interior
    colours = InteriorColours(style.teeth, style.lips, style.skin)
    box_xy = target - (x0, y0)
    iod_px = float(np.linalg.norm(box_xy[263] - box_xy[33]))
    if use_patch and patch is not None:
        interior = driver_interior(patch, box_xy, box_shape, colours)
        # The source's procedural upper row where the driver's opening lacks one (a face
        # showing its own teeth has them in front anyway).
        missing = 0.0 if own_interior is not None else (
            missing_upper_teeth(patch, target_opening) if patch.missing_teeth is None
            else patch.missing_teeth)
        if missing > 0.0:
            teeth, coverage = upper_teeth(box_xy, box_shape, style.teeth, iod_px)
            interior += (teeth - interior * coverage[..., None]) * np.float32(missing)
    elif own_interior is not None and own_interior.stretch_between:
        # The source's own cavity and tongue, stretched (nothing of its teeth lies there).
        interior = own_interior.stretched(target, (x0, y0), box_shape)
    else:
        interior = procedural_interior(box_xy, box_shape, colours, iod_px,
                                       teeth=own_interior is None)
    if own_interior is not None:
        # The source's own teeth in front of whatever interior is behind them, but for a
        # driver's that show teeth of their own: those take their place (own_teeth_share).
        own, coverage = own_interior.carried(target, (x0, y0), box_shape)
        if use_patch and patch is not None:
            shown = shows_teeth(patch) if patch.teeth_shown is None else patch.teeth_shown
            coverage *= np.float32(own_teeth_share(shown, target_opening,
                                                   style.source_opening))
        interior += (own - interior) * coverage[..., None]
    grey = 1.0 - colourfulness(style.skin)
    if grey > 0.0:
        # A black-and-white picture: no red tongue or driver's colours in it, only its tint.
        tint = (style.skin / max(float(style.skin @ _LUMA), 1.0)).astype(np.float32)
        interior += ((interior @ _LUMA.astype(np.float32))[..., None] * tint - interior) * grey
    box = roi[y0:y1, x0:x1].astype(np.float32)
    roi[y0:y1, x0:x1] = np.clip(box + weight * (interior - box) + 0.5, 0, 255).astype(np.uint8)


