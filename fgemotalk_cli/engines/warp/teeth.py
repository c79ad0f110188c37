"""A procedural mouth interior: upper and lower teeth rows, tongue and a shaded cavity.

Painted inside the target's inner lip contour when the source has nothing to show there (a
closed mouth opened by an AU or by speech). Everything is laid out in mouth coordinates:
``a`` runs along the mouth (-1 and +1 at the inner corners), ``b`` in pixels down from the
line between the corners; ``top(a)`` and ``bottom(a)`` are the inner lip contours. The teeth
are sized from the face, not from the lips (a smile widens the mouth, not the teeth), sit
right behind the lips (upper row under the upper lip, lower row behind the lower lip, visible
as the jaw drops) and recede into the buccal corridors' shadow towards the corners. Behind
them the cavity darkens with depth and the tongue rises from the floor of the mouth. Only the
contour and the face's size enter, so the interior is the same from frame to frame for the
same mouth shape (no flicker).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L

# Projected tooth widths from the midline outwards (central incisor, lateral, canine, two
# premolars, molar), as shares of the visible arch's half-width: the arch turns away from
# the camera, so the further teeth look narrower.
_TOOTH_WIDTHS = np.array([0.19, 0.15, 0.13, 0.11, 0.1, 0.12])
# Upper incisor length visible under the lip, in interocular distances: about 5 mm, what
# shows in speech and moderate openings (the rest of the crown is behind the lip).
_UPPER_HEIGHT = 0.085
_LOWER_HEIGHT = 0.06  # lower incisor length visible over the lip
_ARCH_HALF_WIDTH = 0.42  # half-width of the upper arch as seen from the front, IOD units
_TONGUE_RGB = np.array([188.0, 92.0, 98.0])  # under neutral light, before the face's exposure
_MUCOSA_RGB = np.array([150.0, 62.0, 64.0])  # the inside of the cheeks and the palate, likewise
_BOUNCED_WARMTH = np.array([1.02, 0.98, 0.92])
# The incisal corners' rounding per tooth (central incisor, lateral, canine, premolars,
# molar): how far (a share of the visible height) each corner is cut back, and how sharply
# (a high power: rounded corners on a flat edge; near 1: a point).
_CORNER_DEPTH = np.array([0.2, 0.24, 0.34, 0.26, 0.26, 0.26])
_CORNER_SHARPNESS = np.array([5.0, 4.0, 1.5, 3.0, 3.0, 3.0])
_CONVEXITY = 0.14  # a crown's face darkens this much towards its sides, turning from the light
_TRANSLUCENT_EDGE = np.array([0.16, 0.14, 0.09], np.float32)  # R, G, B loss at the biting edge


@dataclass(frozen=True)
class InteriorColours:
    """The colours the interior is built from (RGB 0..255)."""

    teeth: np.ndarray
    lips: np.ndarray
    skin: np.ndarray


def _tooth_rows(a_teeth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For positions along the arch (0 at the midline, 1 at its visible end), which tooth
    each lies on (0 central incisor...) and where across it (-1..1)."""
    edges = np.concatenate([[0.0], np.cumsum(_TOOTH_WIDTHS)])
    edges = edges / edges[-1]
    distance = np.abs(a_teeth)
    index = np.clip(np.searchsorted(edges, distance, side="right") - 1, 0, len(_TOOTH_WIDTHS) - 1)
    low, high = edges[index], edges[index + 1]
    across = 2.0 * (distance - low) / np.maximum(high - low, 1e-6) - 1.0
    return index, across


_DETAIL_IOD_PX = 70.0  # above this eye distance the interior is drawn smaller, then upsampled


def procedural_interior(xy: np.ndarray, shape: tuple[int, int], colours: InteriorColours,
                        iod_px: float, teeth: bool = True) -> np.ndarray:
    """(h, w, 3) float32 RGB interior for the box ``shape``; ``xy`` (478, 2) target points in
    box pixels, ``iod_px`` the target face's interocular distance. ``teeth=False`` leaves the
    teeth out (the cavity and tongue behind a source's own teeth)."""
    import cv2

    colours = InteriorColours(*(np.asarray(c, np.float32) for c in
                                (colours.teeth, colours.lips, colours.skin)))
    scale = min(1.0, _DETAIL_IOD_PX / max(iod_px, 1.0))
    if scale < 0.95:
        # A large face's mouth holds no more detail than this: draw it on a coarser grid.
        small = (max(2, int(round(shape[0] * scale))), max(2, int(round(shape[1] * scale))))
        image = _interior(np.asarray(xy, np.float64) * scale, small, colours, iod_px * scale,
                          teeth)
        return cv2.resize(image, shape[::-1], interpolation=cv2.INTER_LINEAR)
    return _interior(xy, shape, colours, iod_px, teeth)


