"""Head motion that follows the driver: layers (head, body, plate), pose options, turn limits,
full-resolution output."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from bench.plate_seams import edge_step
from fgemotalk_cli.engines.warp import compose, render
from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.engine import edit_source, target_from_controls
from fgemotalk_cli.engines.warp.frame_map import invert_affine, layered_map
from fgemotalk_cli.engines.warp.layers import blend_where, paste_insets
from fgemotalk_cli.engines.warp.mesh import head_motion
from fgemotalk_cli.engines.warp.motion import (
    MAX_YAW_DEGREES,
    DriverMotion,
    MotionTransfer,
    place,
    soft_limit,
)
from fgemotalk_cli.engines.warp.plate import background_fill, fill_from_surroundings
from fgemotalk_cli.engines.warp.render import prepare_source, render_warp
from fgemotalk_cli.errors import InputError
from fgemotalk_cli.faces.detector import FaceMeshDetector
from fgemotalk_cli.faces.landmarks import rotation_from_angles

pytestmark = pytest.mark.media


def _face_centre(image: np.ndarray) -> tuple[np.ndarray, float]:
    with FaceMeshDetector(video_mode=False) as detector:
        faces = detector.detect(image)
    assert faces, "no face in the rendered frame"
    points = np.asarray(faces[0].points)[:, :2]
    right = points[list(L.RIGHT_EYE_CORNERS)].mean(0)
    left = points[list(L.LEFT_EYE_CORNERS)].mean(0)
    return points[list(L.FACE_OVAL)].mean(0), float(np.linalg.norm(left - right))


def _shifted(source, shift_iod: np.ndarray, scale: float = 1.0) -> np.ndarray:
    still = DriverMotion.still()
    motion = DriverMotion(still.expression, still.rotation, shift_iod, scale)
    return place(source.geometry, source.geometry.face, motion)


def test_head_translation_and_zoom_move_the_whole_head(warp_cases) -> None:
    """The rendered face lands where the motion puts it (measured by a fresh detection), and
    the hair above the head comes along: the top of the head is no longer where it was."""
    case = warp_cases[0]
    source = case.source
    iod = source.geometry.frame.iod_px
    before, before_iod = _face_centre(case.image)
    shift = np.array([0.3, 0.15])
    out = render_warp(source, _shifted(source, shift, 1.08))
    after, after_iod = _face_centre(out)
    assert np.linalg.norm((after - before) / iod - shift * 1.0) < 0.06
    assert after_iod / before_iod == pytest.approx(1.08, abs=0.03)
    # Hair above the forehead moved right with the head: the rows above the brows match the
    # source shifted, not the source.
    top = int(source.points[list(L.FACE_OVAL), 1].min())
    band = slice(max(top - int(0.4 * iod), 0), top)
    moved = np.roll(case.image, int(round(0.3 * iod * 1.0)), axis=1)
    columns = slice(int(iod), case.image.shape[1] - int(iod))
    error_still = np.abs(out[band, columns].astype(int) - case.image[band, columns]).mean()
    error_moved = np.abs(out[band, columns].astype(int) - moved[band, columns]).mean()
    assert error_moved < error_still


def test_background_the_head_uncovers_comes_from_the_plate(warp_cases) -> None:
    case = warp_cases[0]
    source = case.source
    iod = source.geometry.frame.iod_px
    out = render_warp(source, _shifted(source, np.array([0.6, 0.0])))
    layers = source.layers
    # Pixels the source had the person on, whose sample 0.6 IOD to the left (where the moved
    # head now takes its pixels from) is background, above the chin: uncovered background.
    step = int(round(0.6 * iod))
    rows = np.arange(case.image.shape[0])[:, None]
    came_from = np.zeros_like(layers.person)
    came_from[:, step:] = layers.person[:, :-step]
    uncovered = ((layers.person > 0.99) & (came_from < 0.01)
                 & (rows < source.points[L.CHIN, 1]))
    assert uncovered.sum() > 100
    to_plate = np.abs(out[uncovered].astype(int) - layers.plate[uncovered]).mean()
    to_source = np.abs(out[uncovered].astype(int) - case.image[uncovered]).mean()
    assert to_plate < 0.5 * to_source


def test_plate_fill_takes_the_colours_around_the_hole() -> None:
    image = np.zeros((64, 64, 3), np.float32)
    image[:, :32] = (200, 20, 20)
    image[:, 32:] = (20, 20, 200)
    known = np.ones((64, 64), np.float32)
    known[20:44, 20:44] = 0
    filled = fill_from_surroundings(image, known)
    assert np.array_equal(filled[known > 0], image[known > 0])
    assert filled[32, 22, 0] > filled[32, 22, 2]  # the red side stays reddish
    assert filled[32, 41, 2] > filled[32, 41, 0]  # the blue side bluish


def test_a_turn_compresses_the_far_side_without_shear(warp_cases) -> None:
    """Yaw through the 3-D mesh: the half of the face turning away narrows, the other widens,
    and the head affine holds the foreshortening (not a shear)."""
    case = warp_cases[0]
    source = case.source
    target = target_from_controls(source, {}, head_degrees=(20.0, 0.0, 0.0))
    nose = L.NOSE_TIP
    oval = source.points[list(L.FACE_OVAL), :2]
    moved = target[list(L.FACE_OVAL), :2]
    widths_before = (source.points[nose, 0] - oval[:, 0].min(), oval[:, 0].max()
                     - source.points[nose, 0])
    widths_after = (target[nose, 0] - moved[:, 0].min(), moved[:, 0].max() - target[nose, 0])
    ratios = np.array(widths_after) / np.array(widths_before)
    assert ratios.min() < 0.9 and ratios.max() > 0.95
    affine = head_motion(source.mesh, target)
    assert abs(affine[0, 1]) < 0.05 and abs(affine[1, 0]) < 0.05  # no shear to speak of
    assert affine[0, 0] < 0.99  # the head outline narrows with the turn
    out = render_warp(source, target)
    assert out.shape == case.image.shape


def test_pose_source_keeps_the_head_still_and_scale_damps_it(warp_cases) -> None:
    source = warp_cases[0].source
    driver = np.asarray(warp_cases[1].landmarks.points, np.float64)
    moved = driver.copy()
    moved[:, :2] += (40.0, -25.0)
    for pose, pose_scale, expected in (("driver", 1.0, 1.0), ("driver", 0.5, 0.5),
                                       ("source", 1.0, 0.0)):
        transfer = MotionTransfer(source.geometry, driver, smoothing=None, pose=pose,
                                  pose_scale=pose_scale)
        target = transfer.target_points(moved, 0.0)
        shift = target[list(L.FACE_OVAL), :2].mean(0) - source.points[list(L.FACE_OVAL),
                                                                       :2].mean(0)
        driver_iod = np.linalg.norm(driver[list(L.LEFT_EYE_CORNERS), :2].mean(0)
                                    - driver[list(L.RIGHT_EYE_CORNERS), :2].mean(0))
        want = expected * np.array([40.0, -25.0]) / driver_iod * source.geometry.frame.iod_px
        assert np.abs(shift - want).max() < 0.1 * source.geometry.frame.iod_px, pose
    with pytest.raises(InputError, match="pose-scale"):
        MotionTransfer(source.geometry, driver, pose_scale=1.5)
    with pytest.raises(InputError, match="pose"):
        MotionTransfer(source.geometry, driver, pose="camera")  # type: ignore[arg-type]


def test_large_turns_are_limited_smoothly_and_counted(warp_cases) -> None:
    assert soft_limit(10.0, MAX_YAW_DEGREES) == 10.0
    values = [soft_limit(v, MAX_YAW_DEGREES) for v in np.linspace(0, 90, 91)]
    assert np.all(np.diff(values) > 0) and max(values) < MAX_YAW_DEGREES
    source = warp_cases[0].source
    driver = np.asarray(warp_cases[1].landmarks.points, np.float64)
    transfer = MotionTransfer(source.geometry, driver, smoothing=None)
    centre = driver.mean(axis=0)
    for yaw in (10.0, 50.0):
        turned = (driver - centre) @ rotation_from_angles(yaw, 0.0, 0.0).T + centre
        motion = transfer.motion(turned, 0.0)
        angle = np.degrees(np.arccos(np.clip((np.trace(motion.rotation) - 1) / 2, -1, 1)))
        if yaw == 10.0:
            assert angle == pytest.approx(10.0, abs=2.0)
            assert transfer.limited_frames == 0
        else:
            assert angle < MAX_YAW_DEGREES
    assert transfer.limited_frames == 1


def test_camera_shake_does_not_shake_the_output_more_than_the_driver(warp_cases) -> None:
    """Whole-frame jitter in the driver (a hand-held camera) moves the output head by no more
    than it moved the driver's head, in IODs, and smoothing takes some of it out."""
    source = warp_cases[0].source
    driver = np.asarray(warp_cases[1].landmarks.points, np.float64)
    driver_iod = np.linalg.norm(driver[list(L.LEFT_EYE_CORNERS), :2].mean(0)
                                - driver[list(L.RIGHT_EYE_CORNERS), :2].mean(0))
    rng = np.random.default_rng(0)
    transfer = MotionTransfer(source.geometry, driver)
    shakes, moves = [], []
    for frame in range(50):
        shake = rng.normal(0.0, 3.0, 2)
        shaken = driver.copy()
        shaken[:, :2] += shake
        target = transfer.target_points(shaken, frame / 25.0)
        shakes.append(shake / driver_iod)
        moves.append((target[list(L.FACE_OVAL), :2].mean(0)
                      - source.points[list(L.FACE_OVAL), :2].mean(0))
                     / source.geometry.frame.iod_px)
    shakes, moves = np.array(shakes), np.array(moves)
    assert np.std(moves, axis=0).max() <= np.std(shakes, axis=0).max()


