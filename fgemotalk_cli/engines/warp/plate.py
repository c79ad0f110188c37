"""The background plate: a photo with the person painted out, for what a moving head uncovers.

A head moves by a small share of its width, so what it uncovers is a band along its outline.
A smooth fill there (pull-push: averages of the known pixels over ever coarser grids) has the
right colours on average but none of the texture: in front of a patterned background (a
window, curtains, foliage, a painting's canvas) the band shows as a smooth grey ghost of the
head's old outline beside the moving head. So the band takes the background beside the
outline mirrored across it: each hole pixel the background pixel as far outside the nearest
outline point as it lies inside, which continues the texture, its grain and its light, up to
the edge (right at the edge, across the edge itself, so the band meets the photo without a
step). Deeper in, where the mirror would reach far away (or lands on the person or off the
picture), the smooth fill takes over. [ours]

The segmentation sees the photo at 256 px: its mask misses the fine hair beyond it (wisps,
the tips of curls), which would stay behind in the plate as a ghost of the head's outline.
:func:`soft_matte` adds to the mask's edge and the band beyond it a colour matte against a
first guess of the plate where the background is plain enough to be predicted (each pixel's
colour on the line from the background's colour to the person's), so the head carries its
wisps and the plate paints them out. [ours]
"""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp.layout import smoothstep

_SMOOTH_SIDE = 256  # the smooth fill is computed on a copy this size (it has no detail)
_MIRROR_SIDE = 384  # the mirror's geometry on a copy this size: its map is smooth, upsampled
#: The mirrored band reaches this deep into the hole (face-frame IOD), fading out over as much
#: again: a head's motion in a frame uncovers a fraction of that.
MIRROR_FULL_IOD = 0.3
MIRROR_FADE_IOD = 0.6
_OUTLINE_SMOOTHING_IOD = 0.15  # the outline mirrored across is closed over notches this wide
#: Within this depth of the hole's own edge (face-frame IOD) the mirror turns, at full
#: resolution, to the one across that edge itself, so the band meets the photo without a step.
EXACT_EDGE_IOD = 0.06
_EXACT_EDGE_MIN_PX = 6.0  # and at least this many pixels (a small face's edge is as sharp)
#: Beyond the segmentation's mask, fine hair is looked for this far (face-frame IOD).
MATTE_REACH_IOD = 0.25
# The matte is trusted where the person's colour and the background's differ by more than
# this (grey levels, RGB distance: from none to full trust) ...
_MATTE_CONTRAST = (20.0, 50.0)
# ... and where the background is plain: its local spread (grey levels, the largest of the
# channels' standard deviations over about 0.2 IOD) below the first, none above the second.
# A textured background (foliage, a window) cannot be predicted from the plate pixel by pixel.
_PLAIN_SPREAD = (4.0, 10.0)
_PLAIN_WINDOW_IOD = 0.2
_MATTE_FLOOR = 0.08  # a projection below this is the background's own noise


