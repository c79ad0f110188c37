"""The layered mouth: lips that meet, a procedural interior with teeth, a source's own teeth."""

from __future__ import annotations

import numpy as np
import pytest

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.engine import target_from_controls
from fgemotalk_cli.engines.warp.lips import meet_lips
from fgemotalk_cli.engines.warp.mouth import INNER_CONTOUR, WIDE_OPEN, MouthPatch, opening
from fgemotalk_cli.engines.warp.render import prepare_source, render_warp
from fgemotalk_cli.engines.warp.teeth import procedural_interior
from tests.warp.synthetic_mouth import COLOURS, LUMA, synthetic_mouth


def _down(points: np.ndarray) -> np.ndarray:
    along = points[L.MOUTH_CORNERS[1], :2] - points[L.MOUTH_CORNERS[0], :2]
    along = along / np.linalg.norm(along)
    down = np.array([-along[1], along[0]])
    return down if down[1] > 0 else -down


def test_crossed_lips_are_moved_back_to_touch(warp_cases) -> None:
    source = warp_cases[0].source.points
    assert meet_lips(source, source) is source  # nothing to do: the same array back
    crossed = np.array(source, dtype=np.float64, copy=True)
    lift = 0.3 * np.linalg.norm(source[263, :2] - source[33, :2])
    for index in (*L.LOWER_INNER_LIP[1:-1], *L.LOWER_OUTER_LIP[1:-1]):
        crossed[index, 1] -= lift  # the lower lip pushed up through the upper one
    met = meet_lips(crossed, source)
    down = _down(met)
    upper = met[list(L.UPPER_INNER_LIP[1:-1]), :2] @ down
    lower = met[list(L.LOWER_INNER_LIP[1:-1]), :2] @ down
    assert (lower - upper).min() > -1.5  # touching (within the interpolation), not crossed
    before = crossed[list(L.LOWER_INNER_LIP[1:-1]), :2] @ down
    assert (lower - before).max() > 0.3 * lift  # the lower lip went back down part way
    # The vermilion keeps most of its height.
    outer = met[list(L.LOWER_OUTER_LIP[1:-1]), :2] @ down
    source_height = (source[list(L.LOWER_OUTER_LIP[1:-1]), :2]
                     - source[list(L.LOWER_INNER_LIP[1:-1]), :2]) @ _down(source)
    assert np.all(outer - lower >= 0.65 * source_height - 1e-6)





def test_procedural_interior_has_upper_teeth_over_a_darker_cavity() -> None:
    points = synthetic_mouth(80, 40)
    image = procedural_interior(points, (200, 200), COLOURS, 100.0)
    luma = image @ LUMA
    column = luma[:, 95]  # the middle of a central incisor (the midline is between two)
    top = column[101:106].mean()  # just under the upper lip: teeth
    middle = column[117:123].mean()  # half way down: the cavity
    assert top > 150 and middle < 0.5 * top
    # The same mouth gives the same picture (no flicker), and the teeth keep the face's size:
    # a wider mouth shows more teeth, not wider ones.
    assert np.array_equal(image, procedural_interior(points, (200, 200), COLOURS, 100.0))
    wide = procedural_interior(synthetic_mouth(110, 40), (200, 200), COLOURS, 100.0) @ LUMA
    def seams(profile: np.ndarray) -> np.ndarray:
        """The middles of the runs of columns darker than their surroundings: the notched
        lines between teeth."""
        detail = profile - np.convolve(profile, np.ones(7) / 7, mode="same")
        dark = np.flatnonzero(detail[5:-5] < -2.0) + 5
        runs = np.split(dark, np.flatnonzero(np.diff(dark) > 1) + 1)
        return np.array([run.mean() for run in runs if len(run)])

    # Near the midline, where the narrow mouth's lips do not shade its teeth.
    narrow_seams, wide_seams = seams(luma[103, 84:117]), seams(wide[103, 84:117])
    assert len(narrow_seams) >= 3  # the midline and the incisors' far sides
    assert len(narrow_seams) == len(wide_seams)
    assert np.abs(narrow_seams - wide_seams).max() <= 0.5
    no_teeth = procedural_interior(points, (200, 200), COLOURS, 100.0, teeth=False) @ LUMA
    assert no_teeth[101:106, 100].mean() < 0.6 * top


@pytest.fixture(scope="module")
def toothy(portraits):
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image

    image = load_image(next(p for p in portraits if p.name == "vexpress_vasa1_13_ref.jpg"))
    return prepare_source(image, detect_source_face(image))


