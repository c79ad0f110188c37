"""A source's own open mouth carried into a wider one: no band of black between its parts."""

from __future__ import annotations

import numpy as np
import pytest

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.engine import target_from_controls
from fgemotalk_cli.engines.warp.mouth import INNER_CONTOUR, WIDE_OPEN, opening
from fgemotalk_cli.engines.warp.render import WarpSource, prepare_source, render_warp

LUMA = np.array([0.299, 0.587, 0.114])


def _source(portraits, name: str) -> WarpSource:
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image

    image = load_image(next(p for p in portraits if p.name == name))
    return prepare_source(image, detect_source_face(image))


def _inner(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    import cv2

    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points[list(INNER_CONTOUR), :2]).astype(np.int32)], 1)
    return cv2.erode(mask, np.ones((5, 5), np.uint8)).astype(bool)


def _darkest_row(image: np.ndarray, mask: np.ndarray) -> float:
    """The mean luma of the darkest image row across the opening ``mask``."""
    luma = image.astype(np.float64) @ LUMA
    return min(float(luma[y][mask[y]].mean()) for y in np.flatnonzero(mask.any(axis=1)))


@pytest.mark.parametrize("name", ["liveportrait_d19.jpg", "liveportrait_d9.jpg"])
def test_a_mouth_open_wide_opened_further_keeps_its_own_dark(portraits, name) -> None:
    # A shout opened further: the gap between the carried upper and lower parts shows the
    # source's own cavity and tongue stretched, not a band darker than anything in its mouth
    # cut straight across the opening (the procedural cavity behind them, 0.5-0.75 of the
    # source's darkest row before).
    source = _source(portraits, name)
    assert opening(source.points) >= WIDE_OPEN
    own = source.mouth_style.own_interior
    assert own is not None and own.stretch_between
    target = target_from_controls(source, {26: 5})
    out = render_warp(source, target)
    own_dark = _darkest_row(source.image, _inner(source.points, source.image.shape))
    assert _darkest_row(out, _inner(target, out.shape)) > 0.85 * own_dark


def test_upper_teeth_stay_under_a_raised_upper_lip(portraits) -> None:
    # An open smile whose upper lip is drawn up (a stretched or smiling mouth): the upper
    # teeth follow the lip instead of staying on the nose below a dark band.
    source = _source(portraits, "vexpress_vasa1_13_ref.jpg")
    own = source.mouth_style.own_interior
    assert own is not None and not own.stretch_between  # teeth meet across its middle
    points = np.array(source.points, np.float64)
    iod = float(np.linalg.norm(points[263, :2] - points[33, :2]))
    target = points.copy()
    for index in (*L.UPPER_INNER_LIP[1:-1], *L.UPPER_OUTER_LIP[1:-1]):
        target[index, 1] -= 0.06 * iod
    out = render_warp(source, target).astype(np.float64)
    x, lip_y, teeth_y = target[13, 0], target[13, 1], points[13, 1]
    columns = slice(int(x - 0.15 * iod), int(x + 0.15 * iod))
    uncovered = out[int(round(lip_y + 2)): int(round(teeth_y)), columns] @ LUMA
    teeth = source.image[int(teeth_y + 1): int(teeth_y + 0.04 * iod), columns] @ LUMA
    assert uncovered.mean() > 0.6 * teeth.mean()


def test_lower_teeth_follow_a_lower_lip_pulled_down(portraits) -> None:
    # An open smile whose lower lip is pulled down towards the chin (a funnelled "O", a lip
    # depressor): the lower teeth go down with it instead of floating mid-opening.
    source = _source(portraits, "vexpress_vasa1_13_ref.jpg")
    points = np.array(source.points, np.float64)
    iod = float(np.linalg.norm(points[263, :2] - points[33, :2]))
    lowered = points.copy()
    for index in (*L.LOWER_INNER_LIP[1:-1], *L.LOWER_OUTER_LIP[1:-1]):
        lowered[index, 1] += 0.06 * iod
    x = int(round(points[14, 0]))
    columns = slice(x - int(0.1 * iod), x + int(0.1 * iod))

    def lowest_tooth_row(target: np.ndarray) -> int:
        out = render_warp(source, target).astype(np.float64)
        profile = out[int(points[13, 1]): int(target[14, 1]), columns].mean(axis=1) @ LUMA
        return int(np.flatnonzero(profile > 0.8 * profile.max())[-1])

    assert lowest_tooth_row(lowered) - lowest_tooth_row(points) >= 0.02 * iod