def test_large_photo_keeps_its_size_and_detail(warp_cases) -> None:
    """A photo above the working resolution comes back at its own size, odd sides included;
    an AU edit outside the face is the photo itself, pixel for pixel."""
    case = warp_cases[0]
    big = cv2.resize(case.image, (1501, 1499), interpolation=cv2.INTER_CUBIC)
    points = np.asarray(case.landmarks.points, np.float64).copy()
    points[:, 0] = (points[:, 0] + 0.5) * 1501 / 512 - 0.5
    points[:, 1] = (points[:, 1] + 0.5) * 1499 / 512 - 0.5
    points[:, 2] *= 1501 / 512
    source = prepare_source(big, points, work_side=1024)
    assert source.scale > 1.0 and max(source.size) <= 1024
    edited = edit_source(source, {12: 5, 26: 4})
    assert edited.shape == big.shape
    changed = np.abs(edited.astype(int) - big).max(axis=2) > 0
    assert 0 < changed.mean() < 0.5
    assert not changed[:100, :100].any() and not changed[-100:, -100:].any()
    # Skin away from the mouth keeps full-resolution detail (not an upsampled copy).
    forehead = (slice(int(points[10, 1]) + 5, int(points[10, 1]) + 60),
                slice(int(points[10, 0]) - 40, int(points[10, 0]) + 40))
    assert np.abs(edited[forehead].astype(int) - big[forehead]).mean() < 2.0
    turned = edit_source(source, {}, head_degrees=(10.0, 0.0, 0.0))
    assert turned.shape == big.shape


