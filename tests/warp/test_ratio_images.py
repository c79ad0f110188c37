"""Expression ratio images (engines/warp/ratio_images.py): creases carry over, light does not."""

from __future__ import annotations

import cv2
import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.ratio_images import (
    MAX_CHANGE,
    DriverReference,
    apply_ratio,
    expression_ratio,
)
from tests.warp.conftest import WarpCase


def _glabella_crease(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The image with a dark vertical crease between the brows, and the crease's middle."""
    brows = points[[L.RIGHT_BROW_LOWER[-1], L.LEFT_BROW_LOWER[-1]], :2].mean(axis=0)
    iod = float(np.linalg.norm(points[263, :2] - points[33, :2]))
    x, y = int(round(brows[0])), int(round(brows[1] - 0.05 * iod))
    creased = image.copy()
    cv2.line(creased, (x, y - int(0.12 * iod)), (x, y + int(0.08 * iod)), (0, 0, 0),
             max(2, int(0.02 * iod)))
    return cv2.GaussianBlur(creased, (0, 0), 1.0), (x, y)


def test_same_frame_gives_no_ratio_and_light_changes_are_not_detail(
        warp_cases: list[WarpCase]) -> None:
    case = warp_cases[0]
    points = np.asarray(case.landmarks.points, np.float64)
    reference = DriverReference.from_frame(case.image, points)
    result = expression_ratio(reference, case.image, points, points)
    assert result is not None
    ratio, _ = result
    assert np.allclose(ratio, 1.0, atol=1e-5)
    brighter = np.clip(case.image.astype(np.float32) * 1.15, 0, 255).astype(np.uint8)
    lit, _ = expression_ratio(reference, brighter, points, points) or (None, None)
    assert lit is not None and np.percentile(np.abs(lit - 1.0), 99) < 0.03


def test_a_driver_crease_darkens_the_target_there_and_nowhere_else(
        warp_cases: list[WarpCase]) -> None:
    case = warp_cases[0]
    points = np.asarray(case.landmarks.points, np.float64)
    creased, (x, y) = _glabella_crease(case.image, points)
    reference = DriverReference.from_frame(case.image, points)
    # The target is the same face moved and enlarged: the crease lands where the mesh says.
    target = points.copy()
    target[:, :2] = (points[:, :2] - points[1, :2]) * 1.1 + points[1, :2] + (6.0, -4.0)
    result = expression_ratio(reference, creased, points, target)
    assert result is not None
    ratio, box = result
    assert ratio.min() >= 1 - MAX_CHANGE - 1e-6 and ratio.max() <= 1 + MAX_CHANGE + 1e-6
    frame = np.full((case.image.shape[0] + 80, case.image.shape[1] + 80, 3), 150, np.uint8)
    before = frame.copy()
    apply_ratio(frame, ratio, box)
    crease_at = ((np.array([x, y]) - points[1, :2]) * 1.1 + points[1, :2] + (6.0, -4.0))
    cx, cy = np.round(crease_at).astype(int)
    assert frame[cy, cx, 1] < 0.9 * before[cy, cx, 1]
    changed = np.abs(frame.astype(int) - before.astype(int)).max(axis=2) > 3
    iod = float(np.linalg.norm(target[263, :2] - target[33, :2]))
    rows, columns = np.nonzero(changed)
    assert np.all(np.hypot(columns - cx, rows - cy) < 0.35 * iod)  # only around the crease
    for eye in (L.RIGHT_IRIS[0], L.LEFT_IRIS[0]):  # the eyes are left alone
        ex, ey = np.round(target[eye, :2]).astype(int)
        assert not changed[ey, ex]
