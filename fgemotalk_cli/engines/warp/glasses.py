"""Glasses as a rigid layer: they ride on the nose and the ears, not on the brows.

The warp moves every pixel with the skin under it, so a brow raise (AU1/AU2, surprise) bends
a frame that lies over the brows and a smile squeezes its lower rims. So glasses are found
once per source and split off:

- detection: a frame's bridge crosses the nose between the inner eye corners as a
  horizontal edge spanning the nose, where bare skin is smooth, and its rims run around
  each eye as thin lines; both are measured against the face's own skin texture (so a
  wrinkled or noisy photo does not read as glasses);
- the frame mask: the frame traced as the frame (:mod:`.glasses_frame`: each rim as the
  continuous ring of thin, sharp line around its eye, the bridge across the nose, the temple
  arms' start), drawn at the frame's own width, soft at its edges only; when the tracer is
  unsure there is no layer (the glasses then bend smoothly with the skin);
- the skin layer: the source with the frame inpainted away under the frame only (what the
  warp moves), in the bare skin's colour on the face (:mod:`.glasses_skin`);
- per frame, the frame is pasted back with the similarity that best carries the nose bridge
  and the temples (head pose and zoom, no expression), over the warped skin.

With the target equal to the source the layers add back up to the source exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.glasses_frame import EDGE_GROWTH, FramePaths, trace_frame
from fgemotalk_cli.engines.warp.glasses_skin import skin_toned_band

# Landmarks the frame rests on or is held level with, which no AU field moves: the top of
# the nose bridge and the sides of the head.
_RIGID = (168, 6, 127, 356, 234, 454)
_BRIDGE_SCORE = 4.5  # bridge edge strength over the skin's own, above which there are glasses
_RIM_SCORE = 1.5


@dataclass(frozen=True)
class GlassesLayer:
    """The frame split off a source: its pixels, coverage and the skin layer under it."""

    frame: np.ndarray  # (h, w, 3) uint8: the source's pixels in the box
    alpha: np.ndarray  # (h, w) float32 0..1: the frame's coverage in the box
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the source image
    skin_image: np.ndarray  # (H, W, 3) uint8: the whole source with the frame inpainted
    anchors: np.ndarray  # (len(_RIGID), 2) the source's rigid points

    def paint(self, output: np.ndarray, target_points: np.ndarray) -> None:
        """Paste the frame, carried rigidly onto ``target_points``' head pose, into
        ``output`` (in place)."""
        import cv2

        target = np.asarray(target_points, np.float64)[list(_RIGID), :2]
        matrix = similarity(self.anchors, target)  # source -> target
        x0, y0, x1, y1 = self.box
        if np.allclose(matrix, [[1, 0, 0], [0, 1, 0]], atol=1e-6):  # the source's own pose
            region = output[y0:y1, x0:x1].astype(np.float32)
            alpha = self.alpha[..., None]
            output[y0:y1, x0:x1] = np.clip(region + alpha * (self.frame - region) + 0.5, 0,
                                           255).astype(np.uint8)
            return
        # Where the box lands in the output, with a margin for the rotation.
        corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64)
        landed = corners @ matrix[:, :2].T + matrix[:, 2]
        height, width = output.shape[:2]
        ox0, oy0 = np.maximum(np.floor(landed.min(0)).astype(int) - 1, 0)
        ox1, oy1 = np.minimum(np.ceil(landed.max(0)).astype(int) + 2, (width, height))
        if ox1 - ox0 < 2 or oy1 - oy0 < 2:
            return
        # Box pixels -> output box pixels.
        shifted = matrix.copy()
        shifted[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float64) - (ox0, oy0)
        size = (int(ox1 - ox0), int(oy1 - oy0))
        frame = cv2.warpAffine(self.frame, shifted, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        alpha = cv2.warpAffine(self.alpha, shifted, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(0.0,))[..., None]
        region = output[oy0:oy1, ox0:ox1].astype(np.float32)
        output[oy0:oy1, ox0:ox1] = np.clip(region + alpha * (frame - region) + 0.5, 0,
                                           255).astype(np.uint8)


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(2, 3) least-squares similarity (rotation, uniform scale, shift) taking the
    ``source`` points (N, 2) onto ``target``."""
    source_mean, target_mean = source.mean(0), target.mean(0)
    s, t = source - source_mean, target - target_mean
    denominator = max(float((s * s).sum()), 1e-9)
    a = float((s * t).sum()) / denominator
    b = float((s[:, 0] * t[:, 1] - s[:, 1] * t[:, 0]).sum()) / denominator
    linear = np.array([[a, -b], [b, a]])
    return np.concatenate([linear, (target_mean - linear @ source_mean)[:, None]], axis=1)


