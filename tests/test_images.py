"""Every kind of still image a user may hand in comes out as upright 8-bit RGB."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fgemotalk_cli.errors import InputError, MediaError
from fgemotalk_cli.media.images import downscale_to_max_side, load_image, save_image

EXIF_ORIENTATION = 0x0112


def test_every_shared_portrait_loads(portraits: list[Path]) -> None:
    assert len(portraits) >= 15
    for path in portraits:
        rgb = load_image(path)
        with Image.open(path) as image:
            width, height = image.size
        assert rgb.dtype == np.uint8 and rgb.shape == (height, width, 3), path.name
        assert rgb.flags.c_contiguous and rgb.flags.writeable


@pytest.mark.parametrize(("orientation", "corner"), [(6, (0, -1)), (8, (-1, 0)), (3, (-1, -1))])
def test_exif_orientation_is_applied(
    tmp_path: Path, orientation: int, corner: tuple[int, int]
) -> None:
    stored = np.zeros((40, 80, 3), np.uint8)
    stored[:10, :10] = (255, 0, 0)  # red block at the stored top-left
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    rgb = load_image(path)
    assert rgb.shape == ((80, 40, 3) if orientation in (6, 8) else (40, 80, 3))
    row, column = corner
    red = rgb[5 if row == 0 else -5, 5 if column == 0 else -5]
    assert red[0] > 200 and red[1] < 60, f"orientation {orientation}: {red}"


def test_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    gray = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (16, 1))
    path = tmp_path / "gray.png"
    Image.fromarray(gray, mode="L").save(path)
    rgb = load_image(path)
    assert rgb.shape == (16, 64, 3)
    assert all(np.array_equal(rgb[..., channel], gray) for channel in range(3))


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:, :4] = (200, 30, 30, 255)  # opaque red left half
    rgba[:, 4:] = (0, 0, 0, 0)  # fully transparent right half
    rgba[0, 0] = (0, 0, 0, 128)  # half-transparent black
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    rgb = load_image(path)
    assert rgb[4, 1].tolist() == [200, 30, 30]
    assert rgb[4, 6].tolist() == [255, 255, 255]
    assert 120 <= rgb[0, 0, 0] <= 135
    gray_alpha = tmp_path / "la.png"
    Image.fromarray(rgba[..., [0, 3]], mode="LA").save(gray_alpha)
    assert load_image(gray_alpha)[4, 6].tolist() == [255, 255, 255]


def test_palette_with_transparency(tmp_path: Path) -> None:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 255] + [0, 255, 0] + [0, 0, 0] * 254)
    image.putpixel((0, 0), 1)
    image.info["transparency"] = 0
    path = tmp_path / "palette.png"
    image.save(path, transparency=0)
    rgb = load_image(path)
    assert rgb[0, 0].tolist() == [0, 255, 0] and rgb[3, 3].tolist() == [255, 255, 255]
    opaque = tmp_path / "opaque.gif"
    Image.new("P", (4, 4), 0).save(opaque)
    assert load_image(opaque).shape == (4, 4, 3)


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 64 * 16).reshape(16, 64).astype(np.uint16)
    expected = np.rint(ramp / 257).astype(np.uint8)
    gray = tmp_path / "gray16.png"
    Image.fromarray(ramp).save(gray)
    assert np.abs(load_image(gray)[..., 0].astype(int) - expected).max() <= 1
    colour = np.stack([ramp, ramp[::-1], np.full_like(ramp, 32768)], axis=-1)
    for suffix in (".png", ".tif"):
        path = tmp_path / f"colour16{suffix}"
        assert cv2.imwrite(str(path), colour[..., ::-1])  # OpenCV writes BGR
        rgb = load_image(path)
        assert np.abs(rgb[..., 0].astype(int) - expected).max() <= 1, suffix
        assert np.abs(rgb[..., 2].astype(int) - 128).max() <= 1, suffix


def test_large_photo_downscaled_only_on_request(tmp_path: Path) -> None:
    big = np.zeros((3000, 4000, 3), np.uint8)
    big[:, :2000] = (180, 120, 90)
    path = tmp_path / "big.jpg"
    Image.fromarray(big).save(path, quality=85)
    assert load_image(path).shape == (3000, 4000, 3)
    small = load_image(path, max_size=1000)
    assert small.shape == (750, 1000, 3)
    assert np.abs(small[375, 250].astype(int) - [180, 120, 90]).max() <= 4
    png = tmp_path / "wide.png"
    Image.fromarray(big[:300, :1000]).save(png)
    assert load_image(png, max_size=500).shape == (150, 500, 3)
    assert load_image(png, max_size=5000).shape == (300, 1000, 3)  # never upscaled
    assert downscale_to_max_side(big[:10, :20], 10).shape == (5, 10, 3)


def test_save_round_trip_and_format_from_suffix(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert np.array_equal(load_image(save_image(tmp_path / "a.png", rgb)), rgb)
    jpeg = save_image(tmp_path / "a.jpg", rgb)
    with Image.open(jpeg) as image:
        assert image.format == "JPEG"
    with pytest.raises(InputError, match="image format"):
        save_image(tmp_path / "a.unknown", rgb)
    with pytest.raises(ValueError):
        save_image(tmp_path / "b.png", rgb.astype(np.float32))


def test_bad_image_inputs_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="image not found"):
        load_image(tmp_path / "missing.png")
    text = tmp_path / "face.jpg"
    text.write_text("hello")
    with pytest.raises(MediaError, match="not an image"):
        load_image(text)
    truncated = tmp_path / "cut.jpg"
    Image.new("RGB", (256, 256), (10, 200, 30)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    with pytest.raises(MediaError, match="cut.jpg"):
        load_image(truncated)
