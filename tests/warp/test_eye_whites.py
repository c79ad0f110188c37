"""Eye white above a round iris where an upper lid rises (AU 5)."""

from __future__ import annotations

import numpy as np
import pytest

from fgemotalk_cli.engines.warp import eye_whites, render
from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.engine import target_from_controls


def _band_above_iris(case, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel masks, right eye: (between the source's and the target's upper lid line beside
    the iris disc, inside the iris disc)."""
    source = case.source.points[:, :2]
    upper = list(L.RIGHT_UPPER_LID)
    centre = source[L.RIGHT_IRIS[0]]
    radius = float(np.median(np.linalg.norm(source[list(L.RIGHT_IRIS[1:])] - centre, axis=1)))
    height, width = case.source.image.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width]
    order = np.argsort(source[upper, 0])
    old_top = np.interp(xx, source[upper, 0][order], source[upper, 1][order])
    order = np.argsort(target[upper, 0])
    new_top = np.interp(xx, target[upper, 0][order], target[upper, 1][order])
    distance = np.hypot(xx - centre[0], yy - centre[1])
    span = (xx > source[upper, 0].min()) & (xx < source[upper, 0].max())
    band = span & (yy > new_top + 1.5) & (yy < old_top - 1.0)
    return band & (distance > radius + 1.5), band & (distance < radius - 1.5)


def test_a_raised_lid_shows_white_beside_a_round_iris(warp_cases, monkeypatch) -> None:
    case = warp_cases[0]
    target = target_from_controls(case.source, {5: 5.0})
    painted = render.render_warp(case.source, target)
    monkeypatch.setattr(render, "open_eye_whites", lambda *args: None)
    stretched = render.render_warp(case.source, target)
    white_band, iris_band = _band_above_iris(case, target)
    assert white_band.sum() > 10  # the lid rose by more than a sliver
    brightness = painted.astype(float).sum(axis=2)
    before = stretched.astype(float).sum(axis=2)
    white = eye_whites.eye_white_colour(case.source.image, case.source.points[:, :2], 0).sum()
    # Beside the iris the stretched lash line and iris top became eye white (shaded under the
    # lid, so a little darker than the source's own white) ...
    assert brightness[white_band].mean() > before[white_band].mean() + 40
    assert brightness[white_band].mean() == pytest.approx(white, rel=0.3)
    # ... and the iris's own pixels inside its disc were left as the warp drew them.
    assert np.array_equal(painted[iris_band], stretched[iris_band])


def test_nothing_is_painted_where_no_lid_rose(warp_cases) -> None:
    case = warp_cases[1]
    roi = case.source.image.copy()
    closing = target_from_controls(case.source, {43: 3.0})
    eye_whites.open_eye_whites(roi, (0, 0), case.source.image, case.source.points,
                               closing[:, :2])
    eye_whites.open_eye_whites(roi, (0, 0), case.source.image, case.source.points,
                               case.source.points[:, :2])
    assert np.array_equal(roi, case.source.image)


def test_the_old_lid_shadow_below_a_raised_lid_is_lifted_not_painted(warp_cases,
                                                                      monkeypatch) -> None:
    """The source lid's shadow, which the warp leaves at the old lid line, would read as a
    second, lower lid margin: just below that line what is darker than the white is lifted
    towards it, what is brighter keeps its texture, and lower down nothing changes."""
    case = warp_cases[0]
    target = target_from_controls(case.source, {5: 5.0})
    painted = render.render_warp(case.source, target).astype(int)
    monkeypatch.setattr(render, "open_eye_whites", lambda *args: None)
    stretched = render.render_warp(case.source, target).astype(int)
    source = case.source.points[:, :2]
    upper, lower = list(L.RIGHT_UPPER_LID), list(L.RIGHT_LOWER_LID)
    centre = source[L.RIGHT_IRIS[0]]
    radius = float(np.median(np.linalg.norm(source[list(L.RIGHT_IRIS[1:])] - centre, axis=1)))
    height, width = case.source.image.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width]

    def line(indices: list[int], points: np.ndarray) -> np.ndarray:
        order = np.argsort(points[indices, 0])
        return np.interp(xx, points[indices, 0][order], points[indices, 1][order])

    old_top, bottom = line(upper, source), line(lower, target[:, :2])
    beside_iris = ((xx > source[upper, 0].min() + 2) & (xx < source[upper, 0].max() - 2)
                   & (np.hypot(xx - centre[0], yy - centre[1]) > radius + 1.5)
                   & (yy < bottom - 1.5))
    just_below = beside_iris & (yy > old_top + 1.5) & (yy < old_top + 3.0)
    far_below = beside_iris & (yy > old_top + eye_whites._LIFT_SHARE * (bottom - old_top) + 2)
    assert just_below.sum() > 5 and far_below.sum() > 5
    assert (painted[just_below] >= stretched[just_below] - 1).all()  # lifted, never darkened
    assert painted[just_below].sum(1).mean() > stretched[just_below].sum(1).mean() + 15
    assert np.array_equal(painted[far_below], stretched[far_below])


def test_a_lid_raised_a_pixel_keeps_its_own_shadow(warp_cases) -> None:
    """The lift follows how far the lid rose clear of its old shadow: a lid raised by one
    pixel changes the eye below its old line far less than one raised by a third of the
    opening."""
    case = warp_cases[0]
    source = case.source.points.astype(np.float64)
    upper = list(L.RIGHT_UPPER_LID[1:-1])
    opening = float(np.ptp(source[list(L.RIGHT_LOWER_LID) + upper, 1]))
    changes = []
    for rise_px in (1.0, opening / 3):
        target = source.copy()
        target[upper, 1] -= rise_px
        roi = case.source.image.copy()
        eye_whites.open_eye_whites(roi, (0, 0), case.source.image, source, target[:, :2])
        y_old = source[upper, 1].max()
        below = slice(int(np.ceil(y_old + 1)), int(y_old + 0.4 * opening))
        changes.append(np.abs(roi[below].astype(int) - case.source.image[below]).sum())
    assert changes[1] > 0
    assert changes[0] < 0.25 * changes[1]


def test_a_brow_lowered_over_the_raised_lid_keeps_its_shadow(warp_cases) -> None:
    """An angry glare (AU 4 with AU 5): with the brow lowered a quarter of the eye's width
    the old shadow below the lid line stays as the warp drew it."""
    case = warp_cases[0]
    source = case.source.points.astype(np.float64)
    upper = list(L.RIGHT_UPPER_LID[1:-1])
    corners = list(L.RIGHT_EYE_CORNERS)
    eye_width = float(np.linalg.norm(source[corners[1], :2] - source[corners[0], :2]))
    opening = float(np.ptp(source[list(L.RIGHT_LOWER_LID) + upper, 1]))
    y_old = source[upper, 1].max()
    below = slice(int(np.ceil(y_old + 1)), int(y_old + 0.4 * opening))
    changes = []
    for brow_drop in (0.0, 0.25 * eye_width):
        target = source.copy()
        target[upper, 1] -= opening / 3
        target[list(L.RIGHT_BROW_LOWER), 1] += brow_drop
        roi = case.source.image.copy()
        eye_whites.open_eye_whites(roi, (0, 0), case.source.image, source, target[:, :2])
        changes.append(np.abs(roi[below].astype(int) - case.source.image[below]).sum())
    assert changes[0] > 0
    assert changes[1] < 0.3 * changes[0]  # what is left: the new band near the corners


def test_a_shadowed_eye_white_is_painted_lit(warp_cases) -> None:
    """A photo's eye that shows its white only in the lid's shadow (here the opening darkened
    to a third) still gets a lit white where the lid retracts: at least
    ``_WHITE_OVER_CHEEK`` of its cheek, as real wide eyes are."""
    case = warp_cases[0]
    image, xy = case.source.image, case.source.points[:, :2]
    luma = np.array([0.299, 0.587, 0.114])
    own = eye_whites.eye_white_colour(image, xy, 0)
    dark = image.copy()
    box = np.round(xy[L.eye_opening(0)]).astype(int)
    (x0, y0), (x1, y1) = box.min(0) - 1, box.max(0) + 2
    dark[y0:y1, x0:x1] = dark[y0:y1, x0:x1] // 3
    shadowed = eye_whites.eye_white_colour(dark, xy, 0)
    cx, cy = np.round(xy[eye_whites._CHEEKS[0]]).astype(int)
    cheek = float(np.median(image[cy - 2:cy + 3, cx - 2:cx + 3].reshape(-1, 3), 0) @ luma)
    assert shadowed @ luma >= eye_whites._WHITE_OVER_CHEEK * cheek - 3
    assert shadowed @ luma > 1.5 * (own @ luma) / 3


def test_the_painted_white_darkens_towards_the_corners(warp_cases, monkeypatch) -> None:
    """The sclera is a ball: along the raised band it is darker near the eye's corners, against
    the middle, than the same white painted flat."""
    case = warp_cases[0]
    source = case.source.points.astype(np.float64)
    upper = list(L.RIGHT_UPPER_LID[1:-1])
    opening = float(np.ptp(source[list(L.RIGHT_LOWER_LID) + upper, 1]))
    target = source.copy()
    target[upper, 1] -= opening / 2
    left, right = sorted(source[list(L.RIGHT_EYE_CORNERS), 0])

    def corners_to_middle() -> float:
        grey = np.full_like(case.source.image, 40)
        eye_whites.open_eye_whites(grey, (0, 0), case.source.image, source, target[:, :2])
        ys, xs = np.nonzero(np.abs(grey.astype(int) - 40).sum(2) > 30)
        brightness = grey.astype(float).sum(2)[ys, xs]
        share = (xs - left) / max(right - left, 1.0)
        middle = brightness[(share > 0.3) & (share < 0.7)]
        ends = brightness[(share < 0.2) | (share > 0.8)]
        assert len(middle) > 10 and len(ends) > 5
        return float(np.median(ends) / np.median(middle))

    shade, shaded = eye_whites._CORNER_SHADE, corners_to_middle()
    monkeypatch.setattr(eye_whites, "_CORNER_SHADE", 0.0)
    assert shaded < corners_to_middle() - 0.25 * shade
