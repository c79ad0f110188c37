"""The driver's mouth interior carried onto the target (engines/warp/driver_mouth.py): what of
the driver's picture it keeps and what it takes from the source."""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.driver_mouth import (
    MouthPatch,
    driver_interior,
    opening,
    shows_upper_teeth,
)
from fgemotalk_cli.engines.warp.mouth import (
    DriverTeeth,
    MouthStyle,
    fill_mouth,
    missing_upper_teeth,
)
from fgemotalk_cli.engines.warp.teeth import InteriorColours
from tests.warp.synthetic_mouth import LUMA, synthetic_mouth

SHAPE = (240, 200)
CENTRE = (120, 100)  # row, column of the opening's middle
DRIVER_SKIN = np.array([200.0, 150.0, 130.0])
DRIVER_LIPS = np.array([180.0, 100.0, 100.0])


def _driver(interior: np.ndarray, gap: float = 30.0, upper_teeth: bool = False
            ) -> MouthPatch:
    """A synthetic driver frame: skin, lips of DRIVER_LIPS 8 px thick round an opening
    60 x ``gap`` px filled with ``interior`` (RGB), with white upper teeth if asked."""
    import cv2

    points = synthetic_mouth(60, gap)
    for inner, outer, sign in ((L.UPPER_INNER_LIP, L.UPPER_OUTER_LIP, -1.0),
                               (L.LOWER_INNER_LIP, L.LOWER_OUTER_LIP, 1.0)):
        points[list(outer)] = points[list(inner)] + (0.0, 8.0 * sign)
        points[list(outer), 0] = 100 + 1.15 * (points[list(inner), 0] - 100)
    image = np.empty((*SHAPE, 3), np.uint8)
    image[:] = DRIVER_SKIN
    outer = np.concatenate([points[list(L.UPPER_OUTER_LIP)],
                            points[list(L.LOWER_OUTER_LIP)][::-1]])
    inner = np.concatenate([points[list(L.UPPER_INNER_LIP)],
                            points[list(L.LOWER_INNER_LIP)][::-1]])
    cv2.fillPoly(image, [np.round(outer).astype(np.int32)], DRIVER_LIPS.tolist())
    cv2.fillPoly(image, [np.round(inner).astype(np.int32)], np.asarray(interior).tolist())
    if upper_teeth:
        mask = np.zeros(SHAPE, np.uint8)
        cv2.fillPoly(mask, [np.round(inner).astype(np.int32)], (1,))
        mask[int(120 - 0.2 * gap):] = 0
        image[mask.astype(bool)] = (235, 232, 225)
    return MouthPatch(image, points)


def _middle(patch: MouthPatch, colours: InteriorColours) -> np.ndarray:
    """The carried interior's colour at the middle of the opening (the target is the
    driver's own mouth shape)."""
    out = driver_interior(patch, np.asarray(patch.points, np.float64), SHAPE, colours)
    row, column = CENTRE
    return out[row - 2: row + 3, column - 3: column + 4].reshape(-1, 3).mean(axis=0)


def test_a_tongue_of_the_lips_hue_keeps_its_colour_under_lipstick() -> None:
    # The driver's tongue has its lips' hue; the source wears a deep red lipstick. Only the
    # driver's lip rim along the contour takes the source's lips, not the tongue behind it.
    tongue = DRIVER_LIPS * 0.9
    source = InteriorColours(teeth=np.array([225.0, 220.0, 210.0]),
                             lips=np.array([190.0, 30.0, 45.0]), skin=DRIVER_SKIN)
    middle = _middle(_driver(tongue), source)
    assert abs(middle[1] / middle[0] - tongue[1] / tongue[0]) < 0.05
    assert abs(float(middle @ LUMA) - float(tongue @ LUMA)) < 8.0


def test_a_crushed_black_cavity_is_lifted_to_a_dark_mucosa() -> None:
    source = InteriorColours(teeth=np.array([225.0, 220.0, 210.0]),
                             lips=np.array([170.0, 90.0, 90.0]), skin=DRIVER_SKIN)
    black = _middle(_driver(np.zeros(3)), source)
    skin_luma = float(DRIVER_SKIN @ LUMA)
    assert 0.15 * skin_luma < float(black @ LUMA) < 0.25 * skin_luma
    assert black[0] > black[1] and black[0] > black[2]  # a dark red, not grey
    # Well above the floor the picture is left as it is.
    mucosa = np.array([120.0, 62.0, 64.0])
    assert np.abs(_middle(_driver(mucosa), source) - mucosa).max() < 3.0


def test_a_tinted_source_tints_the_drivers_interior() -> None:
    tongue = np.array([170.0, 95.0, 100.0])
    teeth = np.array([225.0, 220.0, 210.0])
    neutral = _middle(_driver(tongue), InteriorColours(teeth, DRIVER_LIPS, DRIVER_SKIN))
    # A varnished painting: the same brightness of skin, but yellow.
    yellow_skin = np.array([190.0, 160.0, 80.0])
    yellow_skin *= float(DRIVER_SKIN @ LUMA) / float(yellow_skin @ LUMA)
    tinted = _middle(_driver(tongue), InteriorColours(teeth, DRIVER_LIPS, yellow_skin))
    assert tinted[2] / tinted[1] < 0.85 * neutral[2] / neutral[1]
    assert abs(float(tinted @ LUMA) - float(neutral @ LUMA)) < 6.0