@pytest.mark.parametrize("seed", range(3))
def test_invert_affine_undoes_the_affine(seed: int) -> None:
    rng = np.random.default_rng(seed)
    forward = np.concatenate([np.eye(2) + 0.2 * rng.standard_normal((2, 2)),
                              20.0 * rng.standard_normal((2, 1))], axis=1)
    points = 500.0 * rng.random((10, 2))
    moved = points @ forward[:, :2].T + forward[:, 2]
    backward = invert_affine(forward)
    assert np.allclose(moved @ backward[:, :2].T + backward[:, 2], points, atol=1e-9)


def test_the_composite_beyond_the_persons_reach_is_the_plate(warp_cases) -> None:
    """A moving head is composited only where the frame's map can reach the person; the
    frame is what compositing every pixel gives (to within a grey level in a few pixels,
    from the resize of a part of the grid), and that part is smaller than the frame."""
    case = warp_cases[0]
    source = case.source
    width, height = source.full_size
    target = target_from_controls(source, {12: 2.0}, None, (12.0, -6.0, 5.0))
    confined = render_warp(source, target)
    layers = source.layers
    everywhere = dataclasses.replace(source)
    # ``layers`` is a cached property: the copy's cache gets layers whose person box reaches
    # far beyond the frame, so that every pixel is composited.
    far = 10 * max(width, height)
    everywhere.__dict__["layers"] = dataclasses.replace(layers, person_box=(-far, -far, far, far))
    whole = render_warp(everywhere, target)
    difference = np.abs(confined.astype(int) - whole)
    assert difference.max() <= 2 and np.count_nonzero(difference) < 1e-4 * difference.size
    frame = layered_map(layers, head_motion(source.mesh, target), source.size, (width, height))
    x0, y0, x1, y1 = frame.box
    assert (x1 - x0) * (y1 - y0) < 0.95 * width * height
    outside = np.ones((height, width), bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(confined[outside], layers.plate[outside])


def test_head_weights_at_several_neck_depths_are_each_weight(warp_cases) -> None:
    """The frame map asks for the head weight at two neck depths in one call: each is what
    asking for it alone gives, and the deeper one reaches further down the neck."""
    for case in warp_cases:
        head = case.source.layers.head
        xy = np.stack(np.meshgrid(np.arange(0, case.source.size[0], 7.0),
                                  np.arange(0, case.source.size[1], 7.0)), axis=-1)
        near, far = head.weights(xy, (0.0, 0.6))
        assert np.array_equal(near, head.weight(xy))
        assert np.array_equal(far, head.weight(xy, 0.6))
        assert (far >= near).all() and (far > near).any()


def _paste_over_the_whole_face_box(full_image, scale, face, layers):  # type: ignore[no-untyped-def]
    """The composite blended over the whole frame box, then the face pasted over the whole
    face box (the paste weight computed and blended everywhere in it): what
    :func:`compose.layered_frame` must equal."""
    frame = layered_map(layers.layers, layers.head_forward, layers.work_size,
                        (full_image.shape[1], full_image.shape[0]), keep=face.box)
    fx0, fy0, fx1, fy1 = frame.box
    x0, y0, x1, y1 = (face.box[0] - fx0, face.box[1] - fy0, face.box[2] - fx0,
                      face.box[3] - fy0)
    weight = cv2.multiply(face.mask, frame.face_weight[y0:y1, x0:x1], scale=1.0 / 255.0,
                          dtype=cv2.CV_32F)
    coordinates = frame.coordinates
    coordinates[y0:y1, x0:x1] = cv2.blendLinear(face.coordinates, coordinates[y0:y1, x0:x1],
                                                weight, 1.0 - weight)
    map_xy, map_fraction = cv2.convertMaps(coordinates, None, cv2.CV_16SC2)
    person = cv2.remap(layers.layers.foreground, map_xy, map_fraction, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REFLECT)
    # Where the map may sample beyond the photo's edge the alpha is at most the edge's own.
    edge_alpha = cv2.remap(layers.layers.edge_alpha, map_xy, map_fraction, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    alpha = person[..., 3].copy()
    for bx0, by0, bx1, by1 in frame.beyond_edge:
        alpha[by0:by1, bx0:bx1] = np.minimum(alpha[by0:by1, bx0:bx1],
                                             edge_alpha[by0:by1, bx0:bx1])
    alpha = alpha.astype(np.float32) * np.float32(1.0 / 255.0)
    composited = cv2.blendLinear(np.ascontiguousarray(person[..., :3]),
                                 layers.layers.plate[fy0:fy1, fx0:fx1], alpha, 1.0 - alpha)
    paste = np.clip(weight * 2.5 - 1.5, 0.0, 1.0) * alpha[y0:y1, x0:x1]
    composited[y0:y1, x0:x1] = cv2.blendLinear(face.warped, composited[y0:y1, x0:x1], paste,
                                               1.0 - paste)
    output = layers.layers.plate.copy()
    output[fy0:fy1, fx0:fx1] = composited
    paste_insets(output, layers.layers)  # a corner thumbnail lies in front of everything
    return output


def test_the_face_is_pasted_only_where_it_can_change_a_pixel(warp_cases, monkeypatch) -> None:
    """The face is sampled and pasted over the box where the head mask passes 0.6 only, and
    the composite blends only its soft edge: the frames are exactly those of one blend over
    the whole frame box and a paste over the whole face box (what was not sampled taken as
    black), head turns and a dropped jaw included."""
    calls = []

    def recording(*arguments):  # type: ignore[no-untyped-def]
        calls.append(arguments)
        return compose.layered_frame(*arguments)

    monkeypatch.setattr(render, "layered_frame", recording)
    for case in warp_cases:
        for degrees in ((15.0, 0.0, 0.0), (-10.0, 8.0, -6.0)):
            calls.clear()
            frame = edit_source(case.source, {26: 3.0, 12: 2.0}, head_degrees=degrees)
            assert len(calls) == 1, case.name
            face = calls[0][2]
            if case.source.scale == 1.0:  # only the pasted part of the face box is sampled
                x0, y0, x1, y1 = compose.paste_box(face.mask)
                outside = np.ones(face.mask.shape, bool)
                outside[y0:y1, x0:x1] = False
                assert outside.any() and not face.warped[outside].any(), case.name
            assert np.array_equal(frame, _paste_over_the_whole_face_box(*calls[0])), case.name


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_blend_where_is_blend_linear_at_those_pixels(dtype: type) -> None:
    rng = np.random.default_rng(5)
    under = rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)
    over = rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)
    levels = rng.integers(0, 256, (23, 31), dtype=np.uint8)
    alpha = levels if dtype == np.uint8 else levels.astype(np.float32) / np.float32(255.0)
    weight = levels.astype(np.float32) * np.float32(1.0 / 255.0) if dtype == np.uint8 else alpha
    where = rng.random((23, 31)) < 0.3
    expected = np.where(where[..., None], cv2.blendLinear(over, under, weight, 1.0 - weight),
                        under)
    got = blend_where(under.copy(), over, alpha, where)
    assert np.array_equal(got, expected)
    assert not np.array_equal(got, under)


