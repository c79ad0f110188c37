"""The mouth interior: what shows between the lips where they part further than in the source.

A warp can only stretch pixels the source has, and a closed mouth has none for its inside:
stretched, the lip seam turns into streaks. Inside the target's inner lip contour we therefore
paint either a synthetic interior (a dark cavity shaded towards the back, an upper-teeth band
with faint tooth gaps, a hint of lower teeth and tongue on wide openings, coloured from the
source's own lips and skin) or, for reenactment, the driver's own mouth interior
(:class:`MouthPatch`) carried onto the target contour and colour-matched to the source skin,
in the spirit of Averbuch-Elor et al., "Bringing Portraits to Life" (2017).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L

INNER_CONTOUR = (*L.UPPER_INNER_LIP, *reversed(L.LOWER_INNER_LIP[1:-1]))
_OUTER_CONTOUR = (*L.UPPER_OUTER_LIP, *reversed(L.LOWER_OUTER_LIP[1:-1]))
_CHEEKS = (50, 280, 117, 346, 205, 425)
_ENAMEL = np.array([236.0, 230.0, 214.0])
_MIN_OPENING = 0.015  # inner area / mouth width^2 below which a mouth counts as closed


def opening(xy: np.ndarray) -> float:
    """How open a mouth is: inner lip area over the squared mouth width (closed: about 0)."""
    inner = xy[list(INNER_CONTOUR), :2]
    x, y = inner[:, 0], inner[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    width = float(np.linalg.norm(xy[L.UPPER_INNER_LIP[-1], :2] - xy[L.UPPER_INNER_LIP[0], :2]))
    return area / max(width * width, 1e-6)


def _polygon_pixels(image: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    import cv2

    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return image[mask.astype(bool)].reshape(-1, 3).astype(np.float64)


def skin_colour(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Median RGB of small square patches on both cheeks."""
    radius = max(2.0, 0.08 * float(np.linalg.norm(xy[263, :2] - xy[33, :2])))
    height, width = image.shape[:2]
    samples = []
    for index in _CHEEKS:
        x, y = xy[index, :2]
        x0, y0 = max(int(round(x - radius)), 0), max(int(round(y - radius)), 0)
        x1, y1 = min(int(round(x + radius)) + 1, width), min(int(round(y + radius)) + 1, height)
        if x1 > x0 and y1 > y0:
            samples.append(image[y0:y1, x0:x1].reshape(-1, 3))
    pixels = np.concatenate(samples) if samples else np.empty((0, 3), np.uint8)
    return (np.median(pixels, axis=0).astype(np.float64) if len(pixels)
            else np.array([180.0, 140.0, 120.0]))


@dataclass(frozen=True)
class MouthStyle:
    """Colours for a synthetic interior, taken once from the source portrait."""

    skin: np.ndarray
    lips: np.ndarray
    teeth: np.ndarray
    cavity: np.ndarray
    source_opening: float

    @classmethod
    def from_source(cls, image: np.ndarray, xy: np.ndarray) -> MouthStyle:
        skin = skin_colour(image, xy)
        ring = _polygon_pixels(image, xy[list(_OUTER_CONTOUR), :2])
        lips = np.median(ring, axis=0) if len(ring) else skin * [0.9, 0.6, 0.6]
        teeth = _teeth_colour(image, xy, skin)
        source_opening = opening(xy)
        cavity = lips * 0.22
        return cls(skin=skin, lips=lips, teeth=teeth, cavity=cavity,
                   source_opening=source_opening)


