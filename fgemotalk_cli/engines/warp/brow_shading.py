"""The brows' marks beyond the landmarks: forehead lines, the lid fold, the frown's furrows.

:mod:`.shading` draws every AU's creases; these are the brows' as real actions show them.
The frontalis (AU 1/2; d7 frame 140, d10 frame 88, vasa1_7 frame 228) creases the lower
forehead in lines that follow the brows' arch, and lifts the fold between brow and lid, whose
shadow thins out (the warp alone stretches that shadow into a dark band, and the raised brow
looks thick and smeared). The corrugator (AU 4; d8 frame 118, d7 frame 172, d10 frame 336)
folds the skin between the drawn-in brows into two near-vertical furrows rising from the
brows' inner heads, parallel or opening slightly upwards, never a V meeting above the nose.
"""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp import layout as L

# Forehead lines: how many, the first's height above the brows and their spacing (IOD), width.
_FOREHEAD_LINES = 5
_FOREHEAD_FIRST = 0.15
_FOREHEAD_SPACING = 0.075
# Real forehead lines are soft valleys about a fortieth of the eye distance wide and
# shallower than a frown's furrows (d7 frame 140 at 145 px IOD: 3-4 px, some 10-15 % darker).
_FOREHEAD_WIDTH = 0.022
_FOREHEAD_DEPTH = 0.7
# The mesh's forehead top (shading._FOREHEAD_TOP) lies below the hairline: lines reach up to this
# share of its height above the brows.
_FOREHEAD_ROOM = 1.05
# The lid skin a raised brow unfolds: lifted towards this share of the cheek's luma, by at
# most this gain (see unfold_lid).
_UNFOLD_LEVEL = 0.85
_UNFOLD_GAIN = 0.3
_CHEEKS = (50, 280)  # a cheek point on each eye's side (right, left)
# The frown's furrows: length and outward bend at the top (IOD), width (d8 frame 118 at
# 150 px IOD: 0.3 IOD long, 4-5 px wide).
_FURROW_LENGTH = 0.3
_FURROW_FLARE = 0.04
_FURROW_WIDTH = 0.016


def resample(points: np.ndarray, count: int) -> np.ndarray:
    """``count`` points evenly spaced along a polyline."""
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    targets = np.linspace(0.0, along[-1], count)
    return np.stack([np.interp(targets, along, points[:, k]) for k in (0, 1)], 1)


