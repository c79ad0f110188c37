"""Assembling an output frame from the warped face (working resolution) and the full photo.

Two ways, chosen per frame by :func:`fgemotalk_cli.engines.warp.render.render_warp`:
- :func:`pasted_frame`: the head does not move (an AU edit): the warped face is pasted into
  the photo through the feathered head mask, and everything beyond stays exactly as it was;
- :func:`layered_frame`: the head moves: the face map is blended into the whole frame's
  layered map (head, neck, body) and composited over the background plate
  (:mod:`fgemotalk_cli.engines.warp.layers`).

When the photo is larger than the working resolution the face map is upsampled and applied to
the full-resolution photo; only what the mouth and lid painting changed comes from the working
resolution (upsampled), so skin, hair and eyes keep every pixel of the original.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp.frame_map import layered_map
from fgemotalk_cli.engines.warp.layers import SourceLayers, composite, paste_insets


@dataclass(frozen=True)
class FaceWarp:
    """The face warp of one frame, at the working resolution."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the face map, working pixels
    mask: np.ndarray  # (h, w) uint8 feathered head mask over the box
    coordinates: np.ndarray  # (h, w, 2) float32 working-pixel source x, y
    # (h, w, 3) uint8: the source through the map, mouth and lids painted (a moving head at
    # the working resolution: only over :func:`paste_box`, black beyond, which is not shown)
    warped: np.ndarray
    unpainted: np.ndarray | None  # the same before painting (needed above working resolution)


@dataclass(frozen=True)
class FrameLayers:
    """What a moving head needs: the source's layers and the head's affine motion."""

    layers: SourceLayers
    work_size: tuple[int, int]  # (width, height) of the working resolution
    head_forward: np.ndarray  # (2, 3) source to target, working pixels


def head_moves(head_forward: np.ndarray, size: tuple[int, int], tolerance_px: float) -> bool:
    """Whether the head affine moves any corner or the centre of the frame further than
    ``tolerance_px``."""
    width, height = size
    probes = np.array([[0, 0], [width, 0], [0, height], [width, height],
                       [width / 2, height / 2]], np.float64)
    moved = probes @ head_forward[:, :2].T + head_forward[:, 2]
    return bool(np.abs(moved - probes).max() > tolerance_px)


def full_box(box: tuple[int, int, int, int], scale: float,
             full_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A working-resolution box in full-resolution pixels."""
    width, height = full_size
    x0, y0, x1, y1 = box
    return (int(round(x0 * scale)), int(round(y0 * scale)),
            min(width, int(round(x1 * scale))), min(height, int(round(y1 * scale))))


def paint_weight(warped: np.ndarray, unpainted: np.ndarray) -> np.ndarray:
    """(h, w) float32 0..1: where the mouth and lid painting changed the warped box."""
    import cv2

    changed = (np.abs(warped.astype(np.int16) - unpainted).max(axis=2) > 0).astype(np.float32)
    changed = cv2.dilate(changed, np.ones((3, 3), np.uint8))
    return cv2.GaussianBlur(changed, (0, 0), 0.7)


def full_resolution_face(full_image: np.ndarray, scale: float, face: FaceWarp,
                         box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The face at full resolution over ``box`` (full pixels): the full photo through the
    upsampled face map, painted pixels upsampled from the working resolution; and that map."""
    import cv2

    fx0, fy0, fx1, fy1 = box
    size = (fx1 - fx0, fy1 - fy0)
    coordinates = cv2.resize(face.coordinates, size, interpolation=cv2.INTER_LINEAR)
    coordinates = (coordinates + 0.5) * np.float32(scale) - 0.5
    map_xy, map_fraction = cv2.convertMaps(  # type: ignore[call-overload]  # the stubs lack map2=None
        coordinates, None, cv2.CV_16SC2)
    sampled = cv2.remap(full_image, map_xy, map_fraction, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REFLECT)
    if face.unpainted is None:
        return sampled, coordinates
    paint = cv2.resize(paint_weight(face.warped, face.unpainted), size,
                       interpolation=cv2.INTER_LINEAR)
    painted = cv2.resize(face.warped, size, interpolation=cv2.INTER_CUBIC)
    return cv2.blendLinear(painted, sampled, paint, 1.0 - paint), coordinates


def _face_at_output(full_image: np.ndarray, scale: float, face: FaceWarp,
                    ) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray, np.ndarray]:
    """Box, face pixels, face map and mask at the output resolution."""
    import cv2

    if scale == 1.0:
        return face.box, face.warped, face.coordinates, face.mask
    box = full_box(face.box, scale, (full_image.shape[1], full_image.shape[0]))
    pixels, coordinates = full_resolution_face(full_image, scale, face, box)
    mask = cv2.resize(face.mask, (box[2] - box[0], box[3] - box[1]),
                      interpolation=cv2.INTER_LINEAR)
    return box, pixels, coordinates, mask


def pasted_frame(full_image: np.ndarray, scale: float, face: FaceWarp) -> np.ndarray:
    """The warped face pasted into the still photo through the feathered head mask."""
    import cv2

    output = full_image.copy()
    (x0, y0, x1, y1), pixels, _, mask = _face_at_output(full_image, scale, face)
    weight = mask.astype(np.float32) * (1.0 / 255.0)
    output[y0:y1, x0:x1] = cv2.blendLinear(pixels, output[y0:y1, x0:x1], weight, 1.0 - weight)
    return output