def _gray(image: np.ndarray) -> np.ndarray:
    return (image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))


def glasses_scores(image: np.ndarray, xy: np.ndarray) -> tuple[float, float]:
    """(bridge, rims): how strongly a frame's bridge and lower rims show, each over the
    skin's own gradient level (about 1 on bare skin)."""
    import cv2

    iod = float(np.linalg.norm(xy[263, :2] - xy[33, :2]))
    gray = cv2.GaussianBlur(_gray(image), (0, 0), max(0.5, 0.008 * iod))
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    height, width = gray.shape

    def sample(points: np.ndarray, field: np.ndarray) -> np.ndarray:
        px = np.clip(points[..., 0], 0, width - 1).astype(np.float32)
        py = np.clip(points[..., 1], 0, height - 1).astype(np.float32)
        return cv2.remap(field, px, py, cv2.INTER_LINEAR)

    # The skin's own level: gradient along the cheeks, below the eyes' reach.
    cheek = np.concatenate([xy[[50, 205, 187, 123], :2], xy[[280, 425, 411, 352], :2]])
    skin = float(np.median(np.abs(sample(cheek[None], gy)))) + 0.5
    skin = max(skin, float(np.median(np.hypot(sample(cheek[None], gx),
                                              sample(cheek[None], gy)))) + 0.5)
    # Bridge: rows across the nose between the inner corners, from a third of an IOD above
    # the corners down to just below; the best row's median |gy| across the nose.
    inner_right, inner_left = xy[133, :2], xy[362, :2]
    along = inner_left - inner_right
    up = np.array([along[1], -along[0]]) / max(float(np.linalg.norm(along)), 1e-6)
    if up[1] > 0:
        up = -up
    columns = inner_right + np.linspace(0.3, 0.7, 9)[:, None] * along
    offsets = np.linspace(-0.08, 0.4, 25) * iod
    rows = columns[None] + offsets[:, None, None] * up
    normal_gradient = np.abs(sample(rows, gy) * up[1] + sample(rows, gx) * up[0])
    bridge = float(np.median(normal_gradient, axis=1).max()) / skin
    # Rims: arcs below each eye, 0.2 to 0.5 IOD under its centre; the best arc's median
    # gradient across it.
    rim_scores = []
    for corners in (L.RIGHT_EYE_CORNERS, L.LEFT_EYE_CORNERS):
        centre = xy[list(corners), :2].mean(0)
        angles = np.linspace(np.pi * 0.25, np.pi * 0.75, 11)
        best = 0.0
        for radius in np.linspace(0.2, 0.5, 13) * iod:
            points = centre + radius * np.stack([1.4 * np.cos(angles), np.sin(angles)], 1)
            normal = np.stack([np.cos(angles) / 1.4, np.sin(angles)], 1)
            normal /= np.linalg.norm(normal, axis=1, keepdims=True)
            across = np.abs(sample(points[None], gx)[0] * normal[:, 0]
                            + sample(points[None], gy)[0] * normal[:, 1])
            best = max(best, float(np.median(across)))
        rim_scores.append(best / skin)
    return bridge, float(min(rim_scores))


