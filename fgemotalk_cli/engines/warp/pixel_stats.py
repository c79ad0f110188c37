"""Small statistics of image regions, for colours read every frame (a driver's teeth, lips and
skin): the pixels inside a polygon, per-channel medians and a percentile. The results are
NumPy's own (``np.median``, ``np.percentile``'s linear method) by the same arithmetic, for a
fraction of the call overhead on the few hundred pixels a mouth has."""

from __future__ import annotations

import numpy as np


def polygon_pixels(image: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(n, 3) float64: the pixels inside ``polygon`` (rounded to whole pixels), row by row.
    Drawn over the polygon's own bounding box, not the whole image (a mask of a whole driver
    frame and its boolean index cost more than the rest of the mouth's statistics)."""
    import cv2

    corners = np.round(polygon).astype(np.int32)
    height, width = image.shape[:2]
    x0, y0 = np.maximum(corners.min(axis=0), 0)
    x1, y1 = np.minimum(corners.max(axis=0) + 1, (width, height))
    if x1 <= x0 or y1 <= y0:
        return np.empty((0, 3), np.float64)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [corners - (x0, y0)], (1,))
    return image[y0:y1, x0:x1][mask.astype(bool)].reshape(-1, 3).astype(np.float64)


def channel_medians(pixels: np.ndarray) -> np.ndarray:
    """(3,) float64: each channel's median of (n, 3) ``pixels`` (n > 0), as
    ``np.median(pixels, axis=0)`` gives it, without its general-purpose overhead."""
    channels = np.ascontiguousarray(pixels.T)
    half = len(pixels) // 2
    if len(pixels) % 2:
        return np.partition(channels, half, axis=1)[:, half].astype(np.float64)
    ordered = np.partition(channels, (half - 1, half), axis=1)
    return (ordered[:, half - 1].astype(np.float64) + ordered[:, half]) / 2.0


def percentile(values: np.ndarray, percent: float) -> float:
    """``np.percentile(values, percent)`` (its default linear interpolation, the same
    arithmetic) of a non-empty 1-D array, without its general-purpose overhead."""
    count = len(values)
    virtual = (count - 1) * (percent / 100)
    below = int(np.floor(virtual))
    if below >= count - 1:
        return float(values.max())
    ordered = np.partition(values, (below, below + 1))
    low, high = ordered[below], ordered[below + 1]
    fraction = virtual - below
    difference = high - low
    return float(high - difference * (1 - fraction) if fraction >= 0.5
                 else low + difference * fraction)