def forehead_lines(brow: np.ndarray, top: np.ndarray, xy: np.ndarray, inner: float,
                    outer: float, iod: float) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The frontalis' horizontal lines (AU 1 centred, AU 2 lateral) as real raises show them
    (d7 frame 140, d10, vasa1_7 frame 228): in the lower half of the forehead, the first a
    sixth of the eye distance above the brows and the next ones ``_FOREHEAD_SPACING`` apart,
    each following the arch of the brows below it (flatter the higher it lies), broken into
    segments rather than ruled across, and none above the mesh's forehead top (a low
    hairline keeps fewer)."""
    up = xy[10] - xy[168]
    up /= max(float(np.linalg.norm(up)), 1e-6)
    brow_line = resample(brow, 31)
    # The forehead's height above each point of the brow line.
    room = np.maximum((resample(top, 31) - brow_line) @ up, 0.0)
    s = np.linspace(-1.0, 1.0, len(brow_line))
    along_up = brow_line @ up
    lines = []
    for k in range(_FOREHEAD_LINES):
        height = (_FOREHEAD_FIRST + _FOREHEAD_SPACING * k) * iod
        # Higher lines bend less with the brows (towards their mean height).
        flatten = 0.25 + 0.15 * k
        line = brow_line + (height + flatten * (along_up.mean() - along_up))[:, None] * up
        # A gentle wave and segments of their own per line, the same in every frame.
        line += (0.01 * iod * np.sin(2.3 * s * (k + 1.5) + 1.7 * k))[:, None] * up
        broken = 0.45 + 0.55 * np.clip(np.cos(np.pi * (1.6 + 0.3 * k) * s + 2.1 * k) + 0.4,
                                       0.0, 1.0)
        fits = np.clip((_FOREHEAD_ROOM * room - height) / (0.1 * iod), 0.0, 1.0)
        centre = np.exp(-(s / 0.45) ** 2)
        strength = ((inner * centre + outer * (1 - centre) * 0.9) * broken * fits
                    * np.sin(np.pi * np.clip((s + 1) / 2, 0, 1)) ** 0.6 * (1.0 - 0.14 * k)
                    * _FOREHEAD_DEPTH)
        lines.append((line, strength, _FOREHEAD_WIDTH))
    return lines


def unfold_lid(roi: np.ndarray, xy: np.ndarray, eye: int, amount: float, iod: float) -> None:
    """A raised brow unfolds the skin between it and the lid: the fold's shadow, which the
    warp stretches into a dark band under the raised brow (a brow that looks thicker and
    smeared), thins out, as on real raises (d7 frame 140, vasa1_7 frame 228), where the
    stretched lid skin shows about as light as the skin around the eye. Over the middle of
    that band, what is darker than ``_UNFOLD_LEVEL`` of the cheek is lifted towards it by up
    to ``_UNFOLD_GAIN``, keeping its texture and colour (a gain on the pixels)."""
    import cv2

    if amount * _UNFOLD_GAIN < 0.01:  # a lift under 1 % does not show
        return
    corners, upper, _, _ = L.EYES[eye]
    brow = L.RIGHT_BROW_LOWER if eye == 0 else L.LEFT_BROW_LOWER
    origin = xy[corners[0]]
    span = xy[corners[1]] - origin
    width = float(np.linalg.norm(span))
    if width < 4:
        return
    along = span / width
    down = np.array([-along[1], along[0]])
    if down @ (xy[list(upper)].mean(0) - xy[list(brow)].mean(0)) < 0:
        down = -down
    # The band lies over the eye's width, from the brow down to the lid.
    points = np.concatenate([xy[list(brow)], xy[list(upper)]])
    eye_x = xy[list(corners), 0]
    x0, y0 = np.maximum(np.floor([eye_x.min(), points[:, 1].min()]).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil([eye_x.max(), points[:, 1].max()]).astype(int) + 3,
                        roi.shape[1::-1])
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    # The lift is smooth (the luma it reads is blurred over 0.04 IOD): it is worked out on a
    # grid of about 50 px to the eye distance and upsampled, as the creases are.
    scale = min(1.0, 50.0 / max(iod, 1.0))
    shape = (max(2, int(round((y1 - y0) * scale))), max(2, int(round((x1 - x0) * scale))))
    step_y, step_x = (y1 - y0) / shape[0], (x1 - x0) / shape[1]
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    xx, yy = x0 + (xx + 0.5) * step_x - 0.5, y0 + (yy + 0.5) * step_y - 0.5
    a = (xx - origin[0]) * along[0] + (yy - origin[1]) * along[1]
    b = (xx - origin[0]) * down[0] + (yy - origin[1]) * down[1]

    def line_at(indices: tuple[int, ...]) -> np.ndarray:
        line_a = (xy[list(indices)] - origin) @ along
        line_b = (xy[list(indices)] - origin) @ down
        order = np.argsort(line_a)
        return np.interp(a, line_a[order], line_b[order])

    brow_b, lid_b = line_at(brow), line_at(upper)
    t = (b - brow_b) / np.maximum(lid_b - brow_b, 1.0)
    band = L.smoothstep(0.08, 0.25, t) * (1.0 - L.smoothstep(0.5, 0.75, t))
    band *= np.sin(np.pi * np.clip(a / width, 0.0, 1.0)) ** 0.5
    if not band.any():
        return
    cx, cy = np.round(xy[_CHEEKS[eye]]).astype(int)
    radius = max(1, int(0.05 * iod))
    cheek = roi[max(cy - radius, 0):cy + radius + 1, max(cx - radius, 0):cx + radius + 1]
    if cheek.size == 0:
        return
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    level = _UNFOLD_LEVEL * float(np.median(cheek.reshape(-1, cheek.shape[-1]), 0) @ weights)
    box = roi[y0:y1, x0:x1]
    small = cv2.resize(box, shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float32)
    luma = cv2.GaussianBlur(small @ weights, (0, 0), max(0.8, 0.04 * iod * scale))
    lift = np.clip(level / np.maximum(luma, 1.0) - 1.0, 0.0, _UNFOLD_GAIN)
    gain = (1.0 + amount * band * lift).astype(np.float32)
    if shape != box.shape[:2]:
        gain = cv2.resize(gain, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    roi[y0:y1, x0:x1] = np.clip(box.astype(np.float32) * gain[..., None] + 0.5, 0,
                                255).astype(np.uint8)


def glabellar_furrows(xy: np.ndarray, amount: float, iod: float
                      ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """AU 4's two furrows: each from just medial of a brow's inner head up the forehead for
    ``_FURROW_LENGTH`` of the eye distance, bending a little outwards at the top (the real
    frowns' ")(" or "11"), deepest in their lower half."""
    up = xy[9] - xy[168]
    up /= max(float(np.linalg.norm(up)), 1e-6)
    furrows = []
    for lower, upper in ((55, 107), (285, 336)):
        start = 0.7 * xy[lower] + 0.3 * xy[168]
        outwards = xy[upper] - xy[9]
        outwards -= (outwards @ up) * up
        outwards /= max(float(np.linalg.norm(outwards)), 1e-6)
        length = _FURROW_LENGTH * iod
        middle = start + 0.5 * length * up
        end = start + length * up + _FURROW_FLARE * iod * outwards
        along = np.linspace(0.0, 1.0, 14)[:, None]
        line = (1 - along) ** 2 * start + 2 * (1 - along) * along * middle + along ** 2 * end
        strength = amount * np.sin(np.pi * np.linspace(0.05, 0.95, len(line))) ** 0.8 * (
            1.0 - 0.35 * along[:, 0])
        furrows.append((line, strength, _FURROW_WIDTH))
    return furrows