def test_a_wide_driver_opening_without_upper_teeth_gets_the_sources_row() -> None:
    tongue = np.array([170.0, 100.0, 110.0])
    toothless, toothy = _driver(tongue, gap=45.0), _driver(tongue, gap=45.0, upper_teeth=True)
    assert shows_upper_teeth(toothless) == 0.0 and shows_upper_teeth(toothy) == 1.0
    style = MouthStyle(skin=DRIVER_SKIN, lips=DRIVER_LIPS, teeth=np.array([225.0, 220.0, 210.0]),
                       cavity=DRIVER_LIPS * 0.22, source_opening=0.0)
    roi = np.empty((*SHAPE, 3), np.uint8)
    roi[:] = DRIVER_SKIN
    fill_mouth(roi, (0, 0), style, toothless.points, toothless)
    luma = roi.astype(np.float64) @ LUMA
    # Just under the upper lip's middle (at y = 97.5): the teeth, brighter than the tongue
    # below them and with the seams between them along the row.
    teeth_row, tongue_row = luma[101:104, 85:116].mean(axis=0), luma[125:130, 85:116].mean()
    assert teeth_row.mean() > tongue_row + 35
    assert teeth_row.max() - teeth_row.min() > 10
    # The same opening a little open only (a spoken vowel) is left as the driver shows it.
    small = _driver(tongue, gap=20.0)
    roi[:] = DRIVER_SKIN
    fill_mouth(roi, (0, 0), style, small.points, small)
    assert (roi.astype(np.float64) @ LUMA)[113:118, 94:107].max() < tongue_row + 15


def test_a_video_does_not_flash_the_sources_teeth_into_a_brief_toothless_frame() -> None:
    # liveportrait_d12 frames 164-166: the opening turns wide two frames before the driver's
    # teeth come into view under its lip. Frame by frame alone those two frames get the
    # source's row (a flash); steadied over the video they do not, a driver that really
    # lacks its teeth gets the row after a couple of frames, and a mouth closing from wide
    # open drops it at once.
    tongue = np.array([170.0, 100.0, 110.0])
    toothless, toothy = _driver(tongue, gap=45.0), _driver(tongue, gap=45.0, upper_teeth=True)
    closed = _driver(tongue, gap=6.0)
    frames = [closed] * 4 + [toothless] * 2 + [toothy] * 4
    row = DriverTeeth()
    steadied = [row.steadied(p, p.points) for p in frames]
    alone = [missing_upper_teeth(p, opening(np.asarray(p.points, np.float64))) for p in frames]
    assert max(alone[4:6]) > 0.9  # what a frame decides alone
    assert all(p is not None and p.missing_teeth is not None and p.missing_teeth < 0.05
               for p in steadied)
    lacking = [row.steadied(p, p.points) for p in [toothless] * 5]
    shares = [p.missing_teeth for p in lacking if p is not None]
    assert shares[0] < 0.05 and shares[-1] > 0.9
    (closing,) = [row.steadied(closed, closed.points)]
    assert closing is not None and closing.missing_teeth == 0.0
    # The steadied share is what the frame then paints.
    style = MouthStyle(skin=DRIVER_SKIN, lips=DRIVER_LIPS, teeth=np.array([225.0, 220.0, 210.0]),
                       cavity=DRIVER_LIPS * 0.22, source_opening=0.0)
    painted = []
    for patch in (toothless, steadied[4]):
        roi = np.empty((*SHAPE, 3), np.uint8)
        roi[:] = DRIVER_SKIN
        fill_mouth(roi, (0, 0), style, patch.points, patch)
        painted.append((roi.astype(np.float64) @ LUMA)[101:104, 85:116].mean())
    assert painted[0] > painted[1] + 30


def test_a_drivers_dark_lipstick_at_the_corner_is_no_blood_red_wedge() -> None:
    # A driver's red lipstick in the shadow of its mouth corner, carried into the opening
    # (too dark and saturated for the lip rim's recolouring), and its tongue beside it.
    lipstick, tongue = np.array([75.0, 10.0, 16.0]), np.array([170.0, 95.0, 100.0])
    source = InteriorColours(teeth=np.array([225.0, 220.0, 210.0]),
                             lips=np.array([170.0, 100.0, 100.0]), skin=DRIVER_SKIN)
    carried = _middle(_driver(lipstick), source)
    assert carried[0] / carried.sum() <= 0.61
    assert abs(float(carried @ LUMA) - float(lipstick @ LUMA)) < 12.0  # as dark as it was
    kept = _middle(_driver(tongue), source)
    assert np.abs(kept - tongue).max() < 4.0  # a tongue's own red stays

