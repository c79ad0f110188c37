"""Square face crops for a network or an editor, and pasting the result back into the frame.

A crop is an affine map of the full image (scale, optional roll alignment, shift) stored with
the pixels, so that anything drawn in crop pixels can go back where it came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.faces.landmarks import FaceLandmarks

BorderMode = Literal["replicate", "reflect", "constant"]


@dataclass(frozen=True, eq=False)
class FaceCrop:
    """A square face crop and the affine map it was cut with.

    ``image`` is size x size x 3 uint8; ``matrix`` (2x3) takes full-image pixel coordinates to
    crop pixel coordinates: ``crop_xy = matrix[:, :2] @ image_xy + matrix[:, 2]``.
    """

    image: np.ndarray
    matrix: np.ndarray
    size: int

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) full-image pixel coordinates of crop points given as (N, 2)."""
        linear = self.matrix[:, :2]
        xy = np.asarray(points, dtype=np.float64)[:, :2]
        return (xy - self.matrix[:, 2]) @ np.linalg.inv(linear).T


def check_rgb(image_rgb: np.ndarray, what: str = "image") -> np.ndarray:
    """The image as an array, or an InputError saying why it is not an 8-bit RGB image."""
    image = np.asarray(image_rgb)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 2 or image.shape[1] < 2:
        raise InputError(f"expected an RGB {what} of shape (height, width, 3), got {image.shape}")
    if image.dtype != np.uint8:
        raise InputError(f"expected an 8-bit RGB {what} (uint8), got {image.dtype}")
    return image


_BORDERS = {"replicate": "BORDER_REPLICATE", "reflect": "BORDER_REFLECT_101",
            "constant": "BORDER_CONSTANT"}


def crop_face(
    image_rgb: np.ndarray,
    landmarks: FaceLandmarks,
    size: int = 256,
    scale: float = 1.8,
    center_offset: tuple[float, float] = (0.0, 0.0),
    align_roll: bool = False,
    border: BorderMode = "replicate",
) -> FaceCrop:
    """A ``size`` x ``size`` crop around the face.

    The square's side is ``scale`` times the longer side of the landmarks' bounding box and it
    is centred on that box, moved by ``center_offset`` (fractions of the side; (0, -0.1) moves
    it up to show more hair). With ``align_roll`` the crop turns with the head so the eyes come
    out level. Pixels outside the image are filled by ``border``.
    """
    import cv2

    image = check_rgb(image_rgb)
    if size < 8:
        raise InputError(f"crop size must be at least 8 pixels, got {size}")
    if not scale > 0:
        raise InputError(f"crop scale must be positive, got {scale}")
    if border not in _BORDERS:
        raise InputError(f"border must be one of {', '.join(_BORDERS)}, got {border!r}")
    x0, y0, x1, y1 = landmarks.bbox()
    side = scale * max(x1 - x0, y1 - y0, 1.0)
    angle = 0.0
    if align_roll:
        right, left = landmarks.eye_centres()
        angle = math.atan2(left[1] - right[1], left[0] - right[0])
    cos, sin = math.cos(angle), math.sin(angle)
    # The offset is in the crop's own axes, so "up" stays up the face when the crop is turned.
    offset_x, offset_y = center_offset[0] * side, center_offset[1] * side
    center = np.array([(x0 + x1) / 2 + cos * offset_x - sin * offset_y,
                       (y0 + y1) / 2 + sin * offset_x + cos * offset_y])
    zoom = size / side
    linear = zoom * np.array([[cos, sin], [-sin, cos]])  # rotate by -angle, then scale
    matrix = np.hstack([linear, ((size - 1) / 2 - linear @ center)[:, None]])

    border_mode = getattr(cv2, _BORDERS[border])
    # Shrinking by more than 2x with bilinear sampling skips pixels and aliases; sample at an
    # integer multiple of the size and average blocks down instead.
    factor = min(8, int(1.0 / zoom)) if zoom < 0.5 else 1
    big: np.ndarray = matrix * factor  # float64; numpy's stubs infer an int array
    big[:, 2] += (factor - 1) / 2  # block centres line up with the small crop's pixel centres
    crop = cv2.warpAffine(image, big, (size * factor, size * factor), flags=cv2.INTER_LINEAR,
                          borderMode=border_mode, borderValue=(0, 0, 0))
    if factor > 1:
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return FaceCrop(image=crop, matrix=matrix, size=size)


