"""Person segmentation: which pixels of a photo are the person (head, hair, body), not the
background. MediaPipe's selfie segmentation model ships inside the mediapipe wheel
(``mediapipe/modules/selfie_segmentation``); it sees the image at 256 px, so the mask is soft
at hair and shoulders, which suits the feathered layer compositing it feeds.
"""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.faces.crop import check_rgb
from fgemotalk_cli.faces.mediapipe_import import import_mediapipe

# The model looks at 256x256 (general) or 144x256 (landscape); more pixels only cost time.
_ANALYSIS_SIDE = 512


def person_mask(image_rgb: np.ndarray) -> np.ndarray:
    """(H, W) float32 in 0..1: how much each pixel belongs to a person."""
    import cv2

    import_mediapipe()
    from mediapipe.python.solutions import selfie_segmentation

    image = check_rgb(image_rgb)
    height, width = image.shape[:2]
    scale = min(1.0, _ANALYSIS_SIDE / max(height, width))
    small = image if scale == 1.0 else cv2.resize(
        image, (max(1, round(width * scale)), max(1, round(height * scale))),
        interpolation=cv2.INTER_AREA)
    # Model 0 (general, square input) suits portraits of any aspect better than the
    # landscape model, which squeezes a tall portrait's head.
    with selfie_segmentation.SelfieSegmentation(
            model_selection=0) as model:
        result = model.process(np.ascontiguousarray(small))
    mask = result.segmentation_mask
    if mask is None:
        return np.zeros((height, width), np.float32)
    mask = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
    if mask.shape != (height, width):
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
    return mask
