"""A driver's own mouth interior, carried onto the target's opening for ``reenact``.

In the spirit of Averbuch-Elor et al., "Bringing Portraits to Life" (2017): the driver frame's
interior (:class:`MouthPatch`) is mapped onto the target's inner lip contour by the
least-squares affine between the two contours, its exposure matched to the source, its teeth
recoloured to the source's, the rim of the driver's own lip it carries along the contour
recoloured to the source's lips, and its crushed blacks lifted to a dark mucosa. Also the
face measures the mouth's layers share (:func:`opening`, :func:`skin_colour`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.own_interior import INNER_CONTOUR, OUTER_CONTOUR, teeth_like
from fgemotalk_cli.engines.warp.pixel_stats import channel_medians, percentile, polygon_pixels
from fgemotalk_cli.engines.warp.teeth import InteriorColours

_CHEEKS = (50, 280, 117, 346, 205, 425)
_LUMA = np.array([0.299, 0.587, 0.114])
MIN_OPENING = 0.015  # inner area / mouth width^2 below which a mouth counts as closed
_LIP_RIM_IOD = 0.05  # how deep into a driver's opening its own lip may show (IOD)
# The darkest a pasted cavity gets, as a share of the cheeks' luma (about 32 on skin of 160:
# the darkest pixels of real open mouths, bench/review_realism.py --real).
_CAVITY_FLOOR = 0.2
_MUCOSA_HUE = np.array([1.45, 0.75, 0.8])  # a dark mucosa's hue, relative to its mean
_UPPER_BAND = 0.3  # the share of a driver's opening below its upper lip where its teeth show
_TEETH_SHOWN = (0.05, 0.2)  # teeth-like share of an opening: from none to clearly teeth
_LIGHT_TINT = 1.2  # at most this much of the source light's colour, channel by channel
#: The largest share of a pixel's R + G + B its red takes inside a mouth: a tongue's is 0.50,
#: a mucosa's 0.54; the driver's lipstick in the shadow of its mouth corner 0.75-0.85.
_MAX_RED_SHARE = 0.6
# The inner contour and the same points one step on (its next corners), as index arrays.
_INNER = np.array(INNER_CONTOUR)
_INNER_NEXT = np.roll(_INNER, -1)


def opening(xy: np.ndarray) -> float:
    """How open a mouth is: inner lip area over the squared mouth width (closed: about 0)."""
    x, y = xy[_INNER, 0], xy[_INNER, 1]
    area = 0.5 * abs(float(np.dot(x, xy[_INNER_NEXT, 1]) - np.dot(y, xy[_INNER_NEXT, 0])))
    width = float(np.linalg.norm(xy[L.UPPER_INNER_LIP[-1], :2] - xy[L.UPPER_INNER_LIP[0], :2]))
    return area / max(width * width, 1e-6)


def skin_colour(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Median RGB of small square patches on both cheeks."""
    radius = _cheek_radius(xy)
    height, width = image.shape[:2]
    samples = []
    for index in _CHEEKS:
        x, y = xy[index, :2]
        x0, y0 = max(int(round(x - radius)), 0), max(int(round(y - radius)), 0)
        x1, y1 = min(int(round(x + radius)) + 1, width), min(int(round(y + radius)) + 1, height)
        if x1 > x0 and y1 > y0:
            samples.append(image[y0:y1, x0:x1].reshape(-1, 3))
    pixels = np.concatenate(samples) if samples else np.empty((0, 3), np.uint8)
    return channel_medians(pixels) if len(pixels) else np.array([180.0, 140.0, 120.0])


def _cheek_radius(xy: np.ndarray) -> float:
    """Half the side of :func:`skin_colour`'s cheek patches, in pixels."""
    return max(2.0, 0.08 * float(np.linalg.norm(xy[263, :2] - xy[33, :2])))


