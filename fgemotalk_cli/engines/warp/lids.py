"""Closing lids: the skin that covers the eye where an upper lid has come down.

The warp closes an eye by pulling the upper lid's margin down, which stretches whatever the
source shows between the lashes and the brow over the eye. On deep-set eyes that is the
shadow of the socket, on made-up eyes the liner and shadow, and the closed lid comes out dark
and smeared. A real lid unrolls skin from under its fold instead. So where the target's upper
margin has come further down than the source's opening allows, the band it swept is painted
with the source's own lid skin: a strip of the source's upper lid between the lashes and the
fold, read once per source (:class:`LidStyle`), unrolled over the band from the outer to the
inner corner, a little darker towards the fold and the corners, with a lash line drawn
along its lower edge in the source's own lash colour. Nothing of the warped eye (iris, white,
stretched lashes) shows through a closed lid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L

_EYES = (
    (L.RIGHT_EYE_CORNERS, L.RIGHT_UPPER_LID, L.RIGHT_LOWER_LID, L.RIGHT_BROW_LOWER),
    (L.LEFT_EYE_CORNERS, L.LEFT_UPPER_LID, L.LEFT_LOWER_LID, L.LEFT_BROW_LOWER),
)
_MIN_CLOSURE = 0.25  # share of the source opening below which nothing is painted
_LID_SAMPLE = (0.3, 0.75)  # of the way from the lid margin to the brow: where the tone is read
_STRIP_SAMPLE = (0.55, 0.14)  # the strip unrolled over a closing lid, top row to bottom row
_STRIP_SIZE = (12, 40)  # rows, columns of the rectified lid-skin strip
_LASH_WIDTH = 0.028  # of the eye width: the lash line's half-thickness on a closed lid
_MIN_TONE = 0.85  # the lid tone is at least this bright relative to the cheeks
_DETAIL = 0.7  # how much of the warped texture's fine detail stays on the painted lid
_STRENGTH = 0.85  # at most this much of the lid tone replaces the warped lid
_REACH = 1.3  # the band painted, in units of how far the margin came down
_OWN_TONE = 0.6  # the lid's colour: this much its own skin tone, the rest its surroundings'
_DARKER = 0.25  # a warped lid this much darker than the painted one (of the tone) is fully lit


@dataclass(frozen=True)
class LidStyle:
    """Per eye (subject's right, left): lid skin tone and the source opening."""

    tones: tuple[np.ndarray, np.ndarray]  # RGB
    openings: tuple[np.ndarray, np.ndarray]  # (7,) lid gap at each margin point over eye width
    heights: tuple[np.ndarray, np.ndarray]  # (7,) upper margin below the corners over width
    # Per eye: the source's upper-lid skin rectified to _STRIP_SIZE (float32 RGB; rows from
    # near the fold down to just above the lashes, columns outer to inner corner), and the
    # colour of its lashes.
    strips: tuple[np.ndarray, np.ndarray] | None = None
    lashes: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_source(cls, image: np.ndarray, xy: np.ndarray, skin: np.ndarray) -> LidStyle:
        """``skin``: the cheeks' RGB, a floor for a lid tone read in the socket's shadow."""
        tones, openings, heights, strips, lashes = [], [], [], [], []
        luma = np.array([0.299, 0.587, 0.114])
        for corners, upper, lower, brow in _EYES:
            _, normal = _eye_axes(xy, corners)
            width = max(float(np.linalg.norm(xy[corners[1]] - xy[corners[0]])), 1e-6)
            gaps = ((xy[list(lower)] - xy[list(upper)]) @ normal).clip(min=0.0)
            openings.append(gaps / width)
            heights.append((xy[list(upper)] - xy[corners[0]]) @ normal / width)
            tone = _lid_tone(image, xy, corners, upper, brow)
            floor = _MIN_TONE * float(skin @ luma)
            if float(tone @ luma) < floor:
                tone = tone * floor / max(float(tone @ luma), 1.0)
            tones.append(np.clip(tone, 0.0, 255.0))
            strip, lash = _lid_strip(image, xy, corners, upper, brow)
            # A lid read in the socket's shadow is lifted towards the skin, as the tone is.
            strip_luma = float(strip.reshape(-1, 3).mean(0) @ luma)
            if strip_luma < floor:
                strip = strip * min(floor / max(strip_luma, 1.0), 1.8)
            strips.append(np.clip(strip, 0.0, 255.0).astype(np.float32))
            lashes.append(lash)
        return cls(tones=(tones[0], tones[1]), openings=(openings[0], openings[1]),
                   heights=(heights[0], heights[1]), strips=(strips[0], strips[1]),
                   lashes=(lashes[0], lashes[1]))

    def with_openings_of(self, xy: np.ndarray) -> LidStyle:
        """The same tones with the openings of another frame of the same face (a video edited
        frame by frame reads the tones once per shot; each frame's lids are its own)."""
        openings, heights = [], []
        for corners, upper, lower, _ in _EYES:
            _, normal = _eye_axes(xy, corners)
            width = max(float(np.linalg.norm(xy[corners[1]] - xy[corners[0]])), 1e-6)
            openings.append(((xy[list(lower)] - xy[list(upper)]) @ normal).clip(min=0.0) / width)
            heights.append((xy[list(upper)] - xy[corners[0]]) @ normal / width)
        return LidStyle(tones=self.tones, openings=(openings[0], openings[1]),
                        heights=(heights[0], heights[1]))


def _eye_axes(xy: np.ndarray, corners: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along the eye (outer to inner corner) and down across it."""
    along = xy[corners[1], :2] - xy[corners[0], :2]
    along = along / max(float(np.linalg.norm(along)), 1e-6)
    down = np.array([-along[1], along[0]])
    if down[1] < 0:
        down = -down
    return along, down


def _lid_tone(image: np.ndarray, xy: np.ndarray, corners: tuple[int, int],
              upper: tuple[int, ...], brow: tuple[int, ...]) -> np.ndarray:
    """Median RGB of the brighter half of the upper lid skin between the fold and the brow."""
    import cv2

    margin = xy[[corners[0], *upper, corners[1]], :2]
    brow_points = xy[list(brow), :2]
    # A band part of the way from each margin point up to the nearest brow point.
    nearest = brow_points[np.argmin(((margin[:, None] - brow_points[None]) ** 2).sum(2), 1)]
    low, high = (margin + share * (nearest - margin) for share in _LID_SAMPLE)
    polygon = np.concatenate([low, high[::-1]])
    height, width = image.shape[:2]
    x0, y0 = np.maximum(np.floor(polygon.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(polygon.max(0)).astype(int) + 1, (width, height))
    fallback = np.median(image.reshape(-1, 3), axis=0).astype(np.float64)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return fallback
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round(polygon - (x0, y0)).astype(np.int32)], (1,))
    pixels = image[y0:y1, x0:x1][mask.astype(bool)].astype(np.float64)
    if len(pixels) < 8:
        return fallback
    luma = pixels @ np.array([0.299, 0.587, 0.114])
    # Lashes, liner and the fold's shadow are the darker half; the lid skin the brighter.
    bright = (luma >= np.percentile(luma, 50)) & (luma <= np.percentile(luma, 95))
    return np.median(pixels[bright], axis=0) if bright.any() else fallback


def _lid_strip(image: np.ndarray, xy: np.ndarray, corners: tuple[int, int],
               upper: tuple[int, ...], brow: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The source's upper-lid skin rectified: (rows, columns, 3) float32, and its lash RGB
    (the darkest pixels just above the margin)."""
    import cv2

    along, down = _eye_axes(xy, corners)
    origin = xy[corners[0], :2]
    margin = xy[[corners[0], *upper, corners[1]], :2]
    brow_points = xy[list(brow), :2]
    margin_a = (margin - origin) @ along
    order = np.argsort(margin_a)
    rows, columns = _STRIP_SIZE
    a = np.linspace(margin_a.min(), margin_a.max(), columns)
    margin_xy = np.stack([np.interp(a, margin_a[order], margin[order, k]) for k in (0, 1)], 1)
    brow_a = (brow_points - origin) @ along
    brow_order = np.argsort(brow_a)
    brow_xy = np.stack([np.interp(a, brow_a[brow_order], brow_points[brow_order, k])
                        for k in (0, 1)], 1)
    shares = np.linspace(*_STRIP_SAMPLE, rows)
    grid = margin_xy[None] + shares[:, None, None] * (brow_xy - margin_xy)[None]
    strip: np.ndarray = cv2.remap(image, grid[..., 0].astype(np.float32),
                                  grid[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    # The detected margin can sit a little above the real one, so the rows nearest it may
    # catch the white of the eye or a lash: pixels far off their row's median are not lid
    # skin, and take that median instead.
    luma = strip @ np.array([0.299, 0.587, 0.114], np.float32)
    median = np.median(luma, axis=1, keepdims=True)
    outlier = (luma > 1.15 * median + 8) | (luma < 0.6 * median)
    for row in range(strip.shape[0]):
        good = ~outlier[row]
        if good.any() and not good.all():
            strip[row, ~good] = np.median(strip[row, good], axis=0)
    # Smooth a little: a lid closing over the eye shows its skin, not the one-pixel detail
    # of the sampling.
    strip = cv2.GaussianBlur(strip, (0, 0), 0.7)
    lash_band = margin_xy[None] + np.linspace(0.0, 0.1, 4)[:, None, None] * (
        brow_xy - margin_xy)[None]
    lash_pixels = cv2.remap(image, lash_band[..., 0].astype(np.float32),
                            lash_band[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT).reshape(-1, 3).astype(np.float64)
    lash_luma = lash_pixels @ np.array([0.299, 0.587, 0.114])
    dark = lash_pixels[lash_luma <= np.percentile(lash_luma, 20)]
    lash = np.median(dark, axis=0) if len(dark) else lash_pixels.min(axis=0)
    return strip, lash


def fill_lids(roi: np.ndarray, roi_origin: tuple[int, int], style: LidStyle,
              target_points: np.ndarray) -> None:
    """Paint the lid skin where the upper lids of ``target_points`` (pixels) have closed
    further than the source's openings, into ``roi`` (the warped region, in place)."""
    xy = np.asarray(target_points, np.float64)[:, :2] - roi_origin
    strips = style.strips or (None, None)
    lashes = style.lashes or (None, None)
    for (corners, upper, lower, _), tone, opening, height, strip, lash in zip(
            _EYES, style.tones, style.openings, style.heights, strips, lashes):
        _fill_lid(roi, xy, corners, upper, tone, opening, height, strip, lash, lower)


def _fill_lid(roi: np.ndarray, xy: np.ndarray, corners: tuple[int, int],
              upper: tuple[int, ...], tone: np.ndarray, opening: np.ndarray,
              height: np.ndarray, strip: np.ndarray | None = None,
              lash: np.ndarray | None = None, lower: tuple[int, ...] = ()) -> None:
    import cv2

    along, down = _eye_axes(xy, corners)
    width = float(np.linalg.norm(xy[corners[1]] - xy[corners[0]]))
    if width < 4:
        return
    # How far each upper margin point came down towards the corners' line, against the
    # source's opening there: a raised lower lid (AU 6, 7) closes the eye without any lid
    # skin coming down, so it does not count.
    bottom = xy[list(upper)]
    swept = np.maximum(((bottom - xy[corners[0]]) @ down / width - height) * width, 0.0)
    closure = np.clip(swept / np.maximum(opening * width, 1e-6), 0.0, 1.0)
    if closure.max() < _MIN_CLOSURE:
        return
    # The band the lid swept, and a little above it: what the warp stretches there is the
    # fold's shadow.
    top = bottom - _REACH * swept[:, None] * down
    origin = xy[corners[0]]
    ends = np.array([0.0, width])
    a = np.concatenate([ends[:1], (bottom - origin) @ along, ends[1:]])
    bottom_b = np.concatenate([[0.0], (bottom - origin) @ down, [0.0]])
    top_b = np.concatenate([[0.0], (top - origin) @ down, [0.0]])
    closure = np.concatenate([[0.0], closure, [0.0]])
    order = np.argsort(a)
    a, bottom_b, top_b, closure = a[order], bottom_b[order], top_b[order], closure[order]

    corner_points = np.concatenate([bottom, top, xy[list(corners)], xy[list(lower)]])
    x0, y0 = np.maximum(np.floor(corner_points.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(corner_points.max(0)).astype(int) + 3, roi.shape[1::-1])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    rel_x, rel_y = gx - np.float32(origin[0]), gy - np.float32(origin[1])
    pa = rel_x * np.float32(along[0]) + rel_y * np.float32(along[1])
    pb = rel_x * np.float32(down[0]) + rel_y * np.float32(down[1])
    low = np.interp(pa, a, bottom_b).astype(np.float32)  # the margin (lashes), further down
    amount = np.interp(pa, a, closure).astype(np.float32)
    if lower:
        # A nearly closed lid leaves a slit over the squashed white of the eye: the lid
        # reaches the lower lid instead, as a closed eye's does.
        lower_xy = xy[list(lower)]
        lower_a = np.concatenate([ends[:1], (lower_xy - origin) @ along, ends[1:]])
        lower_b = np.concatenate([[0.0], (lower_xy - origin) @ down, [0.0]])
        lower_order = np.argsort(lower_a)
        slit = np.maximum(np.interp(pa, lower_a[lower_order], lower_b[lower_order]) - low, 0.0)
        low = low + (L.smoothstep(0.7, 0.95, amount) * slit).astype(np.float32)
    high = np.interp(pa, a, top_b).astype(np.float32)
    depth = np.maximum(low - high, 1e-3)
    # 0 at the top of the band (the fold), 1 at the margin.
    s = (pb - high) / depth
    inside = (pa > 0) & (pa < width) & (depth > 0.5)
    # The lid is painted down to its margin, where the lash line is drawn over it.
    margin_edge = 1.0 + np.clip(1.0 / depth, 0.0, 0.3)
    closing = L.smoothstep(_MIN_CLOSURE, 0.55, amount)
    weight = (L.smoothstep(-0.3, 0.35, s) * (1.0 - L.smoothstep(1.0, margin_edge, s))
              * closing * inside * _STRENGTH).astype(np.float32)
    if not weight.any():
        return
    # Soft edges: the painted lid fades into the warped skin around it.
    weight = cv2.GaussianBlur(weight, (0, 0), max(0.6, 0.03 * width))
    box = roi[y0:y1, x0:x1].astype(np.float32)
    # Darker towards the fold and the corners, as a rounded lid would be lit.
    middle = 1.0 - np.abs(2.0 * pa / width - 1.0)
    shade = (0.82 + 0.18 * L.smoothstep(0.0, 0.6, s)) * (0.9 + 0.1 * np.clip(middle, 0, 1))
    if strip is not None:
        # The source's own lid skin, unrolled over the band: columns along the eye, rows
        # from the fold (s = 0) down to the margin (s = 1).
        rows, columns = strip.shape[:2]
        map_x = np.clip(pa / np.float32(width), 0, 1) * np.float32(columns - 1)
        map_y = np.clip(s, 0, 1).astype(np.float32) * np.float32(rows - 1)
        texture = cv2.remap(strip, map_x.astype(np.float32), map_y, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
        # Half its texture, half the lid's bright skin tone: liner, eye shadow and the
        # crease's shadow in the strip would otherwise be unrolled into a dark smear.
        base = 0.5 * texture + 0.5 * tone.astype(np.float32)
    else:
        surroundings = cv2.GaussianBlur(box, (0, 0), 0.3 * width)
        base = _OWN_TONE * tone.astype(np.float32) + (1.0 - _OWN_TONE) * surroundings
    painted = base * shade[..., None].astype(np.float32)
    # A partly lowered lid the warp already shows in skin tones is left alone; the artefact is
    # a lid darker than its own skin. A (nearly) closed lid is always the source's skin: the
    # warped eye must not show through it.
    smooth = cv2.GaussianBlur(box, (0, 0), max(1.0, 0.08 * width))
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    darker = (painted @ luma - smooth @ luma) / max(_DARKER * float(tone @ luma), 1.0)
    weight *= np.maximum(np.clip(darker, 0.0, 1.0), L.smoothstep(0.6, 0.9, amount))
    box += weight[..., None] * (painted - box)
    if lash is not None:
        # The lash line along the closed margin, in the source's lash colour.
        lash_width = max(0.6, _LASH_WIDTH * width)
        line = np.exp(-0.5 * ((pb - (low - 0.5 * lash_width)) / lash_width) ** 2)
        line_weight = (0.75 * line * L.smoothstep(0.5, 0.9, amount) * inside
                       * np.clip(middle * 4, 0, 1)).astype(np.float32)
        box += line_weight[..., None] * (lash.astype(np.float32) - box)
    roi[y0:y1, x0:x1] = np.clip(box + 0.5, 0, 255).astype(np.uint8)