def upper_teeth(xy: np.ndarray, shape: tuple[int, int], teeth: np.ndarray,
                iod_px: float) -> tuple[np.ndarray, np.ndarray]:
    """The procedural upper teeth row alone, to lay over another interior (a driver's that
    shows none): (h, w, 3) float32 colour premultiplied by its (h, w) coverage, drawn and
    softened as :func:`procedural_interior` draws its own."""
    import cv2

    scale = min(1.0, _DETAIL_IOD_PX / max(iod_px, 1.0))
    small = shape if scale >= 0.95 else (max(2, int(round(shape[0] * scale))),
                                         max(2, int(round(shape[1] * scale))))
    factor = 1.0 if scale >= 0.95 else scale
    rgb, coverage = _upper_row(_frame(np.asarray(xy, np.float64) * factor, small),
                               np.asarray(teeth, np.float32), iod_px * factor)
    layers = np.concatenate([rgb * coverage[..., None], coverage[..., None]], axis=2)
    layers = cv2.GaussianBlur(layers.astype(np.float32), (0, 0),
                              max(0.5, 0.004 * iod_px * factor))
    if small != shape:
        layers = cv2.resize(layers, shape[::-1], interpolation=cv2.INTER_LINEAR)
    return layers[..., :3], layers[..., 3]


@dataclass(frozen=True)
class _MouthFrame:
    """Mouth coordinates over a box (see the module docstring): ``along_px`` along the mouth
    from the corners' middle, ``a`` the same in half-widths, ``b`` down from the corners'
    line, ``top`` and ``bottom`` the inner lips at each pixel's ``a``, ``midline`` where the
    lips' middle is along the mouth (px)."""

    along_px: np.ndarray
    a: np.ndarray
    b: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    midline: float
    half_width: float