def wears_glasses(image: np.ndarray, xy: np.ndarray) -> bool:
    """Whether the face at ``xy`` in ``image`` wears glasses (a bridge and both rims)."""
    bridge, rims = glasses_scores(image, xy)
    return bridge >= _BRIDGE_SCORE and rims >= _RIM_SCORE


def detect_glasses(image: np.ndarray, xy: np.ndarray) -> GlassesLayer | None:
    """The glasses layer of a source portrait, or None when it wears none."""
    return split_glasses(image, xy) if wears_glasses(image, xy) else None


def band_coverage(paths: FramePaths, shape: tuple[int, int],
                  supersample: int = 4) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The bands' coverage (h, w) float32 0..1 over their box (x0, y0, x1, y1) in an image
    of ``shape``: drawn ``supersample`` times finer and averaged down, so the alpha is soft
    at the frame's edges only."""
    import cv2

    height, width = shape
    corners = np.concatenate(paths.bands)
    x0 = max(int(np.floor(corners[:, 0].min())) - 2, 0)
    y0 = max(int(np.floor(corners[:, 1].min())) - 2, 0)
    x1 = min(int(np.ceil(corners[:, 0].max())) + 3, width)
    y1 = min(int(np.ceil(corners[:, 1].max())) + 3, height)
    fine = np.zeros(((y1 - y0) * supersample, (x1 - x0) * supersample), np.uint8)
    quads = [np.round((quad - (x0, y0) + 0.5) * supersample - 0.5).astype(np.int32)
             for quad in paths.bands]
    for quad in quads:  # one by one: overlapping quads fill as their union
        cv2.fillConvexPoly(fine, quad, (255,))
    coverage = cv2.resize(fine, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA
                          ).astype(np.float32) / 255.0
    # The frame's own dark (or bright) edge pixels just outside the band, where the band's
    # smoothed edge fell short: grown into, a pixel at a time, for two pixels. Left in the
    # skin layer they would move with the skin as a second, broken outline of the frame.
    line = paths.thin[y0:y1, x0:x1] >= EDGE_GROWTH
    touched = (coverage > 0.05).astype(np.uint8)
    for _ in range(2):
        grown = cv2.dilate(touched, np.ones((3, 3), np.uint8)).astype(bool) & line
        coverage[grown & (touched == 0)] = 1.0
        touched |= grown.astype(np.uint8)
    return coverage, (x0, y0, x1, y1)


def split_glasses(image: np.ndarray, xy: np.ndarray) -> GlassesLayer | None:
    """The frame traced on ``image`` (:func:`.glasses_frame.trace_frame`) split off it, or
    None when the frame is not found with confidence."""
    import cv2

    paths = trace_frame(_gray(image), xy)
    if paths is None:
        return None
    height, width = image.shape[:2]
    coverage, (x0, y0, x1, y1) = band_coverage(paths, (height, width))
    # The pixels the band touches (it reaches half a pixel past the frame's half-peak
    # edge): inpainted in the skin layer, fully opaque in the frame layer; feathered just
    # outside, where the skin layer still is the source (a still target gives it back).
    touched = (coverage > 0.05).astype(np.uint8)
    iod = float(np.linalg.norm(xy[263, :2] - xy[33, :2]))
    mask = np.zeros((height, width), np.uint8)
    mask[y0:y1, x0:x1] = touched
    if mask.sum() < 0.02 * iod * iod:
        return None
    skin = cv2.inpaint(np.ascontiguousarray(image), mask * 255, max(3.0, 0.02 * iod),
                       cv2.INPAINT_TELEA)
    skin = skin_toned_band(skin, image, mask, xy)
    soft = cv2.GaussianBlur(touched.astype(np.float32), (0, 0), 0.7)
    alpha = np.maximum(touched.astype(np.float32), soft)
    return GlassesLayer(frame=np.ascontiguousarray(image[y0:y1, x0:x1]), alpha=alpha,
                        box=(x0, y0, x1, y1), skin_image=skin,
                        anchors=xy[list(_RIGID), :2].astype(np.float64))
