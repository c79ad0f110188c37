"""Frame and motion metrics for ``fgemotalk eval``: PSNR, SSIM, LPIPS, APD/AED substitutes, jitter.

Images are HxWx3 uint8 RGB arrays unless said otherwise; functions compare one pair of frames
and :mod:`fgemotalk_cli.evaluation.evaluate` averages them over a video.

Where we depart from the paper [ours]: FG-EmoTalk reports APD/AED as L1 distances of 3DMM pose
and expression coefficients. No 3DMM fitter ships with our dependencies, so the substitutes come
from the MediaPipe face mesh: APD is the mean absolute difference of yaw, pitch and roll in
degrees, AED the mean distance between pose-normalised landmarks (the face mesh with head
rotation, position and scale removed) in units of inter-ocular distance. Their values are not
comparable with the paper's numbers, only between runs of this tool.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from fgemotalk_cli.errors import InputError, WeightsError
from fgemotalk_cli.faces.mesh_model import MESH_POINTS, canonical_face_mesh, rigid_indices

if TYPE_CHECKING:
    from fgemotalk_cli.faces.landmarks import FaceLandmarks, HeadPose

SSIMChannels = Literal["luminance", "per_channel"]

# Wang et al. 2004 constants, as in the reference SSIM and scikit-image's gaussian variant.
_SSIM_SIGMA = 1.5
_SSIM_TRUNCATE = 3.5  # gives an 11x11 window at sigma 1.5
_SSIM_K1, _SSIM_K2 = 0.01, 0.03

# MediaPipe face mesh eye corners (outer, inner) of the subject's right and left eye; an eye's
# centre is the midpoint of its corners, as in fgemotalk_cli.faces.landmarks, so it ignores the
# gaze.
RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS = (33, 133), (263, 362)


def _check_pair(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(first), np.asarray(second)
    if a.shape != b.shape:
        raise InputError(f"cannot compare images of different shapes {a.shape} and {b.shape}")
    return a.astype(np.float64), b.astype(np.float64)


def psnr(first: np.ndarray, second: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels; inf for identical images."""
    a, b = _check_pair(first, second)
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(data_range**2 / mse)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma (what SSIM papers mean by Y) as float64."""
    array = np.asarray(rgb, dtype=np.float64)
    if array.ndim == 2:
        return array
    return array[..., 0] * 0.299 + array[..., 1] * 0.587 + array[..., 2] * 0.114


def _ssim_plane(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    """Mean SSIM of one plane with an 11x11 gaussian window (sigma 1.5), Wang et al. 2004."""
    import cv2

    radius = int(_SSIM_TRUNCATE * _SSIM_SIGMA + 0.5)

    def blur(x: np.ndarray) -> np.ndarray:
        # Same 11-tap kernel and mirrored border as scipy's gaussian_filter(mode="reflect"),
        # which scikit-image uses, at a fraction of the cost.
        size = 2 * radius + 1
        return cv2.GaussianBlur(x, (size, size), _SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)

    c1, c2 = (_SSIM_K1 * data_range) ** 2, (_SSIM_K2 * data_range) ** 2
    mean_a, mean_b = blur(a), blur(b)
    var_a = blur(a * a) - mean_a**2
    var_b = blur(b * b) - mean_b**2
    covariance = blur(a * b) - mean_a * mean_b
    ssim_map = ((2 * mean_a * mean_b + c1) * (2 * covariance + c2)) / (
        (mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2)
    )
    # Border pixels see a reflected window; like the reference code, leave them out.
    inner = ssim_map[radius:-radius, radius:-radius]
    if inner.size == 0:
        raise InputError(f"images are too small for SSIM (need more than {2 * radius} px a side)")
    return float(inner.mean())


def ssim(first: np.ndarray, second: np.ndarray, data_range: float = 255.0,
         channels: SSIMChannels = "luminance") -> float:
    """Structural similarity in [-1, 1] (1 for identical images).

    ``luminance`` compares BT.601 luma, as most talking-head papers do; ``per_channel``
    averages SSIM over R, G and B. Matches scikit-image's ``structural_similarity`` with
    ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``.
    """
    a, b = _check_pair(first, second)
    if channels == "luminance":
        return _ssim_plane(luminance(a), luminance(b), data_range)
    if channels == "per_channel":
        if a.ndim == 2:
            return _ssim_plane(a, b, data_range)
        return float(np.mean([_ssim_plane(a[..., c], b[..., c], data_range)
                              for c in range(a.shape[-1])]))
    raise InputError(f"SSIM channels must be 'luminance' or 'per_channel', not '{channels}'")


def interocular_distance(points: np.ndarray) -> float:
    """Pixels between the eye centres (corner midpoints) of a face-mesh landmark array."""
    right = points[list(RIGHT_EYE_CORNERS), :2].mean(axis=0)
    left = points[list(LEFT_EYE_CORNERS), :2].mean(axis=0)
    return float(np.linalg.norm(left - right))


def landmark_jitter(tracks: Sequence[np.ndarray | None]) -> float | None:
    """Temporal jitter: RMS landmark acceleration per frame², in inter-ocular distances.

    ``tracks`` holds one (N, 2+) face-mesh array per frame, None where no face was found. The
    second difference ``p[t+1] - 2 p[t] + p[t-1]`` is taken only over three consecutive frames
    with a face, divided by that frame's inter-ocular distance; its root mean square over
    landmarks and frames is returned (the square root of the acceleration energy), or None when
    no three consecutive frames had a face. Smooth motion, however fast, scores near zero;
    frame-to-frame shaking does not.
    """
    squared: list[float] = []
    for previous, current, following in zip(tracks, tracks[1:], tracks[2:], strict=False):
        if previous is None or current is None or following is None:
            continue
        iod = interocular_distance(current)
        if iod <= 0:
            continue
        acceleration = (following[:, :2] - 2 * current[:, :2] + previous[:, :2]) / iod
        squared.append(float(np.mean(np.sum(acceleration**2, axis=1))))
    return math.sqrt(float(np.mean(squared))) if squared else None


def region_displacement(before: np.ndarray, after: np.ndarray, region: np.ndarray,
                        iod: float) -> tuple[float, float]:
    """Mean image-plane landmark movement inside ``region`` and outside it, in units of ``iod``.

    The second number shows how far an edit meant for one region leaks into the rest.
    """
    movement = np.linalg.norm(after[:, :2] - before[:, :2], axis=1) / iod
    inside = np.zeros(len(movement), dtype=bool)
    inside[region] = True
    return float(movement[inside].mean()), float(movement[~inside].mean())


def pose_angles_degrees(pose: HeadPose) -> np.ndarray:
    """(yaw, pitch, roll) of a head pose as an array."""
    return np.array([pose.yaw, pose.pitch, pose.roll], dtype=np.float64)


def pose_distance_degrees(first: HeadPose, second: HeadPose) -> float:
    """APD substitute for one frame: mean absolute yaw/pitch/roll difference in degrees."""
    return float(np.mean(np.abs(pose_angles_degrees(first) - pose_angles_degrees(second))))


def expression_shape(landmarks: FaceLandmarks, pose: HeadPose) -> np.ndarray:
    """The 468 face-mesh surface points with head pose removed: (468, 3) in inter-ocular distances.

    Inverts the pose fit ``points ~ scale * rotation @ canonical + shift``: what remains is face
    shape plus expression in the canonical (frontal) frame. The iris points are left out: gaze
    is not expression. The pose gives the shift's x and y;
    its depth is recovered the way the fit defines it, from the rigid points only, so that an
    expression cannot move the whole face in depth.
    """
    points = np.asarray(landmarks.points, dtype=np.float64)[:MESH_POINTS, :3]
    rotation = np.asarray(pose.rotation, dtype=np.float64)
    if pose.scale <= 0:
        raise InputError("degenerate head pose (zero scale)")
    rigid = rigid_indices()
    model_centroid = canonical_face_mesh().astype(np.float64)[rigid].mean(axis=0)
    depth = points[rigid, 2].mean() - pose.scale * (rotation @ model_centroid)[2]
    shift = np.array([pose.center[0], pose.center[1], depth])
    # Row vectors: (R^T p)^T = p^T R.
    return (points - shift) @ rotation / pose.scale


def expression_distance(first: np.ndarray, second: np.ndarray) -> float:
    """AED substitute for one frame: mean landmark distance between two expression shapes."""
    if first.shape != second.shape:
        raise InputError(f"landmark sets differ: {first.shape} vs {second.shape}")
    return float(np.mean(np.linalg.norm(first - second, axis=1)))


# LPIPS (Zhang et al. 2018), AlexNet variant, the one talking-head papers report. Its weights
# cannot ship with us: the backbone is torchvision's ImageNet AlexNet and the linear heads come
# from the lpips package. Both are read from a local file given by the user, never downloaded.
LPIPS_WEIGHTS_HELP = (
    "LPIPS needs local weights: pass --lpips-weights with a state dict saved from "
    "lpips.LPIPS(net='alex'), or torchvision's AlexNet ImageNet weights "
    "(alexnet-owt-7be5be79.pth) with the lpips package installed for its linear layers"
)
# AlexNet ``features`` indices of the five convolutions, and the ReLU after which LPIPS taps.
_ALEX_CONVS = {0: (3, 64, 11, 4, 2), 3: (64, 192, 5, 1, 2), 6: (192, 384, 3, 1, 1),
               8: (384, 256, 3, 1, 1), 10: (256, 256, 3, 1, 1)}
_ALEX_TAPS = (1, 4, 7, 9, 11)
_LPIPS_SHIFT = (-0.030, -0.088, -0.188)
_LPIPS_SCALE = (0.458, 0.448, 0.450)


def _lpips_state(path: Path) -> dict[str, np.ndarray]:
    """Backbone and linear-head tensors keyed ``features.I.weight`` / ``linK``, from any format."""
    import importlib.util

    import torch

    if not path.is_file():
        raise WeightsError(f"LPIPS weights file not found: {path}. {LPIPS_WEIGHTS_HELP}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many types, with messages like "101" or pages of advice
        with open(path, "rb") as handle:
            magic = handle.read(4)
        kind = ("truncated or corrupted" if magic == b"PK\x03\x04"
                else "not a PyTorch weights file (a text or other file?)")
        raise WeightsError(f"cannot read LPIPS weights {path}: {kind}. "
                           f"{LPIPS_WEIGHTS_HELP}") from None
    if not isinstance(raw, dict):
        raise WeightsError(f"{path} is not a state dict. {LPIPS_WEIGHTS_HELP}")
    state: dict[str, np.ndarray] = {}
    for key, value in raw.items():
        if key.startswith("net.slice"):  # lpips.LPIPS keeps torchvision's indices in slices
            key = "features." + key.split(".", 2)[2]
        if key.startswith(("features.", "lin")) and hasattr(value, "numpy"):
            state[key] = value.float().numpy()
    if any(f"features.{index}.weight" not in state for index in _ALEX_CONVS):
        raise WeightsError(f"{path} holds no AlexNet backbone. {LPIPS_WEIGHTS_HELP}")
    if "lin0.model.1.weight" not in state:
        spec = importlib.util.find_spec("lpips")
        heads = (Path(next(iter(spec.submodule_search_locations))) / "weights" / "v0.1" /
                 "alex.pth") if spec and spec.submodule_search_locations else None
        if heads is None or not heads.is_file():
            raise WeightsError(f"{path} has the AlexNet backbone but not LPIPS's linear layers, "
                               "and the lpips package is not installed to provide them")
        lins = torch.load(heads, map_location="cpu", weights_only=True)
        state.update({key: value.float().numpy() for key, value in lins.items()})
    return state


class Lpips:
    """LPIPS distance (AlexNet, v0.1 heads) between RGB uint8 images; 0 for identical ones."""

    def __init__(self, state: dict[str, np.ndarray], device: str = "cpu") -> None:
        import torch

        self._device = device
        self._convs = {
            index: (torch.from_numpy(state[f"features.{index}.weight"]).to(device),
                    torch.from_numpy(state[f"features.{index}.bias"]).to(device), stride, pad)
            for index, (_, _, _, stride, pad) in _ALEX_CONVS.items()
        }
        self._heads = [torch.from_numpy(state[f"lin{k}.model.1.weight"]).to(device)
                       for k in range(len(_ALEX_TAPS))]
        self._shift = torch.tensor(_LPIPS_SHIFT, device=device).view(1, 3, 1, 1)
        self._scale = torch.tensor(_LPIPS_SCALE, device=device).view(1, 3, 1, 1)

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> Lpips:
        return cls(_lpips_state(Path(path)), device)

    def _features(self, x):
        from torch.nn import functional

        taps = []
        x = (x - self._shift) / self._scale
        for index, (weight, bias, stride, pad) in self._convs.items():
            if index in (3, 6):  # max-pooling precedes the second and third convolutions
                x = functional.max_pool2d(x, 3, 2)
            x = functional.relu(functional.conv2d(x, weight, bias, stride=stride, padding=pad))
            taps.append(x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10))
        return taps

    def distance(self, first: np.ndarray, second: np.ndarray) -> float:
        import torch
        from torch.nn import functional

        a, b = _check_pair(first, second)
        if a.ndim != 3 or a.shape[2] != 3:
            raise InputError(f"LPIPS compares RGB images, got shape {a.shape}")
        pair = torch.from_numpy(np.stack([a, b]).transpose(0, 3, 1, 2).astype(np.float32))
        pair = pair.to(self._device) / 127.5 - 1.0
        with torch.inference_mode():
            taps = self._features(pair)
            total = sum(
                functional.conv2d((tap[0:1] - tap[1:2]) ** 2, head).mean()
                for tap, head in zip(taps, self._heads, strict=True)
            )
        return float(total)
