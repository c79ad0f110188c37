"""The white of the eye where an upper lid rises above the source's (AU 5, wide eyes).

A warp can only stretch what the photo shows: a lid that opens further stretches the top of
the iris with it, and a stretched iris reads as a dark oval, not as a wide eye. In a real
AU 5 the iris stays round and still while the lid retracts above it, uncovering sclera
(FACS: "the white of the eye shows above the iris"). So wherever the target upper lid lies
above the source's, the band between the two lid lines is repainted: outside the iris disc
(the source's own iris size, at its target centre) with the source's own eye white, shaded
darker just under the lid as real sclera is, and inside the disc left as the warp drew it
(the iris's own pixels). Nothing is painted where the lids did not rise.

Below the old lid line the warp still shows what lay under the source's lid: the shadow the
lid and lashes cast on the top of the eye, now a dark arc across the opening. Left there it
draws a second, lower lid margin, and the landmarker takes that arc for the lid: on the
calibration crops it read the lid margin 0.017-0.039 IOD above the iris centre at twice the
AU 5 field, 0.024-0.048 once the arc is lifted (s9, art_20, s42, sadtalker_happy; d7's real
wide eyes read 0.042-0.047). So from the old line down, over ``_LIFT_SHARE`` of the opening
left below it, whatever is darker than the white is lifted towards it, fading out; brighter
pixels (the source's own sclera, highlights) keep their texture.
"""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp import layout as L

_MIN_RISE_PX = 0.75  # a rise below this leaves the eye as the warp drew it
_SHADOW = 0.15  # how much darker the white is right under the lid (fading over a third)
_LASH_SHARE = 0.07  # lash line thickness over the iris, of the eye's width
_CORNER_SHADE = 0.12  # how much darker the white is at the eye's corners than mid-eye
_LIFT_SHARE = 0.7  # of the opening below the old lid line, over which the white lifts shadow
_SHADOW_SHARE = 0.3  # of that opening: a lid risen this far is clear of its old shadow
# Brow lowering (of the eye's width) from which a lowered brow keeps the old shadow, and by
# which it keeps all of it.
_BROW_KEEPS_SHADOW = (0.06, 0.2)
_BROWS = (L.RIGHT_BROW_LOWER, L.LEFT_BROW_LOWER)
_CHEEKS = (50, 280)  # a cheek point on each eye's side (right, left)
_WHITE_OVER_CHEEK = 0.9  # the least eye white luma, of the cheek's (see _lit_white)
# A light, slightly warm white for eyes that show almost none of their own.
_FALLBACK_WHITE = np.array([228.0, 222.0, 215.0])


def _eye_frame(xy: np.ndarray, corners: tuple[int, int]) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray, float]:
    """Origin (outer corner), unit axis along the eye, unit axis down, and the eye's width."""
    origin = xy[corners[0]]
    span = xy[corners[1]] - origin
    width = float(np.linalg.norm(span))
    along = span / max(width, 1e-6)
    down = np.array([-along[1], along[0]])
    if down[1] < 0:
        down = -down
    return origin, along, down, width


def _profile(points: np.ndarray, origin: np.ndarray, along: np.ndarray, down: np.ndarray,
             width: float) -> tuple[np.ndarray, np.ndarray]:
    """A lid polyline in eye coordinates (a along 0..width, b down), ends at the corners."""
    a = (points - origin) @ along
    b = (points - origin) @ down
    a = np.concatenate([[0.0], a, [width]])
    b = np.concatenate([[0.0], b, [0.0]])
    order = np.argsort(a, kind="stable")
    return a[order], b[order]


def _iris_radius(xy: np.ndarray, iris: tuple[int, ...]) -> float:
    """The iris radius from MediaPipe's four ring points (the model fits the whole circle,
    hidden parts included)."""
    centre = xy[iris[0]]
    return float(np.median(np.linalg.norm(xy[list(iris[1:])] - centre, axis=1)))


def lash_colour(image: np.ndarray, xy: np.ndarray, eye: int) -> np.ndarray:
    """The darkest tenth of the pixels along the source's upper lid margin (RGB): the lash
    line that has to run along a lid that moved up."""
    corners, upper, _, _ = L.EYES[eye]
    margin = xy[list(upper)]
    height, width = image.shape[:2]
    samples: list[np.ndarray] = []
    for start, end in zip(margin[:-1], margin[1:]):
        for t in np.linspace(0.0, 1.0, 5):
            x, y = np.round(start + t * (end - start)).astype(int)
            samples.extend(image[max(y - 1, 0):min(y + 2, height), min(max(x, 0), width - 1)])
    if not samples:
        return _FALLBACK_WHITE * 0.25
    pixels = np.asarray(samples, np.float64)
    brightness = pixels.sum(axis=1)
    return np.median(pixels[brightness <= np.percentile(brightness, 10)], axis=0)