def _inner(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    import cv2

    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points[list(INNER_CONTOUR), :2]).astype(np.int32)], 1)
    return cv2.erode(mask, np.ones((3, 3), np.uint8)).astype(bool)


def test_a_source_showing_teeth_keeps_them_unstretched(toothy) -> None:
    assert toothy.mouth_style.own_interior is not None
    skin = float(toothy.mouth_style.skin @ LUMA)
    source_bright = ((toothy.image @ LUMA) > 0.9 * skin) & _inner(toothy.points, toothy.image.shape)
    target = target_from_controls(toothy, {26: 5})
    out = render_warp(toothy, target)
    inside = _inner(target, out.shape)
    bright = ((out @ LUMA) > 0.9 * skin) & inside
    # Teeth keep their area (carried rigidly, not stretched over the taller opening) and the
    # opening's new part is mostly darker cavity, not teeth.
    assert 0.6 < bright.sum() / max(source_bright.sum(), 1) < 1.5
    assert bright.sum() < 0.6 * inside.sum()


def test_a_mouth_open_wide_keeps_its_own_interior_under_a_driver(portraits, toothy) -> None:
    # A shouting source driven from a frame showing teeth (the driver's mouth patch): at the
    # source's own mouth the picture is the source's tongue and cavity, not the driver's
    # teeth stretched over an opening a third of the face tall.
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image

    image = load_image(next(p for p in portraits if p.name == "liveportrait_d9.jpg"))
    shouting = prepare_source(image, detect_source_face(image))
    assert opening(shouting.points) >= WIDE_OPEN
    patch = MouthPatch(toothy.image, toothy.points)
    assert patch.usable()
    inside = _inner(shouting.points, shouting.image.shape)
    out = render_warp(shouting, shouting.points, patch)
    change = np.abs(out.astype(float) - shouting.image)[inside].mean()
    assert change < 12.0
    # Opened further, the driver's interior still has no say: the mouth is the one the
    # source's own interior and the procedural one make without a driver.
    target = target_from_controls(shouting, {26: 3})
    assert np.array_equal(render_warp(shouting, target, patch), render_warp(shouting, target))


def test_a_drivers_own_teeth_replace_the_sources_instead_of_doubling_them(
        toothy, driving_clips) -> None:
    # A source showing its teeth driven by a frame that shows the driver's: one set of
    # teeth, the driver's (recoloured), not the source's rows over the driver's rows. The
    # same frame with its teeth painted over keeps the source's own teeth in front.
    from dataclasses import replace

    import cv2

    from fgemotalk_cli.engines.warp.driver_mouth import shows_teeth
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.video import iter_frames

    clip = next(p for p in driving_clips if p.name == "sadtalker_WDA_KatieHill_000.mp4")
    frame = next(f.image for i, f in enumerate(iter_frames(clip)) if i == 40)
    points = np.asarray(detect_source_face(frame).points)
    with_teeth = MouthPatch(frame, points)
    painted = frame.copy()
    cv2.fillPoly(painted, [np.round(points[list(INNER_CONTOUR), :2]).astype(np.int32)],
                 (150, 70, 80))
    toothless = MouthPatch(painted, points)
    assert shows_teeth(with_teeth) == 1.0 and shows_teeth(toothless) == 0.0
    bare = replace(toothy, mouth_style=replace(toothy.mouth_style, own_interior=None))
    target = target_from_controls(toothy, {26: 3})

    def change(patch: MouthPatch, target: np.ndarray = target) -> float:
        """How far the mouth is from the driver's interior alone."""
        out = render_warp(toothy, target, patch).astype(float)
        inside = _inner(target, toothy.image.shape)
        return float(np.abs(out - render_warp(bare, target, patch))[inside].mean())

    assert change(with_teeth) < 1.0
    assert change(toothless) > 10.0
    # As open as the source: still one set, the driver's. Narrowed to a slit, the source's
    # own teeth show in it, whatever the driver shows.
    assert change(with_teeth, toothy.points) < 1.0
    slit = np.array(toothy.points, dtype=np.float64, copy=True)
    upper, lower = list(L.UPPER_INNER_LIP), list(L.LOWER_INNER_LIP)
    lift = 0.7 * (slit[lower, 1] - slit[upper, 1])
    slit[lower, 1] -= lift
    slit[list(L.LOWER_OUTER_LIP), 1] -= lift
    assert opening(slit) < 0.5 * opening(toothy.points)
    assert change(with_teeth, slit) > 5.0
