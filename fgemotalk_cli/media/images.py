"""Still images in and out as HxWx3 uint8 RGB arrays, whatever the file holds.

Photos arrive rotated by EXIF tags, in grayscale, with alpha, as palettes, with 16 bits per
channel, or at 50 megapixels. ``load_image`` turns all of them into plain upright 8-bit RGB
so that face detection and the engines see one kind of array.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fgemotalk_cli.errors import InputError, MediaError
from fgemotalk_cli.media.paths import require_file

# Transparent areas are composited onto this colour: portrait cut-outs usually come on a
# transparent background, and a plain light background keeps face detection reliable
# (black would also be "plain", but a white ground is what image viewers show).
ALPHA_BACKGROUND = (255, 255, 255)

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


def load_image(path: str | Path, max_size: int | None = None) -> np.ndarray:
    """Read an image as upright HxWx3 uint8 RGB.

    EXIF orientation is applied; grayscale is replicated to three channels; alpha (RGBA,
    LA, transparent palettes) is composited onto white (``ALPHA_BACKGROUND``); 16-bit data is
    scaled to 8 bits. ``max_size`` downscales so that max(H, W) <= max_size (never upscales);
    JPEGs are then decoded at reduced size directly, which keeps very large photos cheap.
    Without ``max_size`` the full resolution is kept.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = require_file(path, "image")
    if max_size is not None and max_size < 1:
        raise ValueError(f"max_size must be positive, not {max_size}")
    try:
        with Image.open(path) as image:
            if max_size is not None:
                # JPEG only (a no-op elsewhere): DCT scaling to at least the requested size.
                image.draft(image.mode, (max_size, max_size))
            upright = ImageOps.exif_transpose(image)
            rgb = _to_rgb_array(upright)
    except UnidentifiedImageError:
        raise MediaError(
            f"cannot read image {path}: not an image or an unsupported format"
        ) from None
    except Image.DecompressionBombError as error:
        raise MediaError(f"image {path} is too large to open safely ({error})") from None
    except (OSError, SyntaxError, ValueError) as error:
        # Pillow reports truncated or corrupt data as OSError, some plugins as SyntaxError.
        raise MediaError(f"cannot read image {path}: damaged or truncated ({error})") from None
    if max_size is not None:
        rgb = downscale_to_max_side(rgb, max_size)
    return rgb


def _to_rgb_array(image) -> np.ndarray:  # image: PIL.Image.Image
    from PIL import Image

    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        # Pillow's own conversion of these modes to 8 bits clips at 255 instead of scaling.
        values = np.asarray(image, dtype=np.float64)
        if mode in _SIXTEEN_BIT_MODES or (mode == "I" and values.max(initial=0) > 255):
            values = values / 257.0
        elif mode == "F" and values.max(initial=0) <= 1.0:
            values = values * 255.0
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    has_alpha = mode in _ALPHA_MODES or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*ALPHA_BACKGROUND, 255))
        image = Image.alpha_composite(background, rgba)
    return np.array(image.convert("RGB"), dtype=np.uint8)


def downscale_to_max_side(image: np.ndarray, max_size: int) -> np.ndarray:
    """Shrink so that max(H, W) <= max_size, keeping the aspect ratio; smaller images pass."""
    import cv2

    height, width = image.shape[:2]
    scale = max_size / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # INTER_AREA averages the dropped pixels: no aliasing on hair or fabric patterns.
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


_COMMON_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
#: zlib level of PNG output: 3 writes a 512 px portrait in a third of the time of Pillow's
#: default 6, for about 3% more bytes (lossless either way).
PNG_COMPRESS_LEVEL = 3


def save_image(path: str | Path, rgb: np.ndarray, quality: int = 95) -> Path:
    """Write an HxWx3 (or HxW gray) uint8 array; the format follows the file suffix.

    ``quality`` applies to JPEG and WebP. Returns the path written.
    """
    from PIL import Image

    path = Path(path)
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8:
        raise ValueError(f"expected a uint8 array, got {getattr(rgb, 'dtype', type(rgb))}")
    if not (rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] == 3)):
        raise ValueError(f"expected an HxWx3 or HxW image, got shape {rgb.shape}")
    suffix = path.suffix.lower()
    # The common formats by name: asking Pillow for its extensions loads every plugin it has.
    image_format = _COMMON_FORMATS.get(suffix) or Image.registered_extensions().get(suffix)
    if image_format is None:
        raise InputError(f"cannot tell the image format of {path.name}: use .png, .jpg or .webp")
    if not path.parent.is_dir():
        raise InputError(f"output folder does not exist: {path.parent}")
    options: dict[str, int] = ({"quality": quality} if image_format in ("JPEG", "WEBP") else
                               {"compress_level": PNG_COMPRESS_LEVEL} if image_format == "PNG"
                               else {})
    try:
        Image.fromarray(np.ascontiguousarray(rgb)).save(path, format=image_format, **options)
    except (OSError, ValueError) as error:
        raise MediaError(f"cannot write image {path}: {error}") from error
    return path
