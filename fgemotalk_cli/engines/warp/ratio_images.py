"""Expression ratio images: the driver's own expression detail carried onto the source's skin.

After Liu, Shan & Zhang, "Expressive Expression Mapping with Ratio Images" (SIGGRAPH 2001):
under the same light, the change of shading an expression makes on a surface (wrinkles,
folds, the bulge of a raised cheek) is nearly independent of the surface's own colour, so the
ratio of an expression image to the neutral image of the same face, both aligned to one
geometry, can multiply another face's image in that geometry. A warp alone moves the source's
pixels but cannot make the creases the driver shows; the ratio image brings them.

Per frame: the driver frame and the driver's neutral reference frame are both warped onto
the *target* geometry (piecewise-affine over the face mesh, on a coarse grid of about 40
samples per inter-ocular distance: creases are wider than that), their luma divided, the
ratio smoothed (sensor noise), divided by its own large-scale blur (a head turn's or the
light's slow change of shading is not expression detail; the AU shading layer handles folds
the source needs without a driver), clamped to ``1 ± MAX_CHANGE`` and faded out at the edges
of the face mesh, which leaves out the eyes and the mouth opening. It multiplies the output's
face region at full resolution. [paper: Liu et al. 2001; band-pass and clamp: ours]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp.raster import sample_affine_map, topmost_triangles
from fgemotalk_cli.faces.mesh_model import LOWER_LIP_OUTER, UPPER_LIP_OUTER, mesh_triangles

SAMPLES_PER_IOD = 40.0
MAX_CHANGE = 0.2  # the ratio is clamped to 1 +- this
_NOISE_SIGMA_SAMPLES = 0.8
_LIGHT_SIGMA_IOD = 0.12  # shading changes broader than this are not expression detail
_EPSILON = 10.0  # luma added to both images so dark pixels do not turn noise into ratios
_FADE_IOD = 0.06  # the ratio fades in over this distance from the mesh's edges and holes
_MIN_AREA = 1e-6
_TEXTURE_SIGMA_SAMPLES = 1.5
_TEXTURE_CONTRAST = 0.06  # local luma spread (over the mean) at which the ratio is half trusted
_OUTER_LIPS = (*UPPER_LIP_OUTER, *reversed(LOWER_LIP_OUTER[1:-1]))


def _luma(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _affines(target: np.ndarray, driver: np.ndarray) -> np.ndarray:
    """(T, 6) row-major 2x3 maps taking each target triangle (T, 3, 2) onto the driver's
    (closed form: a batched solver costs ten times the whole layer); degenerate target
    triangles get the driver triangle's translation only."""
    e1, e2 = target[:, 1] - target[:, 0], target[:, 2] - target[:, 0]
    f1, f2 = driver[:, 1] - driver[:, 0], driver[:, 2] - driver[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    inverse_det = np.where(np.abs(det) > _MIN_AREA, 1.0 / np.where(det == 0, 1.0, det), 0.0)
    # [f1 f2] @ inv([e1 e2]) with inv([e1 e2]) = [[e2y, -e2x], [-e1y, e1x]] / det.
    a = (f1[:, 0] * e2[:, 1] - f2[:, 0] * e1[:, 1]) * inverse_det
    b = (f2[:, 0] * e1[:, 0] - f1[:, 0] * e2[:, 0]) * inverse_det
    c = (f1[:, 1] * e2[:, 1] - f2[:, 1] * e1[:, 1]) * inverse_det
    d = (f2[:, 1] * e1[:, 0] - f1[:, 1] * e2[:, 0]) * inverse_det
    tx = driver[:, 0, 0] - a * target[:, 0, 0] - b * target[:, 0, 1]
    ty = driver[:, 0, 1] - c * target[:, 0, 0] - d * target[:, 0, 1]
    return np.stack([a, b, tx, c, d, ty], axis=1)


@dataclass(frozen=True)
class DriverReference:
    """The driver's neutral reference frame: its luma and landmarks (pixels)."""

    luma: np.ndarray
    points: np.ndarray

    @classmethod
    def from_frame(cls, image: np.ndarray, points: np.ndarray) -> DriverReference:
        return cls(luma=_luma(image), points=np.asarray(points, np.float64)[:, :2])


def expression_ratio(reference: DriverReference, driver_image: np.ndarray,
                     driver_points: np.ndarray, target: np.ndarray
                     ) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """The clamped, faded ratio image over the target face's box (at grid resolution) and the
    box (x0, y0, x1, y1) in the target's pixels; None for a degenerate face."""
    import cv2

    triangles = mesh_triangles(fill_holes=False)
    target_xy = np.asarray(target, np.float64)[:, :2]
    iod_px = float(np.linalg.norm(target_xy[263] - target_xy[33]))
    used = target_xy[np.unique(triangles)]
    x0, y0 = np.floor(used.min(axis=0)).astype(int)
    x1, y1 = np.ceil(used.max(axis=0)).astype(int) + 1
    step = iod_px / SAMPLES_PER_IOD
    shape = (int(np.ceil((y1 - y0) / step)) + 1, int(np.ceil((x1 - x0) / step)) + 1)
    if iod_px < 8 or min(shape) < 4:
        return None
    corners = (target_xy[triangles] - (x0, y0)) / step  # grid units
    # One rasterisation of the target triangles serves both driver frames' maps.
    ids = topmost_triangles(corners, np.arange(len(triangles)), shape)
    covered = ids != len(triangles)
    images = []
    for luma, points in ((reference.luma, reference.points),
                         (_luma(driver_image), np.asarray(driver_points, np.float64)[:, :2])):
        affines = _affines(corners * step + (x0, y0), points[triangles]).astype(np.float32)
        coordinates = sample_affine_map(ids, affines, float(x0), float(y0), step)
        images.append(cv2.remap(  # type: ignore[call-overload]  # the stubs lack map2=None
            luma, coordinates, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    noise = (0, 0)
    driven = cv2.GaussianBlur(images[1], noise, _NOISE_SIGMA_SAMPLES)
    neutral = cv2.GaussianBlur(images[0], noise, _NOISE_SIGMA_SAMPLES)
    ratio = (driven + _EPSILON) / (neutral + _EPSILON)
    weight = covered.astype(np.float32)
    # The large-scale part, averaged over the face only (outside it the ratio means nothing).
    light_sigma = _LIGHT_SIGMA_IOD * SAMPLES_PER_IOD
    broad = (cv2.GaussianBlur(ratio * weight, noise, light_sigma)
             / np.maximum(cv2.GaussianBlur(weight, noise, light_sigma), 1e-3))
    detail = np.clip(ratio / np.maximum(broad, 1e-3), 1 - MAX_CHANGE, 1 + MAX_CHANGE)
    # Where the driver's neutral skin is textured (beard, stubble, freckles, hair), the two
    # warps never align it exactly and the ratio is texture, not expression: trust the ratio
    # only on smooth skin, which is where creases show.
    mean = cv2.GaussianBlur(images[0], noise, _TEXTURE_SIGMA_SAMPLES)
    spread = np.sqrt(np.maximum(cv2.GaussianBlur(images[0] ** 2, noise, _TEXTURE_SIGMA_SAMPLES)
                                - mean**2, 0.0))
    smooth = 1.0 / (1.0 + (spread / (_TEXTURE_CONTRAST * (mean + _EPSILON))) ** 2)
    detail = 1.0 + (detail - 1.0) * smooth
    fade_samples = max(1, int(round(_FADE_IOD * SAMPLES_PER_IOD)))
    # The lips change colour and shape far more than skin does (and a driver's lips are not
    # the source's): no ratio there.
    lips = np.round((target_xy[list(_OUTER_LIPS)] - (x0, y0)) / step).astype(np.int32)
    skin = covered.astype(np.uint8)
    cv2.fillPoly(skin, [lips], (0,))
    inside = cv2.erode(skin, np.ones((3, 3), np.uint8), iterations=fade_samples)
    fade = cv2.GaussianBlur(inside.astype(np.float32), noise, fade_samples / 2)
    return 1.0 + (detail - 1.0) * fade, (int(x0), int(y0), int(x0 + (shape[1] - 1) * step),
                                          int(y0 + (shape[0] - 1) * step))


def apply_ratio(frame: np.ndarray, ratio: np.ndarray, box: tuple[int, int, int, int],
                scale: float = 1.0) -> None:
    """Multiply ``frame`` (full resolution, in place) by the ratio over ``box`` (working
    pixels; ``scale`` full pixels per working pixel)."""
    import cv2

    x0, y0, x1, y1 = (int(round(v * scale)) for v in box)
    height, width = frame.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if cx1 - cx0 < 2 or cy1 - cy0 < 2:
        return
    full = cv2.resize(ratio, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    full = full[cy0 - y0: cy1 - y0, cx0 - x0: cx1 - x0]
    region = frame[cy0:cy1, cx0:cx1].astype(np.float32)
    frame[cy0:cy1, cx0:cx1] = np.clip(region * full[..., None] + 0.5, 0, 255).astype(np.uint8)
