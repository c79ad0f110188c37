"""Motion transfer: pose and expression relative to the driver's reference, on the source."""

from __future__ import annotations

import numpy as np
import pytest

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.au_geometry import AUGeometry
from fgemotalk_cli.engines.warp.motion import MotionSmoothing, MotionTransfer
from fgemotalk_cli.engines.warp.render import render_warp
from fgemotalk_cli.errors import InputError

pytestmark = pytest.mark.media


@pytest.fixture(scope="module")
def source(warp_cases):
    return warp_cases[0].source


@pytest.fixture(scope="module")
def driver_points(warp_cases) -> np.ndarray:
    return np.asarray(warp_cases[1].landmarks.points, np.float64)


def _similarity(points: np.ndarray, degrees: float, scale: float, shift: np.ndarray,
                ) -> np.ndarray:
    angle = np.deg2rad(degrees)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = points[:, :2].mean(axis=0)
    moved = points.copy()
    moved[:, :2] = scale * (points[:, :2] - centre) @ turn.T + centre + shift
    moved[:, 2] = scale * points[:, 2]
    return moved


def _gap(face: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...]) -> float:
    return float(np.mean(face[list(lower), 1] - face[list(upper), 1]))


def test_reference_frame_reproduces_the_source(source, driver_points) -> None:
    for smoothing in (None, MotionSmoothing()):
        transfer = MotionTransfer(source.geometry, driver_points, smoothing=smoothing)
        for t in (0.0, 0.04):
            target = transfer.target_points(driver_points, t)
            assert np.abs(target - source.points).max() < 1e-6


def test_head_motion_follows_the_driver(source, driver_points) -> None:
    transfer = MotionTransfer(source.geometry, driver_points, smoothing=None)
    moved = _similarity(driver_points, 12.0, 1.1, np.array([15.0, -8.0]))
    target = transfer.target_points(moved, 0.0)
    right = source.points[list(L.RIGHT_EYE_CORNERS), :2].mean(0)
    left = source.points[list(L.LEFT_EYE_CORNERS), :2].mean(0)
    new_right = target[list(L.RIGHT_EYE_CORNERS), :2].mean(0)
    new_left = target[list(L.LEFT_EYE_CORNERS), :2].mean(0)
    before, after = left - right, new_left - new_right
    turned = np.degrees(np.arctan2(after[1], after[0]) - np.arctan2(before[1], before[0]))
    assert turned == pytest.approx(12.0, abs=0.5)
    assert np.linalg.norm(after) / np.linalg.norm(before) == pytest.approx(1.1, abs=0.01)
    driver_iod = AUGeometry.from_landmarks(driver_points).frame.iod_px
    shift = (new_left + new_right) / 2 - (left + right) / 2
    expected = np.array([15.0, -8.0]) * source.geometry.frame.iod_px / driver_iod
    # The driver turned about its landmarks' centroid, not its eyes: allow for the lever.
    assert np.linalg.norm(shift - expected) < 0.25 * source.geometry.frame.iod_px


def test_expression_and_blink_transfer(source, driver_points) -> None:
    driver = AUGeometry.from_landmarks(driver_points)
    open_mouth = driver.target_points({26: 4})
    closed_eyes = driver.target_points({43: 5})
    transfer = MotionTransfer(source.geometry, driver_points, smoothing=None)
    geometry = source.geometry

    face = geometry.frame.to_face(transfer.target_points(open_mouth, 0.0))
    mouth_before = _gap(geometry.face, L.UPPER_INNER_LIP[1:-1], L.LOWER_INNER_LIP[1:-1])
    mouth_after = _gap(face, L.UPPER_INNER_LIP[1:-1], L.LOWER_INNER_LIP[1:-1])
    assert mouth_after > mouth_before + 0.15

    target = transfer.target_points(closed_eyes, 0.04)
    face = geometry.frame.to_face(target)
    for upper, lower in ((L.RIGHT_UPPER_LID, L.RIGHT_LOWER_LID),
                         (L.LEFT_UPPER_LID, L.LEFT_LOWER_LID)):
        assert _gap(geometry.face, upper, lower) > 0.1
        assert abs(_gap(face, upper, lower)) < 0.03  # the source's eyes close too


def test_missing_faces_carry_the_last_motion(source, driver_points) -> None:
    transfer = MotionTransfer(source.geometry, driver_points, smoothing=None)
    moved = _similarity(driver_points, 5.0, 1.0, np.array([6.0, 0.0]))
    first = transfer.target_points(moved, 0.0)
    carried = transfer.target_points(None, 0.04)
    assert np.array_equal(first, carried)
    assert transfer.frames_without_face == 1
    fresh = MotionTransfer(source.geometry, driver_points, smoothing=None)
    assert np.allclose(fresh.target_points(None, 0.0), source.points)