def _frame(xy: np.ndarray, shape: tuple[int, int]) -> _MouthFrame:
    left, right = xy[L.UPPER_INNER_LIP[0]], xy[L.UPPER_INNER_LIP[-1]]
    half_width = max(float(np.linalg.norm(right - left)) / 2, 1.0)
    axis = (right - left) / (2 * half_width)
    normal = np.array([-axis[1], axis[0]])
    if normal[1] < 0:
        normal = -normal
    # The midline: between the corners, shifted to where the lips' middle points are (a
    # mouth pulled to one side keeps its teeth under the philtrum, not between its corners).
    centre = (left + right) / 2
    middle = 0.5 * (xy[L.UPPER_INNER_LIP[len(L.UPPER_INNER_LIP) // 2]]
                    + xy[L.LOWER_INNER_LIP[len(L.LOWER_INNER_LIP) // 2]])
    midline = float((middle - centre) @ axis)
    gy, gx = np.mgrid[0: shape[0], 0: shape[1]].astype(np.float32)
    rel_x, rel_y = gx - np.float32(centre[0]), gy - np.float32(centre[1])
    along_px = rel_x * np.float32(axis[0]) + rel_y * np.float32(axis[1])
    a = along_px / np.float32(half_width)
    b = rel_x * np.float32(normal[0]) + rel_y * np.float32(normal[1])

    def curve(indices: tuple[int, ...]) -> np.ndarray:
        rel = xy[list(indices)] - centre
        ca, cb = rel @ axis / half_width, rel @ normal
        order = np.argsort(ca)
        return np.interp(a, ca[order], cb[order]).astype(np.float32)

    return _MouthFrame(along_px, a, b, curve(L.UPPER_INNER_LIP), curve(L.LOWER_INNER_LIP),
                       midline, half_width)


def _upper_row(frame: _MouthFrame, enamel: np.ndarray, iod_px: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """The upper teeth row: (h, w, 3) colour and (h, w) coverage."""
    b, top, along_px, midline = frame.b, frame.top, frame.along_px, np.float32(frame.midline)
    # Teeth rows. Their positions are in units of the arch, sized from the face.
    arch = _ARCH_HALF_WIDTH * iod_px
    a_teeth = (along_px - np.float32(midline)) / np.float32(arch)
    tooth, across = _tooth_rows(a_teeth)
    on_arch = np.clip(1 - np.abs(a_teeth), 0, 1)
    # The biting edge follows the dental arch, not the lip: lowest at the central incisors,
    # rising along the arch as it turns away, each tooth's own edge slightly rounded. The
    # teeth hang from where the upper lip is highest (they sit behind it there); wherever
    # the lip curves down below that edge, the lip hides them.
    lip_top = float(top.min())
    rise = np.array([0.0, 0.08, 0.16, 0.3, 0.42, 0.55])[tooth]
    # Each crown's incisal corners are rounded off (a canine's edge comes to a point), so the
    # row's edge is scalloped with a small notch (the incisal embrasure) between neighbours,
    # not one straight line: what makes a row of teeth read as teeth rather than a bar.
    rounding = _CORNER_DEPTH[tooth] * np.abs(across) ** _CORNER_SHARPNESS[tooth]
    upper_height = _UPPER_HEIGHT * iod_px * (1 - rise - rounding) * (on_arch > 0)
    from_top = b - top
    antialias = 0.7
    edge_b = lip_top + upper_height
    upper = np.clip((edge_b - b) / antialias + 0.5, 0, 1) * (from_top > -2)
    # Gaps between teeth: faint lines, clearest towards the biting edge (the embrasures).
    towards_edge = np.clip((b - lip_top) / np.maximum(upper_height, 1e-3), 0, 1)
    seam = np.exp(-0.5 * ((1 - np.abs(across)) * _TOOTH_WIDTHS[tooth] * arch
                          / max(0.004 * iod_px, 0.4)) ** 2) * (0.25 + 0.75 * towards_edge**2)
    # The upper lip's shadow on the teeth just below it.
    lip_shadow = 1 - 0.45 * np.exp(-np.maximum(from_top, 0) / max(0.018 * iod_px, 0.7))
    # The incisal third is thinner enamel over the dark behind: a little darker and greyer.
    incisal = 1 - _TRANSLUCENT_EDGE[None, None, :] * (towards_edge**3)[..., None]
    receding = 1 - 0.6 * L.smoothstep(0.35, 1.0, np.abs(a_teeth))
    # Each tooth's face is convex: it turns away from the light towards its sides.
    teeth_shade = (receding * lip_shadow * (1 - 0.5 * seam)
                   * (1 - _CONVEXITY * across**2))
    teeth_rgb = enamel[None, None, :] * teeth_shade[..., None] * incisal
    # Buccal corridors: beyond the visible arch the teeth fade into the cavity's dark.
    corridor = L.smoothstep(0.75, 1.0, np.abs(a_teeth))
    upper = upper * (1 - corridor)
    return teeth_rgb, upper


def _interior(xy: np.ndarray, shape: tuple[int, int], colours: InteriorColours,
              iod_px: float, teeth: bool) -> np.ndarray:
    import cv2

    frame = _frame(xy, shape)
    a, b, top, bottom = frame.a, frame.b, frame.top, frame.bottom
    along_px, midline, half_width = frame.along_px, frame.midline, frame.half_width
    gap = np.maximum(bottom - top, 1e-3)
    gap_mid = float(np.max(gap))
    depth = np.clip((b - top) / gap, 0.0, 1.0)
    side = np.clip(np.abs(a), 0.0, 1.0)
    luma = np.array([0.299, 0.587, 0.114])
    exposure = float(np.clip(float(colours.skin @ luma) / 150.0, 0.35, 1.4))

    # The cavity: mucosa deep in shadow (half the lips' own colour, half a natural mucosa
    # red under the face's light, so dark lipstick or a moustache over the lips does not
    # blacken it), darkest at the back and towards the corners, lighter on the inner walls
    # of the lips near the opening. Real open mouths are rarely black: their darkest sixth
    # has about 45 of 255 in luma, red (bench/review_realism.py --real).
    mucosa = 0.5 * colours.lips + 0.5 * _MUCOSA_RGB * exposure
    cavity = (0.5 * mucosa + 4.0).astype(np.float32)
    wall = np.exp(-np.minimum(depth, 1 - depth) * gap / max(0.06 * iod_px, 1.0))
    shade = (0.65 + 0.35 * (1 - side**2)) * (0.8 + 0.4 * wall) * (
        1 - 0.25 * np.sin(np.pi * depth))
    image = cavity[None, None, :] * shade[..., None]
    # The wet inner side of the lower lip: a reddish rim along it.
    rim = np.exp(-np.maximum(bottom - b, 0.0) / max(0.025 * iod_px, 0.8)) * 0.7
    image += (0.5 * colours.lips - image) * rim[..., None]

    # Tongue: a broad mound behind the lower teeth, its top rising with the opening's depth.
    tongue_rgb = (0.65 * _TONGUE_RGB * exposure + 0.35 * colours.lips).astype(np.float32)
    tongue_top = bottom - np.minimum(0.5 * gap, 0.25 * iod_px) * np.clip(1 - (a / 0.85) ** 2,
                                                                          0, 1)
    tongue = L.smoothstep(0.0, max(0.04 * iod_px, 1.0), b - tongue_top)
    tongue_shade = (0.6 + 0.4 * (1 - side**2)) * (
        0.75 + 0.25 * L.smoothstep(0.0, max(0.12 * iod_px, 1.0), b - tongue_top))
    # A faint groove down the tongue's middle.
    tongue_shade *= 1 - 0.15 * np.exp(-0.5 * ((a - midline / half_width) / 0.06) ** 2)
    image += (tongue_rgb * tongue_shade[..., None] - image) * (
        tongue * L.smoothstep(0.04, 0.2, gap_mid / iod_px))[..., None]

    if not teeth:
        return cv2.GaussianBlur(image.astype(np.float32), (0, 0), max(0.5, 0.004 * iod_px))
    arch = _ARCH_HALF_WIDTH * iod_px
    enamel = colours.teeth.astype(np.float32)  # already enamel's hue (mouth._teeth_colour)
    teeth_rgb, upper = _upper_row(frame, enamel, iod_px)
    image += (teeth_rgb - image) * upper[..., None]
    antialias = 0.7

    # Lower teeth: a narrower arch behind the lower lip, in the upper teeth's shadow, only
    # when the jaw has dropped enough to show them over the lip.
    lower_arch = 0.8 * arch
    a_lower = (along_px - np.float32(midline)) / np.float32(lower_arch)
    tooth_low, across_low = _tooth_rows(a_lower)
    lower_height = (_LOWER_HEIGHT * iod_px * np.array([1.0, 0.95, 0.85, 0.7, 0.6, 0.5])[tooth_low]
                    * (1 - 0.2 * np.abs(across_low) ** 4))
    from_bottom = bottom - b
    lip_bottom = float(bottom.max())
    shown = L.smoothstep(0.1, 0.25, gap_mid / iod_px)
    lower = (np.clip((b - (lip_bottom - lower_height)) / antialias + 0.5, 0, 1)
             * (from_bottom > -2)
             * (1 - L.smoothstep(0.7, 1.0, np.abs(a_lower))) * shown)
    # Never more than part of the opening: a small opening shows only the upper teeth.
    lower *= from_bottom < 0.35 * gap
    seam_low = np.exp(-0.5 * ((1 - np.abs(across_low)) * _TOOTH_WIDTHS[tooth_low] * lower_arch
                              / max(0.005 * iod_px, 0.45)) ** 2)
    lower_shade = (0.85 * (1 - 0.55 * L.smoothstep(0.3, 1.0, np.abs(a_lower)))
                   * (1 - 0.45 * seam_low) * (1 - _CONVEXITY * across_low**2)
                   * (1 - 0.25 * np.clip((lip_bottom - b) / np.maximum(lower_height, 1e-3), 0, 1)))
    # Lit mostly by light bounced off the tongue and lips: a little warmer than the upper row.
    lower_enamel = (enamel * _BOUNCED_WARMTH).astype(np.float32)
    image += (lower_enamel[None, None, :] * lower_shade[..., None]
              - image) * lower[..., None]
    blur = max(0.5, 0.004 * iod_px)
    return cv2.GaussianBlur(image.astype(np.float32), (0, 0), blur)