def eye_white_colour(image: np.ndarray, xy: np.ndarray, eye: int) -> np.ndarray:
    """The source's own eye white (RGB) for eye 0 (right) or 1 (left): the brightest eighth
    of the opening's pixels outside the iris; a neutral white where the eye
    shows too little."""
    import cv2

    iris = L.EYES[eye][3]
    contour = np.round(xy[L.eye_opening(eye)]).astype(np.int32)
    x0, y0 = np.maximum(contour.min(axis=0) - 1, 0)
    x1, y1 = contour.max(axis=0) + 2
    patch = image[y0:y1, x0:x1]
    if patch.size == 0:
        return _FALLBACK_WHITE
    mask = np.zeros(patch.shape[:2], np.uint8)
    cv2.fillPoly(mask, [contour - (x0, y0)], (1,))
    yy, xx = np.mgrid[y0:y0 + patch.shape[0], x0:x0 + patch.shape[1]]
    centre, radius = xy[iris[0]], _iris_radius(xy, iris)
    outside = np.hypot(xx - centre[0], yy - centre[1]) > 1.15 * radius
    pixels = patch[(mask > 0) & outside].astype(np.float64)
    if len(pixels) < 8:
        return _FALLBACK_WHITE
    brightness = pixels.sum(axis=1)
    # The brightest eighth: the opening of a photo's eye also holds lashes, the lid's
    # shadow and the corners' caruncle, and a darker "white" reads as iris or lid, not as
    # sclera (the landmarker then keeps the lid low).
    bright = pixels[brightness >= np.percentile(brightness, 87.5)]
    return _lit_white(np.median(bright, axis=0), image, xy, eye)


def _lit_white(white: np.ndarray, image: np.ndarray, xy: np.ndarray, eye: int) -> np.ndarray:
    """``white`` brought up to ``_WHITE_OVER_CHEEK`` of the same side's cheek (luma), half
    towards neutral grey. A photo's eye that shows little white shows it in the lid's shadow
    (sadtalker_sad, obama: 0.5-0.7 of the cheek), but the sclera a retracted lid uncovers is
    lit: real wide eyes read 1.0-1.15 of their cheek (d7 frame 140, d10 frame 88, vasa1_7
    frame 228), real neutral eyes 0.8-1.0 (d0, d8, vasa1_3, AOC). Painted at the shadowed
    value it reads as a grey disc round the iris."""
    luma = np.array([0.299, 0.587, 0.114])
    cheek_xy = xy[_CHEEKS[eye]]
    iod = float(np.linalg.norm(xy[263] - xy[33]))
    radius = max(1, int(0.05 * iod))
    x, y = np.round(cheek_xy).astype(int)
    patch = image[max(y - radius, 0):y + radius + 1, max(x - radius, 0):x + radius + 1]
    if patch.size == 0:
        return white
    floor = _WHITE_OVER_CHEEK * float(np.median(patch.reshape(-1, patch.shape[-1]), axis=0)
                                      @ luma)
    level = float(white @ luma)
    if level >= floor:
        return white
    raised = 0.5 * white * floor / max(level, 1.0) + 0.5 * floor
    return np.clip(raised, 0.0, 255.0)


def open_eye_whites(roi: np.ndarray, roi_origin: tuple[int, int], source_image: np.ndarray,
                    source_points: np.ndarray, target_points: np.ndarray) -> None:
    """Paint eye white where the target upper lids (pixels) rose above the source's, into
    ``roi`` (the warped region, in place); see the module docstring."""
    source_xy = np.asarray(source_points, np.float64)[:, :2]
    target_xy = np.asarray(target_points, np.float64)[:, :2]
    for eye, (corners, upper, lower, iris) in enumerate(L.EYES):
        s_origin, s_along, s_down, s_width = _eye_frame(source_xy, corners)
        t_origin, t_along, t_down, t_width = _eye_frame(target_xy, corners)
        if s_width < 4 or t_width < 4:
            continue
        scale = t_width / s_width
        # Both lid lines in the target eye's coordinates (the source's scaled to its size).
        a_src, b_src = _profile(source_xy[list(upper)], s_origin, s_along, s_down, s_width)
        a_src, b_src = a_src * scale, b_src * scale
        a_top, b_top = _profile(target_xy[list(upper)], t_origin, t_along, t_down, t_width)
        a_low, b_low = _profile(target_xy[list(lower)], t_origin, t_along, t_down, t_width)
        rise = np.interp(a_top, a_src, b_src) - b_top
        if rise.max() < _MIN_RISE_PX:
            continue
        # A brow lowered over the raised lid (an angry glare, AU 4 with AU 5) keeps the lid
        # in its shadow: the old shadow is lifted less, and not at all once the brow came a
        # fifth of the eye's width down (the anger preset lowers it about a quarter, fear's
        # AU 1+2+4 about 0.05, AU 5 alone not at all).
        brow = list(_BROWS[eye])
        lowered = float(np.mean((target_xy[brow] - t_origin) @ t_down)
                        - scale * np.mean((source_xy[brow] - s_origin) @ s_down)) / t_width
        shadow_kept = float(L.smoothstep(_BROW_KEEPS_SHADOW[0], _BROW_KEEPS_SHADOW[1], lowered))
        _paint(roi, roi_origin, (t_origin, t_along, t_down, t_width),
               (a_src, b_src, a_top, b_top, a_low, b_low),
               target_xy[iris[0]], _iris_radius(source_xy, iris) * scale,
               eye_white_colour(source_image, source_xy, eye),
               lash_colour(source_image, source_xy, eye), 1.0 - shadow_kept)