def test_plate_band_continues_the_background_texture() -> None:
    # Vertical stripes around a round hole: the band just inside its edge must carry on the
    # stripes (the smooth fill alone would be a flat grey there), and deep inside the fill
    # is the smooth one.
    size, iod = 256, 40.0
    columns = np.arange(size)
    stripes = np.where((columns // 6) % 2 == 0, 220, 40).astype(np.uint8)
    image = np.repeat(np.repeat(stripes[None, :, None], size, axis=0), 3, axis=2)
    hole = np.zeros((size, size), np.uint8)
    cv2.circle(hole, (128, 128), 80, 1, -1)
    filled = background_fill(image, hole, iod)
    smooth = cv2.resize(fill_from_surroundings(
        cv2.resize(image, (size, size)).astype(np.float32),
        (1 - hole).astype(np.float32)), (size, size))
    band = filled[125:131, 52:60, 0]  # 0 to 0.2 IOD inside the hole's left edge
    assert band.std() > 0.5 * image[..., 0].std()
    assert band.std() > 3 * smooth[125:131, 52:60, 0].std()
    # Mirrored: the stripe just inside the edge matches the stripe just outside it.
    assert abs(float(filled[128, 49, 0]) - float(image[128, 47, 0])) < 40
    centre = filled[118:138, 118:138]
    assert centre.std() < 10  # no stripes reach the middle


def test_plate_band_meets_the_photo_without_a_step_at_a_ragged_edge() -> None:
    # Foliage-like texture round a head-shaped hole with strands and notches: just inside
    # the hole the fill continues the photo at its edge (the step across the edge is the
    # texture's own), where the smoothed outline's mirror showed the background a few pixels
    # further out (on the shared portraits 2.2 times the texture's own step, 4 on obama).
    rng = np.random.default_rng(3)
    size, iod = 320, 60.0
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (size, size, 3)).astype(np.float32),
                               (0, 0), 2.5)
    texture = (texture - texture.mean()) * 6 + 128
    image = np.clip(texture, 0, 255).astype(np.uint8)
    hole = np.zeros((size, size), np.uint8)
    cv2.ellipse(hole, (160, 190), (70, 110), 0, 0, 360, 1, -1)
    angles = rng.uniform(0, 2 * np.pi, 14)
    for angle in angles:  # strands out of the outline, and notches into it
        start = (160 + 70 * np.cos(angle), 190 + 110 * np.sin(angle))
        end = (160 + 88 * np.cos(angle), 190 + 128 * np.sin(angle))
        cv2.line(hole, tuple(int(v) for v in start), tuple(int(v) for v in end), 1, 3)
    for angle in angles[:6] + 0.2:
        centre = (int(160 + 68 * np.cos(angle)), int(190 + 108 * np.sin(angle)))
        cv2.circle(hole, centre, 5, 0, -1)
    filled = background_fill(image, hole, iod)
    step, own = edge_step(filled, image, hole)
    assert step < 1.15 * own, (step, own)