@dataclass(frozen=True)
class MouthPatch:
    """A driver frame whose mouth interior is shown instead of a synthetic one."""

    image: np.ndarray  # (H, W, 3) uint8 RGB driver frame
    points: np.ndarray  # (478, 2+) driver landmarks in that frame
    # As the video decided them over its last frames (:class:`~.mouth.DriverTeeth`; None:
    # from this frame alone): the share of the source's procedural upper teeth row drawn
    # into this frame's opening, and how clearly it shows teeth (:func:`shows_teeth`).
    missing_teeth: float | None = None
    teeth_shown: float | None = None

    def usable(self) -> bool:
        return opening(np.asarray(self.points, np.float64)) > MIN_OPENING

    @classmethod
    def around_mouth(cls, image: np.ndarray, points: np.ndarray) -> MouthPatch:
        """The part of a driver frame that the mouth's layers read, with the landmarks moved
        into it: the lips and half a mouth's width around them (the interior's affine samples
        there) and the cheeks' skin samples (:func:`skin_colour`). A render worker is sent
        this, about a sixth of a frame, instead of the whole frame, and renders the same mouth:
        the points move by whole pixels, so every rounding stays where it was."""
        xy = np.asarray(points, np.float64)[:, :2]
        lips = xy[list(OUTER_CONTOUR)]
        margin = 0.5 * float(np.ptp(lips[:, 0])) + 4.0
        radius = _cheek_radius(xy) + 2.0
        cheeks = xy[list(_CHEEKS)]
        low = np.minimum(lips.min(axis=0) - margin, cheeks.min(axis=0) - radius)
        high = np.maximum(lips.max(axis=0) + margin, cheeks.max(axis=0) + radius)
        height, width = image.shape[:2]
        x0, y0 = (int(v) for v in np.clip(np.floor(low), 0, (width, height)))
        x1, y1 = (int(v) for v in np.clip(np.ceil(high) + 1, 0, (width, height)))
        if x1 <= x0 or y1 <= y0:  # landmarks off the frame: nothing to crop to
            return cls(image, points)
        moved = np.array(points, copy=True)
        moved[:, 0] -= x0
        moved[:, 1] -= y0
        return cls(np.ascontiguousarray(image[y0:y1, x0:x1]), moved)


def shows_teeth(patch: MouthPatch) -> float:
    """0..1: how clearly the driver's opening shows teeth at all (the teeth-like share of
    the whole opening, against its own cheeks)."""
    xy = np.asarray(patch.points, np.float64)[:, :2]
    share = _teeth_like_share(patch, xy, xy[list(INNER_CONTOUR)])
    return 0.0 if share is None else float(L.smoothstep(*_TEETH_SHOWN, share))


def shows_upper_teeth(patch: MouthPatch) -> float:
    """0..1: how clearly the driver's opening shows its upper teeth (the teeth-like share of
    the top :data:`_UPPER_BAND` of its opening, against its own cheeks). A wide "O" whose
    upper lip hides the teeth, or a blurred video that washed them into the palate, shows 0."""
    xy = np.asarray(patch.points, np.float64)[:, :2]
    upper, lower = xy[list(L.UPPER_INNER_LIP)], xy[list(L.LOWER_INNER_LIP)]
    band = np.concatenate([upper, (upper + _UPPER_BAND * (lower - upper))[::-1]])
    share = _teeth_like_share(patch, xy, band)
    # Too small to tell: the driver's mouth is left as it is.
    return 1.0 if share is None else float(L.smoothstep(0.04, 0.15, share))


def _teeth_like_share(patch: MouthPatch, xy: np.ndarray, polygon: np.ndarray) -> float | None:
    """The share of the driver's pixels inside ``polygon`` that look like teeth against its
    own cheeks; None where the polygon holds too few pixels to tell."""
    pixels = polygon_pixels(patch.image, polygon)
    if len(pixels) < 10:
        return None
    return float(teeth_like(pixels.astype(np.float64), skin_colour(patch.image, xy)).mean())