def test_replace_sets_the_chosen_aus_and_leaves_the_rest_to_the_driver(source,
                                                                       driver_points) -> None:
    driver = AUGeometry.from_landmarks(driver_points)
    mouth = list(L.UPPER_OUTER_LIP) + list(L.LOWER_OUTER_LIP)
    brows = [70, 63, 105, 66, 107, 336, 296, 334, 293, 300]
    iod = source.geometry.frame.iod_px
    replace = MotionTransfer(source.geometry, driver_points, au_mode="replace", smoothing=None)
    add = MotionTransfer(source.geometry, driver_points, smoothing=None)
    held, plain_mouth = {}, {}
    for smile in (1.5, 3.5):
        frame = driver.target_points({12: smile, 1: 5})
        removed = replace.target_points(frame, 0.0, {12: 0})
        plain = add.target_points(frame, 0.0, {})
        # 12=0 takes the driver's smile away (the mouth is back near the source's) ...
        assert (np.abs(removed[mouth, :2] - source.points[mouth, :2]).max()
                < 0.4 * np.abs(plain[mouth, :2] - source.points[mouth, :2]).max())
        # ... and leaves the driver's brow raise alone.
        assert np.abs(removed[brows, :2] - plain[brows, :2]).max() < 0.01 * iod
        held[smile] = replace.target_points(frame, 0.0, {12: 3})
        plain_mouth[smile] = plain[mouth, :2]
    # 12=3 is nearly the same smile whatever the driver's own smile (the driver's field is
    # its own face's, so a small part orthogonal to the source's field stays).
    driver_change = np.abs(plain_mouth[1.5] - plain_mouth[3.5]).max()
    assert np.abs(held[1.5][mouth, :2] - held[3.5][mouth, :2]).max() < 0.25 * driver_change
    with pytest.raises(InputError, match="au_mode"):
        MotionTransfer(source.geometry, driver_points, au_mode="mix")


def test_smoothing_damps_jitter(source, driver_points) -> None:
    rng = np.random.default_rng(0)
    transfer = MotionTransfer(source.geometry, driver_points)
    raw = MotionTransfer(source.geometry, driver_points, smoothing=None)
    spread_smooth, spread_raw = [], []
    for k in range(30):
        noisy = driver_points + rng.normal(0, 0.6, driver_points.shape)
        spread_smooth.append(transfer.target_points(noisy, k / 25))
        spread_raw.append(raw.target_points(noisy, k / 25))
    assert np.std(spread_smooth[10:], axis=0).mean() < 0.6 * np.std(spread_raw[10:], axis=0).mean()


def test_real_driver_blink_closes_the_source_eyes(source, driving_clips,
                                                  still_detector, review_dir) -> None:
    """liveportrait_d1: one slow blink in 16 frames. The source must blink with it, as seen
    by the face mesh re-detected on the rendered frames."""
    import cv2

    from fgemotalk_cli.faces.detector import FaceMeshDetector
    from fgemotalk_cli.media.video import iter_frames

    clip = next(path for path in driving_clips if path.name == "liveportrait_d1.mp4")
    with FaceMeshDetector(video_mode=True, max_faces=1) as tracker:
        frames = [(frame.image, tracker.detect(frame.image), frame.time_seconds)
                  for frame in iter_frames(clip)]
    assert all(faces for _, faces, _ in frames)
    transfer = MotionTransfer(source.geometry, frames[0][1][0])
    openings, driver_openings, outputs = [], [], []
    for _image, faces, t in frames:
        target = transfer.target_points(faces[0], t)
        outputs.append(render_warp(source, target))
        seen = still_detector.detect(outputs[-1])[0].points.astype(np.float64)
        openings.append(_gap(seen, L.RIGHT_UPPER_LID, L.RIGHT_LOWER_LID))
        driver_openings.append(_gap(np.asarray(faces[0].points, np.float64), L.RIGHT_UPPER_LID,
                                    L.RIGHT_LOWER_LID))
    blink = int(np.argmin(driver_openings))
    strip = np.concatenate([frames[blink][0], outputs[blink]], axis=1)
    cv2.imwrite(str(review_dir / "test_driver_blink.png"), strip[..., ::-1])
    assert openings[blink] < 0.5 * openings[0], (openings, driver_openings)
