"""Per-shot preparation for video edits: the same picture as preparing every frame, once."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from fgemotalk_cli.engines.warp.au_geometry import GENERAL_RESPONSE
from fgemotalk_cli.engines.warp.engine import WarpEngine, edit_source
from fgemotalk_cli.engines.warp.render import WarpSource, prepare_source
from fgemotalk_cli.engines.warp.shots import ShotSources
from fgemotalk_cli.faces.landmarks import FaceLandmarks


def _shifted(case, dx: int, dy: int) -> tuple[np.ndarray, FaceLandmarks]:
    """The portrait moved by (dx, dy) pixels (edge repeated), with its landmarks moved too."""
    image = np.roll(case.image, (dy, dx), axis=(0, 1))
    points = case.landmarks.points + np.array([dx, dy, 0], np.float32)
    return image, FaceLandmarks(points, case.landmarks.image_size)


def test_frames_of_one_shot_reuse_the_preparation(warp_cases) -> None:
    case = warp_cases[0]
    shots = ShotSources()
    for step in range(4):
        image, landmarks = _shifted(case, 2 * step, step)
        moved = shots.source_for(image, landmarks)
    assert shots.shots == 1
    fresh = prepare_source(image, landmarks)
    edit = {12: 4.0, 1: 3.0, 26: 2.0}
    difference = np.abs(edit_source(moved, edit).astype(int)
                        - edit_source(fresh, edit).astype(int))
    # Same fields on the same face: the pictures agree to within rounding of the warp.
    assert difference.mean() < 0.5
    assert np.percentile(difference, 99.9) <= 24


def test_a_cut_or_a_gap_starts_a_new_shot(warp_cases) -> None:
    first, second = warp_cases[:2]
    shots = ShotSources()
    shots.source_for(first.image, first.landmarks)
    shots.source_for(first.image, first.landmarks)
    assert shots.shots == 1
    shots.source_for(second.image, second.landmarks)  # another person: a cut
    assert shots.shots == 2
    shots.no_face()
    shots.source_for(second.image, second.landmarks)
    assert shots.shots == 3


def test_each_shot_is_calibrated_once_and_its_frames_share_the_tables(warp_cases) -> None:
    first, second = warp_cases[:2]
    engine = WarpEngine(calibrate="auto")
    calibrated: list[WarpSource] = []

    def calibrate(source: WarpSource) -> WarpSource:
        calibrated.append(engine.calibrated_shot(source, {12}))
        return calibrated[-1]

    shots = ShotSources(calibrate)
    moved = [shots.source_for(*_shifted(first, step, 0)) for step in range(3)]
    assert len(calibrated) == 1
    own = calibrated[0].geometry.response[12]
    assert own != GENERAL_RESPONSE[12]  # solved on this face
    assert all(source.geometry.response[12] == own for source in moved)
    assert calibrated[0].geometry.response[4] == GENERAL_RESPONSE[4]  # not asked for
    shots.source_for(second.image, second.landmarks)  # a cut: the next shot solves its own
    assert len(calibrated) == 2
    off = WarpEngine(calibrate="off").calibrated_shot(prepare_source(first.image,
                                                                     first.landmarks), {12})
    assert off.geometry.response[12] == GENERAL_RESPONSE[12]


def test_a_shot_calibrating_aside_does_not_hold_up_its_next_frames(warp_cases) -> None:
    case = warp_cases[0]
    release = threading.Event()
    calls: list[str] = []

    def slow_calibration(source: WarpSource) -> WarpSource:
        calls.append(threading.current_thread().name)
        assert release.wait(10)  # the shot's calibration is still running...
        return source

    with ThreadPoolExecutor(1, thread_name_prefix="calibrate") as calibrations:
        shots = ShotSources(slow_calibration, calibrations)
        # ...while the shot's next frames are tracked and prepared,
        frames = [shots.frame_for(*_shifted(case, step, 0)) for step in range(4)]
        assert all(isinstance(frame.shot, Future) and not frame.shot.done()
                   for frame in frames)
        release.set()
        # and their render, which needs the shot, waits for it.
        sources = [frame.source() for frame in frames]
    assert calls == ["calibrate_0"] and shots.shots == 1
    assert sources[0] is frames[1].shot_source()
    assert np.array_equal(sources[3].image, _shifted(case, 3, 0)[0])