def _teeth_colour(image: np.ndarray, xy: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Teeth take the colour of the whites of the eyes (same enamel-like white under the same
    light), a little darker; the source's own visible teeth win where there are some."""
    luma_weights = np.array([0.299, 0.587, 0.114])

    def whitish(pixels: np.ndarray) -> np.ndarray:
        if len(pixels) == 0:
            return pixels
        saturation = np.ptp(pixels, axis=1) / np.maximum(pixels.max(axis=1), 1.0)
        luma = pixels @ luma_weights
        return pixels[(saturation < 0.3) & (luma >= np.percentile(luma, 88))]

    teeth = _polygon_pixels(image, xy[list(INNER_CONTOUR), :2])
    if opening(xy) > _MIN_OPENING and len(teeth) > 30:
        teeth = whitish(teeth)
        if len(teeth) > 10 and float(np.median(teeth, axis=0) @ luma_weights) > 0.8 * float(
                skin @ luma_weights):
            return np.median(teeth, axis=0)
    whites = [whitish(_polygon_pixels(image, xy[[c0, *up, c1, *reversed(low)], :2]))
              for c0, c1, up, low in ((*L.RIGHT_EYE_CORNERS, L.RIGHT_UPPER_LID, L.RIGHT_LOWER_LID),
                                      (*L.LEFT_EYE_CORNERS, L.LEFT_UPPER_LID, L.LEFT_LOWER_LID))]
    sclera = np.concatenate(whites)
    teeth = np.median(sclera, axis=0) * 0.95 if len(sclera) > 10 else _ENAMEL * 0.85
    # Dark lashes and irises can still pull the estimate down: teeth are not darker than skin.
    floor = 1.05 * float(skin @ luma_weights) / max(float(teeth @ luma_weights), 1.0)
    return np.clip(teeth * max(floor, 1.0), 0, 245)


@dataclass(frozen=True)
class MouthPatch:
    """A driver frame whose mouth interior is shown instead of a synthetic one."""

    image: np.ndarray  # (H, W, 3) uint8 RGB driver frame
    points: np.ndarray  # (478, 2+) driver landmarks in that frame

    def usable(self) -> bool:
        return opening(np.asarray(self.points, np.float64)) > _MIN_OPENING


def fill_mouth(roi: np.ndarray, roi_origin: tuple[int, int], style: MouthStyle,
               target_points: np.ndarray, patch: MouthPatch | None = None) -> None:
    """Paint the mouth interior into ``roi`` (the warped region, in place)."""
    import cv2

    target = np.asarray(target_points, np.float64)[:, :2] - roi_origin
    target_opening = opening(target)
    use_patch = patch is not None and patch.usable()
    if target_opening < _MIN_OPENING and not use_patch:
        return
    # Only the part of the opening the source cannot supply needs painting.
    alpha = 1.0 if use_patch else float(np.clip(
        1.5 * (1.0 - style.source_opening / target_opening), 0.0, 1.0))
    if alpha <= 0.0:
        return
    polygon = target[list(INNER_CONTOUR)]
    x0, y0 = np.maximum(np.floor(polygon.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(polygon.max(0)).astype(int) + 3, roi.shape[1::-1])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    box_polygon = polygon - (x0, y0)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round(box_polygon * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    weight = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 0.6)[..., None] * alpha
    if use_patch:
        interior = _driver_interior(patch, target - (x0, y0), mask.shape, style)
    else:
        interior = _synthetic_interior(target - (x0, y0), mask.shape, style)
    box = roi[y0:y1, x0:x1].astype(np.float32)
    roi[y0:y1, x0:x1] = np.clip(box + weight * (interior - box) + 0.5, 0, 255).astype(np.uint8)


def _synthetic_interior(xy: np.ndarray, shape: tuple[int, int],
                        style: MouthStyle) -> np.ndarray:
    """Cavity, teeth and tongue in the box, in mouth coordinates a (-1..1 corner to corner)
    and b (pixels down from the mouth axis)."""
    import cv2

    left, right = xy[L.UPPER_INNER_LIP[0]], xy[L.UPPER_INNER_LIP[-1]]
    half_width = max(float(np.linalg.norm(right - left)) / 2, 1.0)
    axis = (right - left) / (2 * half_width)
    normal = np.array([-axis[1], axis[0]])
    centre = (left + right) / 2
    gy, gx = np.mgrid[0: shape[0], 0: shape[1]].astype(np.float64)
    rel_x, rel_y = gx - centre[0], gy - centre[1]
    a = (rel_x * axis[0] + rel_y * axis[1]) / half_width
    b = rel_x * normal[0] + rel_y * normal[1]

    def curve(indices: tuple[int, ...]) -> np.ndarray:
        rel = xy[list(indices)] - centre
        ca, cb = rel @ axis / half_width, rel @ normal
        order = np.argsort(ca)
        return np.interp(a, ca[order], cb[order])

    top, bottom = curve(L.UPPER_INNER_LIP), curve(L.LOWER_INNER_LIP)
    gap = np.maximum(bottom - top, 1e-3)
    depth = np.clip((b - top) / gap, 0.0, 1.0)
    side = np.clip(np.abs(a), 0.0, 1.0)

    # Darker towards the corners and the back of the mouth.
    shade = (0.55 + 0.45 * (1 - side**2)) * (1 - 0.35 * np.sin(np.pi * depth))
    image = style.cavity[None, None, :] * shade[..., None]
    # The wet inner side of the lips shows as a red rim along the lower lip and the corners.
    rim_width = max(0.08 * half_width, 1.0)
    to_lip = np.minimum(np.maximum(bottom - b, 0.0), (1 - side) * half_width * 0.5)
    rim = np.exp(-to_lip / rim_width) * 0.8
    image += (style.lips * 0.45 - image) * rim[..., None]

    wide = np.clip(gap / half_width - 0.3, 0.0, 1.0)
    # The tongue: a broad low mound, mostly hidden behind the lower lip.
    ellipse = (a / 0.8) ** 2 + ((b - bottom + 0.08 * gap) / (0.3 * gap)) ** 2
    tongue = L.smoothstep(0.0, 0.7, 1 - ellipse) * wide * 0.8
    tongue_rgb = (0.35 * style.lips + 0.65 * style.cavity * 1.6)[None, None, :] * (
        0.85 + 0.25 * np.clip(1 - ellipse, 0, 1))[..., None]
    image += (tongue_rgb - image) * tongue[..., None]

    from_top = b - top
    taper = np.clip(1 - (a / 0.9) ** 4, 0, 1)
    # Teeth sit right behind the lips: a slight parting shows nothing but teeth.
    tooth_height = np.minimum(0.3 * half_width, gap) * taper
    edge = np.clip(tooth_height - from_top + 0.5, 0.0, 1.0) * (from_top > -2)
    gaps = np.zeros_like(a)  # soft dark lines where incisors, laterals and canines meet
    for boundary in (0.0, 0.23, 0.44, 0.62, -0.23, -0.44, -0.62):
        gaps = np.maximum(gaps, np.exp(-0.5 * ((a - boundary) * half_width / 0.8) ** 2))
    gum_shadow = 1 - 0.3 * np.exp(-np.maximum(from_top, 0) / max(0.06 * half_width, 0.8))
    incisal = 1 - 0.12 * np.clip(from_top / np.maximum(tooth_height, 1e-3), 0, 1) ** 3
    teeth_shade = (1 - 0.55 * side**2) * gum_shadow * incisal * (1 - 0.12 * gaps)
    teeth = style.teeth[None, None, :] * teeth_shade[..., None]
    image += (teeth - image) * edge[..., None]

    lower_height = np.minimum(0.1 * half_width, 0.15 * gap) * np.clip(1 - (a / 0.5) ** 4, 0, 1)
    lower_edge = np.clip(lower_height - (bottom - b) + 0.5, 0, 1) * wide
    image += (style.teeth * 0.5 - image) * lower_edge[..., None]
    blur = max(0.6, 0.02 * half_width)
    return cv2.GaussianBlur(image.astype(np.float32), (0, 0), blur)


def _driver_interior(patch: MouthPatch, xy: np.ndarray, shape: tuple[int, int],
                     style: MouthStyle) -> np.ndarray:
    """The driver's mouth interior mapped onto the target's inner lip contour by the
    least-squares affine between the two contours, its brightness matched to the source."""
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
    # One brightness gain, not one per channel: the driver's mouth keeps its own hues (teeth
    # stay white under a warm source light) while matching the source's exposure.
    luma = np.array([0.299, 0.587, 0.114])
    gain = float(np.clip((style.skin @ luma) / max(float(skin_colour(patch.image, driver) @ luma),
                                                   1.0), 0.6, 1.6))
    interior = warped.astype(np.float32)
    # The detected inner lip contour runs on the wet inside of the lips, so the patch carries
    # a rim of the driver's own lip: pixels of the driver's lip hue take the source's lip
    # colour instead (channel by channel) and the rest the exposure gain.
    driver_lips = _lip_colour(patch.image, driver)
    if driver_lips is None:
        return interior * gain
    lip_gain = np.clip(style.lips / np.maximum(driver_lips, 1.0), 0.4, 2.5).astype(np.float32)
    total = np.maximum(interior.sum(axis=2, keepdims=True), 1.0)
    hue = float(driver_lips.sum())
    distance = np.abs(interior[..., :2] / total - (driver_lips[:2] / max(hue, 1.0))).sum(axis=2)
    brightness = L.smoothstep(0.15, 0.4, total[..., 0] / max(hue, 1.0))
    lipness = (np.clip(1.0 - distance / 0.06, 0.0, 1.0) * brightness)[..., None]
    return interior * (gain + lipness * (lip_gain - gain))


def _lip_colour(image: np.ndarray, xy: np.ndarray) -> np.ndarray | None:
    """Median RGB of the vermilion (between the outer and inner lip contours), or None."""
    import cv2

    outer, inner = xy[list(_OUTER_CONTOUR)], xy[list(INNER_CONTOUR)]
    height, width = image.shape[:2]
    x0, y0 = np.maximum(np.floor(outer.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(outer.max(axis=0)).astype(int) + 1, (width, height))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round(outer - (x0, y0)).astype(np.int32)], 1)
    cv2.fillPoly(mask, [np.round(inner - (x0, y0)).astype(np.int32)], 0)
    pixels = image[y0:y1, x0:x1][mask.astype(bool)]
    return np.median(pixels, axis=0).astype(np.float64) if len(pixels) > 10 else None
