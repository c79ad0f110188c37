from __future__ import annotations

import cv2
import numpy as np

from fgemotalk_cli.engines.warp.pixel_stats import channel_medians, percentile, polygon_pixels


def _full_mask_pixels(image: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], (1,))
    return image[mask.astype(bool)].reshape(-1, 3).astype(np.float64)


def test_polygon_pixels_match_a_whole_image_mask_also_past_the_edges() -> None:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    for _ in range(40):
        centre = rng.uniform(-10, 90, 2)
        polygon = centre + rng.uniform(-25, 25, (7, 2))
        expected = _full_mask_pixels(image, polygon)
        got = polygon_pixels(image, polygon)
        assert got.dtype == np.float64
        assert np.array_equal(got, expected)
    assert polygon_pixels(image, np.array([[-30.0, -30], [-20, -30], [-25, -20]])).shape == (0, 3)


def test_channel_medians_and_percentile_are_numpys() -> None:
    rng = np.random.default_rng(4)
    for count in (1, 2, 3, 10, 11, 257):
        pixels = rng.integers(0, 256, (count, 3)).astype(np.uint8)
        assert np.array_equal(channel_medians(pixels), np.median(pixels, axis=0))
        values = rng.normal(100, 30, count)
        for percent in (0, 50, 80, 88, 100):
            assert percentile(values, percent) == np.percentile(values, percent)