def _border_ramp(size: int, feather_pixels: float) -> np.ndarray:
    """(size, size) weights: 1 inside, easing to 0 over ``feather_pixels`` at every edge."""
    position = np.arange(size, dtype=np.float32)
    to_edge = np.minimum(position, size - 1 - position) + 0.5
    ramp = np.clip(to_edge / max(feather_pixels, 1e-6), 0.0, 1.0)
    ramp = ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep: no visible kink where blending starts
    return np.minimum(ramp[:, None], ramp[None, :])


def paste_back(
    frame_rgb: np.ndarray,
    crop: FaceCrop,
    new_crop_image: np.ndarray,
    feather: float = 0.1,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """The frame with ``new_crop_image`` warped back where ``crop`` was cut from.

    The pasted square fades into the frame over ``feather`` (a fraction of the crop side) at
    its edges. ``mask`` (crop-sized, weights in [0, 1], or uint8/bool) limits the paste to a
    region, such as the face; it is softened by the same feather width. ``new_crop_image`` may
    have a different square size than the crop (a network's output resolution). Returns a new
    uint8 array; ``frame_rgb`` is left untouched.
    """
    import cv2

    frame = check_rgb(frame_rgb, "frame")
    new_crop = check_rgb(new_crop_image, "crop")
    new_size = new_crop.shape[0]
    if new_crop.shape[1] != new_size:
        raise InputError(f"the new crop must be square, got {new_crop.shape[1]}x{new_size}")
    if not 0.0 <= feather <= 0.5:
        raise InputError(f"feather must be a fraction of the crop side in [0, 0.5], got {feather}")
    matrix = crop.matrix.astype(np.float64) * (new_size / crop.size)
    matrix[:, 2] += (new_size / crop.size - 1) / 2  # keep pixel centres aligned when resized

    feather_pixels = feather * new_size
    alpha = _border_ramp(new_size, feather_pixels) if feather > 0 else np.ones(
        (new_size, new_size), np.float32)
    if mask is not None:
        alpha = alpha * _mask_weights(mask, new_size, feather_pixels)

    height, width = frame.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [new_size - 1, 0, 1], [0, new_size - 1, 1],
                        [new_size - 1, new_size - 1, 1]], dtype=np.float64) @ inverse.T
    left, top = np.floor(corners.min(axis=0)).astype(int) - 1
    right, bottom = np.ceil(corners.max(axis=0)).astype(int) + 2
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, width), min(bottom, height)
    result = frame.copy()
    if right <= left or bottom <= top:
        return result  # the crop lies wholly outside the frame
    # Warp only the frame region the crop covers, not the whole frame.
    region = matrix.copy()
    region[:, 2] += matrix[:, :2] @ np.array([left, top], dtype=np.float64)
    region_size = (int(right - left), int(bottom - top))
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    pasted = cv2.warpAffine(new_crop, region, region_size, flags=flags,
                            borderMode=cv2.BORDER_REPLICATE)
    weight = cv2.warpAffine(alpha, region, region_size, flags=flags,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0.0,))
    target = result[top:bottom, left:right]
    # OpenCV's blend runs in one native pass, several times faster than float numpy here.
    result[top:bottom, left:right] = cv2.blendLinear(pasted, target, weight, 1.0 - weight)
    return result


def _mask_weights(mask: np.ndarray, size: int, feather_pixels: float) -> np.ndarray:
    import cv2

    weights = np.asarray(mask)
    if weights.ndim == 3 and weights.shape[2] == 1:
        weights = weights[..., 0]
    if weights.ndim != 2:
        raise InputError(f"a paste mask must be a 2-D array, got shape {weights.shape}")
    if weights.dtype == np.uint8:
        weights = weights.astype(np.float32) / 255.0
    weights = np.clip(weights.astype(np.float32), 0.0, 1.0)
    if weights.shape != (size, size):
        weights = cv2.resize(weights, (size, size), interpolation=cv2.INTER_LINEAR)
    if feather_pixels > 0:
        # A hard-edged region mask would leave a visible seam; blur it over the feather width.
        sigma = feather_pixels / 3.0
        weights = cv2.GaussianBlur(weights, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return weights
