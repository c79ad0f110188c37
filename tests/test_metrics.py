"""Frame and motion metrics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from fgemotalk_cli.errors import InputError, WeightsError
from fgemotalk_cli.evaluation.metrics import (
    _ALEX_CONVS,
    LEFT_EYE_CORNERS,
    RIGHT_EYE_CORNERS,
    Lpips,
    expression_distance,
    expression_shape,
    landmark_jitter,
    pose_distance_degrees,
    psnr,
    ssim,
)


@pytest.fixture(scope="module")
def face_like() -> np.ndarray:
    """A smooth synthetic RGB image with structure at several scales."""
    y, x = np.mgrid[0:96, 0:128] / 16.0
    base = 128 + 60 * np.sin(x) * np.cos(y) + 40 * np.sin(3 * x + y)
    return np.clip(np.stack([base, base * 0.8 + 20, 255 - base], axis=2), 0, 255).astype(np.uint8)


def _noisy(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def test_identical_images_are_perfect(face_like) -> None:
    assert psnr(face_like, face_like) == math.inf
    assert ssim(face_like, face_like) == pytest.approx(1.0)
    assert ssim(face_like, face_like, channels="per_channel") == pytest.approx(1.0)


def test_more_noise_scores_lower(face_like) -> None:
    light, heavy = _noisy(face_like, 5), _noisy(face_like, 25)
    assert psnr(face_like, heavy) < psnr(face_like, light) < 60
    assert ssim(face_like, heavy) < ssim(face_like, light) < 1.0


def test_psnr_known_value() -> None:
    # A constant error of 16 grey levels: MSE 256, PSNR = 20 log10(255 / 16) = 24.048 dB.
    dark = np.full((8, 8, 3), 100, np.uint8)
    assert psnr(dark, dark + 16) == pytest.approx(20 * math.log10(255 / 16))
    assert psnr(np.zeros((4, 4)), np.ones((4, 4)), data_range=1.0) == pytest.approx(0.0)


def test_ssim_known_value_for_a_brightness_shift() -> None:
    # Flat images: only the luminance term is left, (2 ab + C1) / (a² + b² + C1).
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 120 + c1) / (100**2 + 120**2 + c1)
    first, second = np.full((32, 32), 100, np.uint8), np.full((32, 32), 120, np.uint8)
    assert ssim(first, second) == pytest.approx(expected)


def test_ssim_matches_scikit_image(face_like) -> None:
    from skimage.metrics import structural_similarity

    noisy = _noisy(face_like, 12)
    reference = structural_similarity(face_like, noisy, data_range=255, channel_axis=2,
                                      gaussian_weights=True, sigma=1.5,
                                      use_sample_covariance=False)
    assert ssim(face_like, noisy, channels="per_channel") == pytest.approx(reference, abs=1e-9)


def test_shape_mismatch_and_bad_mode_are_input_errors(face_like) -> None:
    with pytest.raises(InputError, match="different shapes"):
        psnr(face_like, face_like[:10])
    with pytest.raises(InputError, match="luminance"):
        ssim(face_like, face_like, channels="rgb")  # type: ignore[arg-type]


def _track(offsets: np.ndarray) -> list[np.ndarray]:
    """Frames of 478 points (eye centres 100 px apart) shifted by one offset per frame."""
    points = np.zeros((478, 3))
    points[list(RIGHT_EYE_CORNERS), 0] = (-20.0, 20.0)
    points[list(LEFT_EYE_CORNERS), 0] = (120.0, 80.0)
    return [points + np.array([dx, 0.0, 0.0]) for dx in offsets]


def test_jitter_ignores_smooth_motion_and_catches_shaking() -> None:
    assert landmark_jitter(_track(np.arange(10) * 3.0)) == pytest.approx(0.0)
    shaking = np.array([0.0, 1.0] * 5)  # +-1 px alternation: acceleration 2 px = 0.02 IOD
    assert landmark_jitter(_track(shaking)) == pytest.approx(0.02)


def test_jitter_skips_frames_without_a_face() -> None:
    frames: list[np.ndarray | None] = list(_track(np.arange(6) * 2.0))
    frames[3] = None
    assert landmark_jitter(frames) == pytest.approx(0.0)
    assert landmark_jitter([None, None, None]) is None


def _random_alexnet(path: Path, lpips_keys: bool, seed: int = 0) -> Path:
    import torch

    generator = torch.Generator().manual_seed(seed)
    state = {}
    slices = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}
    for index, (inputs, outputs, kernel, _, _) in _ALEX_CONVS.items():
        prefix = f"net.slice{slices[index]}.{index}" if lpips_keys else f"features.{index}"
        state[f"{prefix}.weight"] = torch.randn(outputs, inputs, kernel, kernel,
                                                generator=generator) * 0.05
        state[f"{prefix}.bias"] = torch.zeros(outputs)
    for k, channels in enumerate((64, 192, 384, 256, 256)):
        state[f"lin{k}.model.1.weight"] = torch.rand(1, channels, 1, 1, generator=generator)
    torch.save(state, path)
    return path


def test_lpips_with_local_weights(tmp_path: Path, face_like) -> None:
    metric = Lpips.load(_random_alexnet(tmp_path / "alex.pth", lpips_keys=False))
    light, heavy = _noisy(face_like, 5), _noisy(face_like, 40)
    assert metric.distance(face_like, face_like) == pytest.approx(0.0, abs=1e-7)
    assert 0 < metric.distance(face_like, light) < metric.distance(face_like, heavy)
    assert metric.distance(face_like, heavy) == pytest.approx(metric.distance(heavy, face_like))
    # lpips.LPIPS's own state-dict layout loads into the same network.
    same = Lpips.load(_random_alexnet(tmp_path / "lpips.pth", lpips_keys=True))
    assert same.distance(face_like, heavy) == pytest.approx(metric.distance(face_like, heavy))


def test_lpips_weight_problems_say_what_is_missing(tmp_path: Path) -> None:
    import torch

    with pytest.raises(WeightsError, match="--lpips-weights"):
        Lpips.load(tmp_path / "absent.pth")
    heads_only = tmp_path / "heads.pth"
    torch.save({"lin0.model.1.weight": torch.ones(1, 64, 1, 1)}, heads_only)
    with pytest.raises(WeightsError, match="no AlexNet backbone"):
        Lpips.load(heads_only)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read"):
        Lpips.load(garbage)


def test_lpips_backbone_without_heads_needs_the_lpips_package(tmp_path: Path,
                                                              monkeypatch) -> None:
    import importlib.util

    import torch

    path = _random_alexnet(tmp_path / "alex.pth", lpips_keys=False)
    state = torch.load(path, weights_only=True)
    torch.save({k: v for k, v in state.items() if k.startswith("features.")}, path)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "lpips" else real_find_spec(name, *a))
    with pytest.raises(WeightsError, match="linear layers"):
        Lpips.load(path)


def _posed(shape: np.ndarray, yaw: float, pitch: float, roll: float):
    """A face mesh in pixels: ``shape`` (canonical units) turned, scaled and placed."""
    from fgemotalk_cli.faces.landmarks import (
        FaceLandmarks,
        estimate_head_pose,
        rotation_from_angles,
    )

    rotation = rotation_from_angles(yaw, pitch, roll)
    points = (90.0 * shape @ rotation.T + [256.0, 240.0, 15.0]).astype(np.float32)
    landmarks = FaceLandmarks(points, (512, 512))
    return landmarks, estimate_head_pose(landmarks)


def test_apd_and_aed_substitutes_separate_pose_from_expression() -> None:
    from fgemotalk_cli.faces.mesh_model import canonical_face_mesh

    neutral = canonical_face_mesh().astype(np.float64)
    smiling = neutral.copy()
    smiling[[61, 291], 1] -= 0.1  # lip corners up by a tenth of the inter-ocular distance
    frontal, frontal_pose = _posed(neutral, 0.0, 0.0, 0.0)
    turned, turned_pose = _posed(neutral, 12.0, -6.0, 3.0)
    smile, smile_pose = _posed(smiling, 12.0, -6.0, 3.0)

    assert pose_distance_degrees(frontal_pose, turned_pose) == pytest.approx(7.0, abs=0.01)
    same_face = expression_distance(expression_shape(frontal, frontal_pose),
                                    expression_shape(turned, turned_pose))
    assert same_face == pytest.approx(0.0, abs=1e-4)
    # Two of the 468 surface points moved by 0.1: the mean distance is 0.2 / 468.
    changed = expression_distance(expression_shape(frontal, frontal_pose),
                                  expression_shape(smile, smile_pose))
    assert changed == pytest.approx(0.2 / 468, rel=0.01)