def layered_frame(full_image: np.ndarray, scale: float, face: FaceWarp,
                  layers: FrameLayers) -> np.ndarray:
    """Head, neck, body and background composited, the face map blended in."""
    import cv2

    full_size = (full_image.shape[1], full_image.shape[0])
    face_box, pixels, face_map, mask = _face_at_output(full_image, scale, face)
    # Only where the frame's map can reach the person (and over the face box) is there
    # anything to composite; beyond, the frame is the still plate as it is.
    frame = layered_map(layers.layers, layers.head_forward, layers.work_size, full_size,
                        keep=face_box)
    fx0, fy0, fx1, fy1 = frame.box
    output = layers.layers.plate.copy()
    if fx1 <= fx0 or fy1 <= fy0:
        return output
    coordinates = frame.coordinates
    # The face box, relative to the frame's box.
    x0, y0, x1, y1 = (face_box[0] - fx0, face_box[1] - fy0, face_box[2] - fx0,
                      face_box[3] - fy0)
    # The face map fades out down the neck a little below the head layer, so the neck
    # below a dropping jaw blends into the body instead of being dragged along whole.
    weight = cv2.multiply(mask, frame.face_weight[y0:y1, x0:x1], scale=1.0 / 255.0,
                          dtype=cv2.CV_32F)
    coordinates[y0:y1, x0:x1] = cv2.blendLinear(face_map, coordinates[y0:y1, x0:x1], weight,
                                                1.0 - weight)
    # A box as wide as the frame is a contiguous block of its rows: composited in place.
    in_place = fx0 == 0 and fx1 == full_size[0]
    composited, alpha = composite(layers.layers, coordinates, frame.box,
                                  output[fy0:fy1] if in_place else None, frame.beyond_edge)
    # The face box as warped (with its anti-aliased lids and lips and the painted mouth and
    # lids) replaces the composite only over the face itself: in the mask's feather the
    # blended map already gives a seamless picture, and beyond the person the plate shows.
    # The paste weight runs from 0 at weight 0.6 to 1 at 1, so only where the mask passes
    # 0.6 can it change a pixel: the paste is blended over that box alone.
    px0, py0, px1, py1 = paste_box(mask)
    if px1 > px0:
        paste = weight[py0:py1, px0:px1] * 2.5
        paste -= 1.5
        np.clip(paste, 0.0, 1.0, out=paste)
        sx0, sy0, sx1, sy1 = x0 + px0, y0 + py0, x0 + px1, y0 + py1  # in the frame's box
        paste *= np.multiply(alpha[sy0:sy1, sx0:sx1], np.float32(1.0 / 255.0),
                             dtype=np.float32)
        composited[sy0:sy1, sx0:sx1] = cv2.blendLinear(
            pixels[py0:py1, px0:px1], composited[sy0:sy1, sx0:sx1], paste, 1.0 - paste)
    if not in_place:
        output[fy0:fy1, fx0:fx1] = composited
    paste_insets(output, layers.layers)
    return output


# Mask levels at or below this give a face weight (mask times the head's own, at most 1)
# under 0.6, where the paste weight is 0 (152 / 255 = 0.596).
_PASTE_FROM_MASK = 152


def paste_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 (exclusive) of the part of a face box (head ``mask``) a moving head's
    face is pasted over: around the mask's pixels that can give a paste weight; all zero if
    none."""
    import cv2

    x, y, width, height = cv2.boundingRect(np.ascontiguousarray(mask > _PASTE_FROM_MASK,
                                                                np.uint8))
    return x, y, x + width, y + height


def sample_face(texture: np.ndarray, coordinates: np.ndarray,
                details: tuple[tuple[tuple[int, int, int, int], np.ndarray], ...],
                pixel_box: tuple[int, int, int, int],
                texture_rgba: np.ndarray | None = None) -> np.ndarray:
    """The working-resolution ``texture`` sampled through a face map (``coordinates`` over
    the face box, the supersampled ``details`` boxes in it: see :class:`.render.BackwardMap`),
    over ``pixel_box`` of the face box; the rest of the face box is black. With
    ``texture_rgba`` (the texture with a fourth channel) the face box is sampled from that,
    the same pixels a little faster."""
    import cv2

    x0, y0, x1, y1 = pixel_box
    # Fixed-point maps (1/32 pixel) remap faster than float ones and look the same.
    map_xy, map_fraction = cv2.convertMaps(  # type: ignore[call-overload]  # the stubs lack map2=None
        coordinates[y0:y1, x0:x1], None, cv2.CV_16SC2)
    if texture_rgba is None:
        warped = cv2.remap(texture, map_xy, map_fraction, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    else:
        warped = cv2.cvtColor(cv2.remap(texture_rgba, map_xy, map_fraction, cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REFLECT), cv2.COLOR_RGBA2RGB)
    for (bx0, by0, bx1, by1), fine_map in details:
        cx0, cy0, cx1, cy1 = max(bx0, x0), max(by0, y0), min(bx1, x1), min(by1, y1)
        if cx1 <= cx0 or cy1 <= cy0:
            continue
        fine = cv2.remap(  # type: ignore[call-overload]  # the stubs lack map2=None
            texture, fine_map, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        halved = cv2.resize(fine, (bx1 - bx0, by1 - by0), interpolation=cv2.INTER_AREA)
        warped[cy0 - y0: cy1 - y0, cx0 - x0: cx1 - x0] = halved[cy0 - by0: cy1 - by0,
                                                                cx0 - bx0: cx1 - bx0]
    height, width = coordinates.shape[:2]
    if (x0, y0, x1, y1) == (0, 0, width, height):
        return warped
    return cv2.copyMakeBorder(warped, y0, height - y1, x0, width - x1, cv2.BORDER_CONSTANT,
                              value=(0, 0, 0))