def background_fill(image: np.ndarray, hole: np.ndarray, iod_px: float) -> np.ndarray:
    """(H, W, 3) float32: ``image`` (uint8 RGB) with the pixels of ``hole`` (H, W, uint8, 1
    inside) filled: mirrored background along the hole's edge, the smooth fill deeper in.
    ``iod_px``: the face's inter-ocular distance in the image's pixels."""
    import cv2

    height, width = hole.shape
    small_scale = min(1.0, _SMOOTH_SIDE / max(height, width))
    small_size = (max(8, round(width * small_scale)), max(8, round(height * small_scale)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    known = cv2.resize(1.0 - hole.astype(np.float32), small_size, interpolation=cv2.INTER_AREA)
    smooth = fill_from_surroundings(small.astype(np.float32), (known > 0.999).astype(np.float32))
    smooth = np.asarray(cv2.resize(smooth, (width, height), interpolation=cv2.INTER_LINEAR),
                        np.float32)
    band = mirrored_band(image, hole, iod_px) if hole.any() else None
    if band is not None:
        (x0, y0, x1, y1), mirrored, weight = band
        box = smooth[y0:y1, x0:x1]
        box += (mirrored.astype(np.float32) - box) * weight[..., None]
    return smooth


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), pixels


def mirrored_band(image: np.ndarray, hole: np.ndarray,
                  iod_px: float) -> tuple[Box, np.ndarray, np.ndarray] | None:
    """The background mirrored across the hole's edge, over the hole's box and the reach
    around it: the box, its (h, w, 3) uint8 colours and their (h, w) float32 weight, 1 near
    the edge, fading to 0 deeper in and wherever the mirrored point is no background (inside
    the hole, off the picture). None when the hole leaves no background."""
    import cv2

    height, width = hole.shape
    # Only the hole's box and the background the mirror can reach around it are looked at.
    reach = int(np.ceil((MIRROR_FULL_IOD + MIRROR_FADE_IOD) * iod_px)) + 2
    rows, columns = np.nonzero(hole.any(axis=1))[0], np.nonzero(hole.any(axis=0))[0]
    x0, x1 = max(int(columns[0]) - reach, 0), min(int(columns[-1]) + 1 + reach, width)
    y0, y1 = max(int(rows[0]) - reach, 0), min(int(rows[-1]) + 1 + reach, height)
    box_width, box_height = x1 - x0, y1 - y0
    # The mirror's geometry on a coarse grid (its map is smooth but for the medial axis,
    # which lies deeper than the band), upsampled.
    scale = min(1.0, _MIRROR_SIDE / max(box_width, box_height))
    size = (max(8, round(box_width * scale)), max(8, round(box_height * scale)))
    box_hole = hole[y0:y1, x0:x1]
    small_hole = (cv2.resize(box_hole.astype(np.float32), size, interpolation=cv2.INTER_AREA)
                  > 0.0).astype(np.uint8)
    # Mirrored across the raw outline, every strand of hair and notch of the mask bends the
    # mirror and the band shows shards; across the outline smoothed (closed, so still around
    # the whole hole) it shows the background's texture in one piece.
    smoothing = max(1, round(_OUTLINE_SMOOTHING_IOD * iod_px * scale))
    small_hole = np.asarray(cv2.morphologyEx(small_hole, cv2.MORPH_CLOSE,
                                             cv2.getStructuringElement(
                                                 cv2.MORPH_ELLIPSE, (2 * smoothing + 1,) * 2)),
                            np.uint8)
    if small_hole.all():
        return None
    # Every hole sample's nearest background sample.
    depth, labels, pixel_of_label = nearest_background(small_hole)
    nearest_rows, nearest_columns = np.divmod(pixel_of_label[labels], size[0])
    nearest = np.dstack([nearest_columns, nearest_rows]).astype(np.float32)
    grid = np.dstack(np.meshgrid(np.arange(size[0], dtype=np.float32),
                                 np.arange(size[1], dtype=np.float32)))
    mirror = 2.0 * nearest - grid  # in coarse samples
    mirror = cv2.GaussianBlur(mirror, (0, 0), float(smoothing))
    # Weight on the coarse grid: full up to MIRROR_FULL_IOD deep, then fading.
    depth_iod = depth / (scale * max(iod_px, 1.0))
    coarse = np.clip((MIRROR_FULL_IOD + MIRROR_FADE_IOD - depth_iod) / MIRROR_FADE_IOD, 0, 1)
    inside = ((mirror[..., 0] >= 0) & (mirror[..., 0] <= size[0] - 1)
              & (mirror[..., 1] >= 0) & (mirror[..., 1] <= size[1] - 1))
    lands = cv2.remap((small_hole == 0).astype(np.float32), mirror[..., 0], mirror[..., 1],
                      cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0.0,))
    coarse *= inside & (lands > 0.99)
    # Soft where the mirror's validity or the nearest outline point switches.
    coarse = cv2.GaussianBlur(coarse.astype(np.float32), (0, 0), max(1.0, 0.03 * iod_px * scale))
    # Coarse sample centres to full-image pixels of the box: (i + 0.5) / scale - 0.5.
    factors = np.array([box_width / size[0], box_height / size[1]], np.float32)
    mirror = (mirror + 0.5) * factors - 0.5 + np.array([x0, y0], np.float32)
    mirror = cv2.resize(mirror, (box_width, box_height), interpolation=cv2.INTER_LINEAR)
    weight = cv2.resize(coarse, (box_width, box_height), interpolation=cv2.INTER_LINEAR)
    _turn_to_exact_edge(mirror, weight, box_hole, (x0, y0),
                        max(EXACT_EDGE_IOD * iod_px, _EXACT_EDGE_MIN_PX))
    colours = cv2.remap(image, mirror, None,  # type: ignore[call-overload]
                        cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return (x0, y0, x1, y1), colours, weight


def nearest_background(hole: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pixel's nearest pixel outside ``hole`` ((h, w) uint8, 1 inside; not all of
    it): the (h, w) float32 distance to it, the (h, w) int32 label of it, and per label the
    flat index (row * w + column) of its pixel, so ``divmod(pixel_of_label[labels], w)``
    gives its row and column."""
    import cv2

    depth, labels = cv2.distanceTransformWithLabels(hole, cv2.DIST_L2, 5,
                                                    labelType=cv2.DIST_LABEL_PIXEL)
    # Each background pixel is its own label. OpenCV numbers them from 1 in raster order,
    # so a label's pixel is the label-th background pixel of the flattened image; a table
    # filled label by label (the fallback) cost 0.3 s on a 2048 px portrait.
    background = np.flatnonzero(hole.reshape(-1) == 0)
    flat_labels = labels.reshape(-1)
    if flat_labels[background[0]] == 1 and flat_labels[background[-1]] == len(background):
        pixel_of_label = np.concatenate([[0], background])
    else:
        pixel_of_label = np.zeros(int(labels.max()) + 1, np.int64)
        pixel_of_label[flat_labels[background]] = background
    return depth, labels, pixel_of_label


def _turn_to_exact_edge(mirror: np.ndarray, weight: np.ndarray, hole: np.ndarray,
                       origin: tuple[int, int], band_px: float) -> None:
    """Blend ``mirror`` ((h, w, 2) float32 image coordinates over the box of ``hole``, in
    place), near the hole's own edge, into the mirror across that edge at full resolution,
    and raise the band's ``weight`` (h, w) there to the share it takes (what it shows is
    background by construction, where the coarse validity had faded it).

    The smoothed outline's mirror, computed coarse and blurred, does not end on the edge
    pixel itself: just inside the edge it shows the background a few pixels further out,
    and the band met the photo with a step (mean colour step at the edge 2.2 times the
    background's own over the same distance, 4 times on obama's window). Across the edge
    itself the band is continuous with the photo; a ragged edge makes that mirror ragged
    too, so it is kept to a thin band and fades into the smoothed one deeper in."""

    if band_px < 1.0 or hole.all():
        return
    depth, labels, pixel_of_label = nearest_background(hole)
    near = (hole > 0) & (depth < band_px)
    if not near.any():
        return
    near_rows, near_columns = np.nonzero(near)
    nearest_rows, nearest_columns = np.divmod(pixel_of_label[labels[near_rows, near_columns]],
                                              hole.shape[1])
    exact = np.stack([2 * nearest_columns - near_columns, 2 * nearest_rows - near_rows],
                     axis=1).astype(np.float32)
    # Where the exact mirror lands on the person again (a thin gap between strands) or off
    # the picture, the smoothed one stays.
    landed = np.round(exact).astype(np.int64)
    inside = ((landed[:, 0] >= 0) & (landed[:, 0] < hole.shape[1])
              & (landed[:, 1] >= 0) & (landed[:, 1] < hole.shape[0]))
    lands = np.zeros(len(exact), bool)
    lands[inside] = hole[landed[inside, 1], landed[inside, 0]] == 0
    share = (1.0 - smoothstep(0.5 * band_px, band_px, depth[near_rows, near_columns])) * lands
    exact += np.asarray(origin, np.float32)
    smoothed = mirror[near_rows, near_columns]
    mirror[near_rows, near_columns] = smoothed + share[:, None].astype(np.float32) * (
        exact - smoothed)
    weight[near_rows, near_columns] = np.maximum(weight[near_rows, near_columns], share)


def fill_from_surroundings(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``image`` (float32, H x W x C) with its unknown pixels (``known`` 0) filled by pull-push:
    averages of the known pixels over ever coarser grids, blended back down, so a hole takes
    the smooth colours of what surrounds it (no streaks, unlike a marching inpaint)."""
    import cv2

    levels = []
    values, weights = image * known[..., None], known
    while min(values.shape[:2]) > 2:
        levels.append((values, weights))
        size = (max(1, values.shape[1] // 2), max(1, values.shape[0] // 2))
        values = cv2.resize(values, size, interpolation=cv2.INTER_AREA)
        weights = cv2.resize(weights, size, interpolation=cv2.INTER_AREA)
    filled = values / np.maximum(weights, 1e-6)[..., None]
    for values, weights in reversed(levels):
        coarse = cv2.resize(filled, (values.shape[1], values.shape[0]),
                            interpolation=cv2.INTER_LINEAR)
        share = np.clip(weights * 4.0, 0.0, 1.0)[..., None]
        filled = share * values / np.maximum(weights, 1e-6)[..., None] + (1.0 - share) * coarse
    return filled


def soft_matte(image: np.ndarray, background: np.ndarray, core: np.ndarray,
               iod_px: float) -> np.ndarray:
    """(H, W) float32 person alpha: ``core`` (the segmentation's, 0..1) raised at its soft
    edge and up to :data:`MATTE_REACH_IOD` beyond by a colour matte against ``background``
    ((H, W, 3) float32, the photo with the person painted out): each pixel's colour projected
    on the line from the background's colour to the person's (the smooth fill of the
    person's confident pixels), where the two differ and the background is plain; where
    they look alike or the background is textured, ``core`` as it is."""
    import cv2

    height, width = core.shape
    scale = min(1.0, _SMOOTH_SIDE / max(height, width))
    small_size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small_core = cv2.resize(core, small_size, interpolation=cv2.INTER_AREA)
    # The person's own colour at its edge: the smooth fill of its confident pixels.
    small_image = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA).astype(np.float32)
    person_colour = fill_from_surroundings(small_image, (small_core > 0.99).astype(np.float32))
    # Only near the mask, out to the reach.
    reach = max(1.0, MATTE_REACH_IOD * iod_px * scale)
    distance = cv2.distanceTransform((small_core < 0.5).astype(np.uint8), cv2.DIST_L2, 3)
    near = smoothstep(reach, 0.6 * reach, distance)
    # How plain the photo's background is there: the spread of the photo beyond the reach
    # (where no hair is looked for, so the strands themselves do not count as texture).
    beyond = (distance > reach + 1.0).astype(np.float32)
    window = max(1.0, _PLAIN_WINDOW_IOD * iod_px * scale)
    weight = np.maximum(cv2.GaussianBlur(beyond, (0, 0), window), 1e-3)[..., None]
    mean = cv2.GaussianBlur(small_image * beyond[..., None], (0, 0), window) / weight
    mean_square = cv2.GaussianBlur(small_image * small_image * beyond[..., None], (0, 0),
                                   window) / weight
    spread = np.sqrt(np.maximum(mean_square - mean * mean, 0.0)).max(axis=2)
    trust = smoothstep(_PLAIN_SPREAD[1], _PLAIN_SPREAD[0], spread) * near
    full_size = (width, height)
    person_colour = cv2.resize(person_colour, full_size, interpolation=cv2.INTER_LINEAR)
    trust = cv2.resize(trust.astype(np.float32), full_size, interpolation=cv2.INTER_LINEAR)
    # The colour line, pixel by pixel.
    difference = person_colour - background
    offset = image.astype(np.float32) - background
    contrast_square = np.einsum("ijk,ijk->ij", difference, difference)
    projection = np.einsum("ijk,ijk->ij", offset, difference) / np.maximum(contrast_square, 1.0)
    matte = np.clip((projection - _MATTE_FLOOR) / (1.0 - _MATTE_FLOOR), 0.0, 1.0)
    trust *= smoothstep(*_MATTE_CONTRAST, np.sqrt(contrast_square))
    # The matte only adds to the mask: where it says less (a rim of background the mask
    # counts as person, or the hair's own highlights), lowering the alpha would leave the
    # rim's mixed colours, now outside the hole, in the plate as a dark outline.
    return np.maximum(core, trust * matte).astype(np.float32)
