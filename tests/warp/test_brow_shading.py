"""A brow raise beyond the landmarks (AU 1/2): forehead lines where real raises show them, the
lid fold unfolding under the brow."""

from __future__ import annotations

import numpy as np
import pytest

from fgemotalk_cli.engines.warp import brow_shading, shading
from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.engine import target_from_controls
from fgemotalk_cli.engines.warp.shading import shade_expression

IOD = 100.0


def _face(forehead_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An arched brow line (image y down), a forehead top ``forehead_px`` above it, and the
    landmarks the lines are oriented by (168 at the glabella, 10 on the forehead)."""
    x = np.linspace(-90.0, 90.0, len(shading._BROW))
    brow = np.stack([x, 200.0 - 12.0 * np.sin(np.abs(x) / 90.0 * np.pi)], 1)
    top = np.stack([x, np.full_like(x, 200.0 - forehead_px)], 1)
    xy = np.zeros((478, 2))
    xy[168], xy[10] = (0.0, 215.0), (0.0, 200.0 - forehead_px)
    return brow, top, xy


def _drawn(lines) -> list[np.ndarray]:
    return [line for line, strength, _ in lines if strength.max() > 0.05]


def test_the_lines_keep_their_place_above_the_brows_on_any_forehead() -> None:
    """Real raises (d7 frame 140, vasa1_7 frame 228) crease the lower forehead, the first line
    about a sixth of the eye distance above the brow: a taller forehead adds lines above, it
    does not spread them out; a low one keeps fewer, none above its top."""
    heights = {}
    for forehead in (40.0, 120.0):
        brow, top, xy = _face(forehead)
        lines = _drawn(brow_shading.forehead_lines(brow, top, xy, 1.0, 1.0, IOD))
        # Height of each drawn line above the brow, at the brows' middles (a quarter in).
        quarter = len(lines[0]) // 4
        brow_y = np.interp(lines[0][quarter, 0], brow[:, 0], brow[:, 1])
        heights[forehead] = [(brow_y - line[quarter, 1]) / IOD for line in lines]
        assert max(heights[forehead]) < 1.05 * forehead / IOD + 0.05
    assert heights[40.0][0] == pytest.approx(heights[120.0][0], abs=0.02)
    assert 0.1 < heights[120.0][0] < 0.25
    assert len(heights[40.0]) < len(heights[120.0])
    spacing = np.diff(heights[120.0])
    assert (spacing > 0.04).all() and (spacing < 0.12).all()


def test_the_lines_follow_the_arch_of_the_brows() -> None:
    """The lowest line bends with the brows under it (flatter than they are, as the real
    lines are), not ruled straight across the forehead."""
    brow, top, xy = _face(120.0)
    lowest = _drawn(brow_shading.forehead_lines(brow, top, xy, 1.0, 1.0, IOD))[0]
    quarter, middle = len(lowest) // 4, len(lowest) // 2
    brow_rise = np.interp(lowest[quarter, 0], brow[:, 0], brow[:, 1]) - np.interp(
        lowest[middle, 0], brow[:, 0], brow[:, 1])
    line_rise = lowest[quarter, 1] - lowest[middle, 1]
    assert brow_rise < 0  # the brows' middles lie above the glabella
    assert brow_rise < line_rise < 0.2 * brow_rise + 1e-9


@pytest.mark.media
def test_a_full_raise_creases_the_lower_forehead_softly(warp_cases) -> None:
    """On flat grey skin, AU 1+2 at 5 darken the band just above the raised brows, as a
    shallow valley (at most a quarter darker), and nothing above the mesh's forehead top."""
    source = warp_cases[0].source
    target = target_from_controls(source, {1: 5.0, 2: 5.0})
    grey = np.full(source.image.shape, 160, np.uint8)
    shade_expression(grey, (0, 0), source.shading, target)
    darkening = np.clip(1.0 - grey[..., 1] / 160.0, 0.0, None)
    iod = source.geometry.frame.iod_px
    assert 0.08 < darkening.max() <= 0.25
    rows = np.arange(darkening.shape[0])
    weight = darkening.sum(1)
    centroid = float((rows * weight).sum() / weight.sum())
    brow_y = float(target[[105, 334], 1].mean())
    assert 0.1 < (brow_y - centroid) / iod < 0.45
    top_y = float(target[list(shading._FOREHEAD_TOP[:4]), 1].min())
    assert darkening[: int(top_y - 0.1 * iod)].max() < 0.02


def _socket_band(points: np.ndarray, eye: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel masks between the brow's lower line and the upper lid (its middle third across
    the eye, 0.3-0.5 of the way down), and the same columns above the brow."""
    corners, upper, _, _ = L.EYES[eye]
    brow = L.RIGHT_BROW_LOWER if eye == 0 else L.LEFT_BROW_LOWER
    xy = points[:, :2]
    height, width = 512, 512
    yy, xx = np.mgrid[0:height, 0:width]
    left, right = sorted(xy[list(corners), 0])
    columns = (xx > left + (right - left) / 3) & (xx < right - (right - left) / 3)

    def line(indices) -> np.ndarray:
        order = np.argsort(xy[list(indices), 0])
        return np.interp(xx, xy[list(indices), 0][order], xy[list(indices), 1][order])

    brow_y, lid_y = line(brow), line(upper)
    t = (yy - brow_y) / np.maximum(lid_y - brow_y, 1.0)
    return columns & (t > 0.3) & (t < 0.5), columns & (yy < brow_y - 3) & (yy > brow_y - 12)


@pytest.mark.media
def test_a_raised_brow_unfolds_the_shadow_under_it(warp_cases) -> None:
    """The fold's shadow between brow and lid, which the warp stretches into a dark band
    under a raised brow, thins out: on a face whose sockets are darker than its cheeks it is
    lifted towards the cheek's level; a frown, which raises nothing, leaves it."""
    source = warp_cases[0].source
    assert source.image.shape[:2] == (512, 512)
    raised = target_from_controls(source, {1: 5.0, 2: 5.0})
    band, above = _socket_band(raised, 0)
    canvas = np.full(source.image.shape, 170, np.uint8)
    canvas[band] = 85  # a dark socket under a lit cheek
    lifted = canvas.copy()
    shade_expression(lifted, (0, 0), source.shading, raised)
    gain = lifted[band].astype(float).mean() / 85.0
    assert 1.08 < gain <= 1.0 + brow_shading._UNFOLD_GAIN + 0.02
    frowned = canvas.copy()
    shade_expression(frowned, (0, 0), source.shading, target_from_controls(source, {4: 5.0}))
    assert np.abs(frowned[band].astype(int) - 85).max() <= 2


@pytest.mark.media
def test_the_frown_furrows_rise_side_by_side_not_in_a_v(warp_cases) -> None:
    """AU 4's glabellar furrows, as real frowns fold them (d8 frame 118, d7 frame 172, d10
    frame 336): one above each brow's inner head, running up the forehead near-vertically
    and as far apart at the top as at the bottom, or further."""
    source = warp_cases[0].source
    target = target_from_controls(source, {4: 5.0})
    xy = target[:, :2]
    iod = source.geometry.frame.iod_px
    furrows = brow_shading.glabellar_furrows(xy, 1.0, iod)
    assert len(furrows) == 2
    (right, _, _), (left, _, _) = furrows
    bottom = np.linalg.norm(right[0] - left[0])
    top = np.linalg.norm(right[-1] - left[-1])
    assert top >= bottom
    up = (xy[9] - xy[168]) / np.linalg.norm(xy[9] - xy[168])
    for line in (right, left):
        rise = (line[-1] - line[0]) @ up
        assert 0.2 * iod < rise < 0.45 * iod
        sideways = np.linalg.norm(line[-1] - line[0] - rise * up)
        assert sideways < 0.5 * rise  # near-vertical
    # Each starts between its brow's inner head and the midline, nearer the brow.
    for line, head in ((right, 55), (left, 285)):
        assert np.linalg.norm(line[0] - xy[head]) < np.linalg.norm(line[0] - xy[168])