def driver_interior(patch: MouthPatch, xy: np.ndarray, shape: tuple[int, int],
                    style: InteriorColours) -> np.ndarray:
    """The driver's mouth interior mapped onto the target's inner lip contour by the
    least-squares affine between the two contours, its exposure and light matched to the
    source (see the module docstring)."""
    import cv2

    driver = np.asarray(patch.points, np.float64)[:, :2]
    src = driver[list(INNER_CONTOUR)]
    dst = xy[list(INNER_CONTOUR)]
    design = np.concatenate([dst, np.ones((len(dst), 1))], 1)
    # Affine from the target box back into the driver frame, as warpAffine's inverse map.
    inverse, *_ = np.linalg.lstsq(design, src, rcond=None)
    warped = cv2.warpAffine(patch.image, inverse.T.astype(np.float64), (shape[1], shape[0]),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    # The source's exposure, and half of its light's colour (the cheeks' hue against the
    # driver's, within a fifth): a varnished painting or a warm lamp tints the driver's
    # tongue too, while skin tones' own differences are mostly left out. The teeth are
    # matched apart (_match_teeth), so they keep the source's teeth colour either way.
    driver_skin = skin_colour(patch.image, driver)
    source_luma, driver_luma = float(style.skin @ _LUMA), max(float(driver_skin @ _LUMA), 1.0)
    brightness = float(np.clip(source_luma / driver_luma, 0.6, 1.6))
    light = np.sqrt((style.skin / max(source_luma, 1.0))
                    / np.maximum(driver_skin / driver_luma, 1e-3))
    light = np.clip(light, 1.0 / _LIGHT_TINT, _LIGHT_TINT)
    gain = (brightness * light / max(float(light @ _LUMA), 1e-6)).astype(np.float32)
    interior = warped.astype(np.float32)
    # The detected inner lip contour runs on the wet inside of the lips, so the patch carries
    # a rim of the driver's own lip: pixels of the driver's lip hue take the source's lip
    # colour instead (channel by channel) and the rest the exposure gain.
    interior = _match_teeth(interior, patch, driver, style.teeth / gain)
    driver_lips = _lip_colour(patch.image, driver)
    if driver_lips is not None:
        lip_gain = np.clip(style.lips / np.maximum(driver_lips, 1.0), 0.4, 2.5).astype(
            np.float32)
        total = np.maximum(interior.sum(axis=2, keepdims=True), 1.0)
        hue = float(driver_lips.sum())
        distance = np.abs(interior[..., :2] / total - (driver_lips[:2] / max(hue, 1.0))).sum(
            axis=2)
        shade = L.smoothstep(0.08, 0.3, total[..., 0] / max(hue, 1.0))
        # Only along the contour: a tongue or palate of the lips' hue deeper in is no lip
        # (recoloured, a red lipstick turned the driver's tongue red, a moustache mottled it).
        rim = _near_contour(dst, shape, float(np.linalg.norm(xy[263] - xy[33])))
        lipness = (np.clip(1.0 - distance / 0.2, 0.0, 1.0) * shade * rim)[..., None]
        interior = interior * (gain + lipness * (lip_gain - gain))
    else:
        interior = interior * gain
    return _lift_blacks(_cap_red(interior), style)


def _cap_red(interior: np.ndarray) -> np.ndarray:
    """Pixels redder than any mouth tissue (:data:`_MAX_RED_SHARE`) pulled towards grey of
    the same brightness until they are not: the driver's lipstick that the affine carries
    in at a mouth corner, too dark and too saturated for the lip rim's recolouring to take
    it for lip (Katie Hill's at her corner reads (75, 10, 16): a blood-red wedge)."""
    total = interior[..., 0] + interior[..., 1] + interior[..., 2]
    red_share = interior[..., 0] / np.maximum(total, 1.0)
    over = red_share > _MAX_RED_SHARE
    if not over.any():
        return interior
    third = np.float32(1.0 / 3.0)
    keep = (np.float32(_MAX_RED_SHARE) - third) / (red_share[over] - third)
    grey = (total[over] * third)[:, None]
    interior[over] = grey + keep[:, None] * (interior[over] - grey)
    return interior


def _near_contour(contour: np.ndarray, shape: tuple[int, int], iod_px: float) -> np.ndarray:
    """(h, w) float32: 1 on and outside the inner lip ``contour``, fading to 0 inside it
    over :data:`_LIP_RIM_IOD` (the wet rim of lip a detected contour leaves inside the
    opening)."""
    import cv2

    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(contour).astype(np.int32)], (1,))
    depth = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    rim = max(_LIP_RIM_IOD * iod_px, 1.0)
    return (1.0 - L.smoothstep(0.5 * rim, rim, depth)).astype(np.float32)