def _paint(roi: np.ndarray, roi_origin: tuple[int, int],
           frame: tuple[np.ndarray, np.ndarray, np.ndarray, float],
           lids: tuple[np.ndarray, ...], iris_centre: np.ndarray, iris_radius: float,
           white: np.ndarray, lash: np.ndarray, lift_share: float) -> None:
    origin, along, down, width = frame
    a_src, b_src, a_top, b_top, a_low, b_low = lids
    # The pixels around the eye, in eye coordinates.
    ends = np.stack([origin, origin + along * width])
    reach = float(max(np.abs(b_top).max(), np.abs(b_low).max())) + 2
    box_min = np.floor(ends.min(axis=0) - reach).astype(int) - np.array(roi_origin)
    box_max = np.ceil(ends.max(axis=0) + reach).astype(int) - np.array(roi_origin)
    x0, y0 = np.maximum(box_min, 0)
    x1, y1 = np.minimum(box_max, (roi.shape[1], roi.shape[0]))
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    px, py = xx + roi_origin[0] + 0.0, yy + roi_origin[1] + 0.0
    a = (px - origin[0]) * along[0] + (py - origin[1]) * along[1]
    b = (px - origin[0]) * down[0] + (py - origin[1]) * down[1]
    inside_eye = (a > 0) & (a < width)
    top = np.interp(a, a_top, b_top)
    source_top = np.interp(a, a_src, b_src)
    bottom = np.interp(a, a_low, b_low)
    # Soft (one pixel) edges: below the new lid line, above the old one (and a pixel past it,
    # where the warp stretched the old lash line), above the lower lid, outside the iris.
    below_lid = np.clip(b - top + 0.5, 0.0, 1.0)
    above_old = np.clip(source_top + 1.0 - b, 0.0, 1.0)
    # Below the old lid line the warp still shows the source lid's shadow and lashes,
    # stretched: a second, lower lid margin. There the white only lifts what is darker than
    # itself, fading out over a share of the opening left below the old line, and only as
    # far as the lid rose clear of that shadow (a lid raised a pixel keeps its own).
    below_old = np.maximum(bottom - source_top, 1.0)
    fade = np.maximum(_LIFT_SHARE * below_old, 1.0)
    clear = np.clip((source_top - top) / (_SHADOW_SHARE * below_old), 0.0, 1.0)
    lifted = (np.clip(1.0 - (b - source_top - 1.0) / fade, 0.0, 1.0) * (1.0 - above_old)
              * clear)
    above_lower = np.clip(bottom - b, 0.0, 1.0)
    outside_iris = np.clip(np.hypot(px - iris_centre[0], py - iris_centre[1])
                           - iris_radius + 0.5, 0.0, 1.0)
    eye = below_lid * above_lower * outside_iris * inside_eye
    weight = eye * above_old
    lift = eye * lifted * lift_share
    if not (weight.any() or lift.any()):
        return
    opening = np.maximum(bottom - top, 1.0)
    shade = 1.0 - _SHADOW * (1.0 - np.clip((b - top) / (opening / 3.0), 0.0, 1.0))
    # The sclera is a ball: it turns away from the light towards the corners, which real
    # wide eyes show as a white darkest at the corners (d7 frame 140, d10 frame 88), not a
    # flat plate.
    across = np.clip(a / width, 0.0, 1.0)
    shade *= 1.0 - _CORNER_SHADE * np.abs(2.0 * across - 1.0) ** 2
    colour = white[None, None, :] * shade[..., None]
    # The lash line along the lid's new margin (the warp stretched the old one thin),
    # thickest over the iris and thinning out into the corners as real lash lines do: drawn
    # at full width to the corners it rings the eye with an outline.
    taper = 0.4 + 0.6 * np.sin(np.pi * across) ** 0.7
    lash_px = np.maximum(_LASH_SHARE * width * taper, 0.5)
    lashes = np.clip(1.0 - (b - top) / lash_px, 0.0, 1.0)[..., None] ** 1.5
    colour = colour + lashes * (lash[None, None, :] - colour)
    patch = roi[y0:y1, x0:x1].astype(np.float64)
    blended = patch + weight[..., None] * (colour - patch)
    blended += lift[..., None] * np.maximum(colour - blended, 0.0)
    roi[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
