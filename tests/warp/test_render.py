"""The dense warp: identity, a still background, the mouth interior, closed eyes, speed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.compose import sample_face
from fgemotalk_cli.engines.warp.engine import edit_source, target_from_controls
from fgemotalk_cli.engines.warp.mesh import target_vertices
from fgemotalk_cli.engines.warp.mouth import INNER_CONTOUR, MouthPatch
from fgemotalk_cli.engines.warp.render import backward_map, prepare_source, render_warp
from fgemotalk_cli.errors import InputError

pytestmark = pytest.mark.media


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _far_from_face(case, margin_iod: float = 1.3) -> np.ndarray:
    """Pixels more than ``margin_iod`` inter-ocular distances outside the face oval."""
    height, width = case.image.shape[:2]
    oval = case.source.points[list(L.FACE_OVAL), :2].astype(np.float32)
    inside = np.zeros((height, width), np.uint8)
    cv2.fillPoly(inside, [np.round(oval).astype(np.int32)], 1)
    distance = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
    return distance > margin_iod * case.source.geometry.frame.iod_px


def test_target_equal_to_source_reproduces_the_image(warp_cases) -> None:
    for case in warp_cases:
        out = render_warp(case.source, case.source.points[:, :2])
        assert out.shape == case.image.shape and out.dtype == np.uint8
        assert _psnr(out, case.image) > 35


def test_background_stays_still(warp_cases) -> None:
    """An AU edit leaves everything beyond the face as it was; a head turn moves the head and
    its hair (a layer of their own) but not the background behind them."""
    for case in warp_cases:
        far = _far_from_face(case)
        assert far.sum() > 2000
        expression = edit_source(case.source, {12: 5, 26: 5, 1: 5})
        assert np.array_equal(expression[far], case.image[far])
        turned = edit_source(case.source, {}, head_degrees=(8.0, -5.0, 6.0))
        # The turned head (and its hair) may cover background up to about half an IOD away.
        reach = int(0.5 * case.source.geometry.frame.iod_px)
        person = cv2.dilate((case.source.layers.person > 0).astype(np.uint8),
                            np.ones((2 * reach + 1,) * 2, np.uint8)).astype(bool)
        background = far & ~person
        assert background.sum() > 2000
        assert np.array_equal(turned[background], case.image[background])


def test_wrong_inputs_are_errors(warp_cases) -> None:
    case = warp_cases[0]
    with pytest.raises(InputError, match="478"):
        render_warp(case.source, case.source.points[:468, :2])
    with pytest.raises(InputError, match="RGB uint8"):
        prepare_source(case.image.astype(np.float32), case.landmarks)


def _inner_mouth_mask(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points[list(INNER_CONTOUR), :2]).astype(np.int32)], 1)
    return cv2.erode(mask, np.ones((5, 5), np.uint8)).astype(bool)


def test_jaw_drop_fills_a_dark_mouth_with_a_teeth_band(warp_cases,
                                                        review_dir) -> None:
    case = warp_cases[0]
    target = target_from_controls(case.source, {26: 5})
    out = render_warp(case.source, target)
    cv2.imwrite(str(review_dir / f"test_jaw_drop_{case.name}.png"), out[..., ::-1])
    inside = _inner_mouth_mask(out.shape, target)
    assert inside.sum() > 500
    luma = out @ np.array([0.299, 0.587, 0.114])
    skin_luma = float(case.source.mouth_style.skin @ [0.299, 0.587, 0.114])
    mouth = luma[inside]
    assert np.percentile(mouth, 10) < 0.3 * skin_luma  # a dark cavity...
    assert np.median(mouth) < 0.75 * skin_luma  # ...behind tongue and teeth, not a bright patch
    assert np.percentile(mouth, 95) > 0.7 * skin_luma  # ...with bright teeth


def test_mouth_patch_supplies_the_interior(warp_cases, portraits) -> None:
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image

    case = warp_cases[0]
    driver = load_image(next(p for p in portraits if p.name == "liveportrait_d19.jpg"))
    patch = MouthPatch(driver, np.asarray(detect_source_face(driver).points))
    assert patch.usable()
    target = target_from_controls(case.source, {26: 5})
    synthetic = render_warp(case.source, target)
    patched = render_warp(case.source, target, patch)
    inside = _inner_mouth_mask(synthetic.shape, target)
    difference = np.abs(patched.astype(int) - synthetic.astype(int))
    assert difference[inside].mean() > 10
    assert np.array_equal(patched[~inside & _far_from_face(case, 0.5)],
                          synthetic[~inside & _far_from_face(case, 0.5)])


def test_a_patch_around_the_mouth_renders_what_the_whole_frame_does(warp_cases,
                                                                   portraits) -> None:
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image

    case = warp_cases[0]
    driver = load_image(next(p for p in portraits if p.name == "liveportrait_d19.jpg"))
    points = np.asarray(detect_source_face(driver).points)
    whole = MouthPatch(driver, points)
    cropped = MouthPatch.around_mouth(driver, points)
    assert cropped.image.size < 0.4 * driver.size  # what crosses to a render worker
    for aus in ({26: 5}, {26: 2, 20: 3}, {12: 4}):
        target = target_from_controls(case.source, aus)
        assert np.array_equal(render_warp(case.source, target, cropped),
                              render_warp(case.source, target, whole)), aus


def test_closed_eyes_show_lid_skin_not_the_eye(warp_cases, review_dir) -> None:
    for case in warp_cases:
        out = edit_source(case.source, {43: 5})
        cv2.imwrite(str(review_dir / f"test_eyes_closed_{case.name}.png"), out[..., ::-1])
        skin = case.source.mouth_style.skin
        rows, cols = np.mgrid[: out.shape[0], : out.shape[1]]
        for iris in (L.RIGHT_IRIS, L.LEFT_IRIS):
            centre = case.source.points[iris[0], :2]
            radius = 0.8 * np.linalg.norm(case.source.points[list(iris[1:]), :2] - centre,
                                          axis=1).mean()
            disk = (cols - centre[0]) ** 2 + (rows - centre[1]) ** 2 < radius**2
            before = np.abs(case.image[disk].astype(float) - skin).mean()
            after = np.abs(out[disk].astype(float) - skin).mean()
            # Where the iris was, the colour is now much nearer the face's skin (lid skin
            # pulled down from above, lashes at its edge), not a smeared iris.
            assert after < 0.8 * before, (case.name, before, after)


def test_an_empty_edit_is_the_source_exactly(warp_cases, portraits) -> None:
    """A closed mouth's inner lip contours often cross a little as detected; no edit may
    'repair' that (it used to move the lips and cost identity on every edit)."""
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image

    sad = load_image(next(p for p in portraits if p.name == "sadtalker_sad.png"))
    sources = [case.source for case in warp_cases]
    sources.append(prepare_source(sad, detect_source_face(sad)))
    for source in sources:
        assert np.array_equal(edit_source(source, {}), source.image)


def test_sliver_triangles_map_near_their_source() -> None:
    """The rasteriser marks pixels just outside a triangle; for a collapsed one (a fold, a
    closing lid) the exact affine would send those far away: dark specks on the jaw."""
    from fgemotalk_cli.engines.warp.render import _affines

    target = np.array([[[0.0, 0.0], [10.0, 0.0], [5.0, 0.01]]])
    source = np.array([[[0.0, 0.0], [10.0, 0.0], [5.0, 5.0]]])
    affines, doubled_areas = _affines(target, source, min_height=1.0)
    assert doubled_areas[0] == pytest.approx(0.1)
    a = affines[0]
    outside = np.array([5.0, -1.0])  # one pixel beside the sliver
    mapped = (a[0] * outside[0] + a[1] * outside[1] + a[2],
              a[3] * outside[0] + a[4] * outside[1] + a[5])
    assert abs(mapped[1]) <= 5.0 * 1.01  # one source height away, not five hundred
    inside = np.array([5.0, 0.005])
    assert 0.0 <= a[3] * inside[0] + a[4] * inside[1] + a[5] <= 5.0


def test_jaw_drop_keeps_the_chin_unfolded(warp_cases) -> None:
    """Turned about the hinge with its raw, noisy depth, the chin's lower edge folded over
    the neck (a hard, dark, jagged jawline)."""
    from fgemotalk_cli.engines.warp.mesh import signed_areas, target_vertices

    for case in warp_cases:
        mesh, face = case.source.mesh, case.source.geometry.face
        chin = set(np.flatnonzero(face[:, 1] > face[L.CHIN, 1] - 0.25).tolist())
        triangles = [t for t in mesh.triangles[mesh.face_start:] if set(t.tolist()) <= chin]
        target = target_from_controls(case.source, {26: 5})
        vertices, _ = target_vertices(mesh, target)
        ratio = signed_areas(vertices[triangles]) / signed_areas(mesh.vertices[triangles])
        assert ratio.min() > 0.4, (case.name, ratio.min())


def test_the_face_sampled_from_four_channels_is_the_three_channel_sample(warp_cases) -> None:
    """The face box is sampled from the texture with a fourth channel (a faster remap): the
    same pixels as from the texture itself, over a part of the box and the whole."""
    for case in warp_cases:
        source = case.source
        target = target_from_controls(source, {26: 3.0, 12: 2.0}, head_degrees=(10.0, 0, 0))
        warp_map = backward_map(source, *target_vertices(source.mesh, target))
        height, width = warp_map.mask.shape
        for box in ((0, 0, width, height), (width // 5, height // 4, width - 3, height - 7)):
            three = sample_face(source.texture, warp_map.coordinates, warp_map.details, box)
            four = sample_face(source.texture, warp_map.coordinates, warp_map.details, box,
                               source.texture_rgba)
            assert three.shape == (height, width, 3) and three.any()
            assert np.array_equal(three, four), case.name