def _lift_blacks(interior: np.ndarray, style: InteriorColours) -> np.ndarray:
    """A driver's near-black (a deep shadow, a crushed video) lifted to a dark mucosa under
    the source's light: real open mouths are rarely black (their darkest sixth about 45
    luma, bench/review_realism.py --real), and pasted onto a face lit otherwise a crushed
    black reads as a hole. Luma y becomes y + floor (1 - y / 2 floor)^2 below twice the
    floor (monotone: black becomes the floor, twice the floor and above stay), the added
    light in the mucosa's hue."""
    mucosa = 0.5 * style.lips / max(float(np.mean(style.lips)), 1.0) + 0.5 * _MUCOSA_HUE
    floor = _CAVITY_FLOOR * float(style.skin @ _LUMA)
    colour = (mucosa / max(float(mucosa @ _LUMA), 1.0) * floor).astype(np.float32)
    # Channel by channel: a product along the three-long axis is several times slower.
    weights = (_LUMA / (2.0 * floor)).astype(np.float32)
    shortfall = np.maximum(1.0 - (interior[..., 0] * weights[0] + interior[..., 1] * weights[1]
                                  + interior[..., 2] * weights[2]), 0.0)
    shortfall *= shortfall
    interior += shortfall[..., None] * colour  # the caller's own array: lifted in place
    return interior


def _match_teeth(interior: np.ndarray, patch: MouthPatch, driver: np.ndarray,
                 teeth: np.ndarray) -> np.ndarray:
    """The driver's teeth recoloured to the source's (its own visible teeth, or the
    enamel estimate from its eyes): teeth-like pixels of the carried interior (bright and
    unsaturated against the driver's own teeth) take a per-channel gain onto ``teeth`` (the
    source's teeth before the exposure gain the caller applies next)."""
    pixels = polygon_pixels(patch.image, driver[list(INNER_CONTOUR)])
    if len(pixels) < 30:
        return interior
    luma_weights = np.array([0.299, 0.587, 0.114])
    luma = pixels @ luma_weights
    # Channel against channel: reductions along the three-long axis are several times slower.
    red, green, blue = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    most = np.maximum(np.maximum(red, green), blue)
    saturation = (most - np.minimum(np.minimum(red, green), blue)) / np.maximum(most, 1.0)
    bright = (saturation < 0.3) & (luma >= percentile(luma, 80))
    if np.count_nonzero(bright) < 10:
        return interior
    driver_teeth = channel_medians(pixels[bright])
    gain = np.clip(teeth / np.maximum(driver_teeth, 1.0), 0.5, 1.6).astype(np.float32)
    red, green, blue = interior[..., 0], interior[..., 1], interior[..., 2]
    brightest = np.maximum(np.maximum(red, green), blue)
    total = np.maximum(brightest, 1.0)
    whiteness = (1.0 - (brightest - np.minimum(np.minimum(red, green), blue)) / total)
    brightness = (interior @ luma_weights.astype(np.float32)) / max(
        float(driver_teeth @ luma_weights), 1.0)
    teethness = (L.smoothstep(0.6, 0.8, whiteness) * L.smoothstep(0.45, 0.8, brightness))
    return interior * (1.0 + teethness[..., None] * (gain - 1.0))


def _lip_colour(image: np.ndarray, xy: np.ndarray) -> np.ndarray | None:
    """Median RGB of the vermilion (between the outer and inner lip contours), or None."""
    import cv2

    outer, inner = xy[list(OUTER_CONTOUR)], xy[list(INNER_CONTOUR)]
    height, width = image.shape[:2]
    x0, y0 = np.maximum(np.floor(outer.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(outer.max(axis=0)).astype(int) + 1, (width, height))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round(outer - (x0, y0)).astype(np.int32)], (1,))
    cv2.fillPoly(mask, [np.round(inner - (x0, y0)).astype(np.int32)], (0,))
    pixels = image[y0:y1, x0:x1][mask.astype(bool)]
    return channel_medians(pixels) if len(pixels) > 10 else None
