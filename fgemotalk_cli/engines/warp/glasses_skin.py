"""The skin behind a glasses frame, for the skin layer the warp moves (:mod:`.glasses`).

Under the frame the photo shows no skin, so the skin layer fills the frame's band from its
surroundings. An inpainting that reads the band's edges takes their colours: on one side the
lens's bevel (pale grey, or the lens's tint) and on the other brow hair or skin, so the band
fills grey. At rest the frame covers it; under a brow raise the skin between the brows and the
top bar stretches to twice its height or more, and the band's grey became a grey block the
width of the lens above the frame (vexpress_vasa1_7's frame, AU 1+2).

So on the face the band takes the colour of the bare skin around the frame instead (outside
the frame and the lenses, not the eyes or brows), smoothly interpolated along it; the
inpainting keeps only the detail it adds. What a raise uncovers is then skin-coloured (it is
still a stretch of the thin strip between brows and frame). Beyond the face (the temple arms
over hair, ears and background) the inpainting stays as it is.
"""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp import layout as L

_RING_IOD = 0.15  # how far beyond the frame the bare skin is sampled
_SKIN_SIGMA_IOD = 0.08  # how smoothly its colour is carried into the band
_LENS_CLOSE_IOD = 0.08  # the frame mask closed this far before its holes (lenses) are read
_LENS_AREA_IOD2 = 0.04  # holes at least this large (IOD squared) are lenses


def skin_toned_band(inpainted: np.ndarray, image: np.ndarray, band: np.ndarray,
                    xy: np.ndarray) -> np.ndarray:
    """``inpainted`` (H, W, 3) uint8, the photo with the frame's ``band`` (uint8 (H, W)
    0/1) inpainted, with the band's colour on the face taken from the bare skin around it
    (a new array; the same where no bare skin is near)."""
    import cv2

    iod = float(np.linalg.norm(xy[263, :2] - xy[33, :2]))
    closed, lenses = _enclosed(band, iod)
    face = _face(xy, band.shape)
    bare = _bare_skin_around(closed | lenses, xy, iod, face)
    if bare.sum() < 0.01 * iod * iod:
        return inpainted
    sigma = max(1.0, _SKIN_SIGMA_IOD * iod)
    skin, reach = _weighted_blur(image.astype(np.float32), bare, sigma)
    filled = inpainted.astype(np.float32)
    detail = filled - cv2.GaussianBlur(filled, (0, 0), sigma)
    # How much the skin's colour replaces the inpainting's: where bare skin is near enough
    # to say, on the face only, in the band only.
    share = np.clip(reach / 0.05, 0.0, 1.0) * (band > 0) * face
    toned = filled + share[..., None] * (skin + detail - filled)
    return np.clip(toned + 0.5, 0, 255).astype(np.uint8)


def _enclosed(band: np.ndarray, iod: float) -> tuple[np.ndarray, np.ndarray]:
    """The frame's ``band`` (uint8 0/1) closed over small gaps, and the lenses it encloses
    (uint8 0/1, the closed band's holes of at least :data:`_LENS_AREA_IOD2`)."""
    import cv2

    size = max(3, int(round(_LENS_CLOSE_IOD * iod)) | 1)
    closed = cv2.morphologyEx(band, cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    contours, hierarchy = cv2.findContours(closed, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    lenses: np.ndarray = np.zeros_like(closed)
    if hierarchy is not None:
        for contour, (_, _, _, parent) in zip(contours, hierarchy[0]):
            if parent != -1 and cv2.contourArea(contour) >= _LENS_AREA_IOD2 * iod * iod:
                cv2.drawContours(lenses, [contour], -1, (1,), -1)
    return closed, lenses & (1 - closed)


def _bare_skin_around(covered: np.ndarray, xy: np.ndarray, iod: float,
                      face: np.ndarray) -> np.ndarray:
    """bool (H, W): the bare skin of ``face`` (bool (H, W)) within :data:`_RING_IOD` of
    ``covered`` (the frame and lenses, uint8 0/1): not the eye openings or brows."""
    import cv2

    around = cv2.distanceTransform(1 - covered, cv2.DIST_L2, 5)
    height, width = covered.shape
    not_skin = _eyes_and_brows(xy, iod, (height, width))
    return (around > 1.5) & (around < _RING_IOD * iod) & face & ~not_skin


def _weighted_blur(colour: np.ndarray, where: np.ndarray, sigma: float,
                   ) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    weight = where.astype(np.float32)
    reach = cv2.GaussianBlur(weight, (0, 0), sigma)
    total = cv2.GaussianBlur(colour * weight[..., None], (0, 0), sigma)
    return total / np.maximum(reach, 1e-6)[..., None], reach


def _face(xy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    import cv2

    face: np.ndarray = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(face, [np.round(xy[list(L.FACE_OVAL), :2]).astype(np.int32)], (1,))
    return face.astype(bool)


def _eyes_and_brows(xy: np.ndarray, iod: float, shape: tuple[int, int]) -> np.ndarray:
    """bool (H, W): the eye openings and brows, a little grown (not bare skin)."""
    import cv2

    mask: np.ndarray = np.zeros(shape, np.uint8)
    for contour in ((*L.RIGHT_EYE_CORNERS, *L.RIGHT_UPPER_LID, *L.RIGHT_LOWER_LID),
                    (*L.LEFT_EYE_CORNERS, *L.LEFT_UPPER_LID, *L.LEFT_LOWER_LID),
                    (*L.RIGHT_BROW_LOWER, *L.RIGHT_BROW_UPPER),
                    (*L.LEFT_BROW_LOWER, *L.LEFT_BROW_UPPER)):
        hull = cv2.convexHull(np.round(xy[list(contour), :2]).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, (1,))
    grow = max(3, int(round(0.08 * iod)) | 1)
    return cv2.dilate(mask, np.ones((grow, grow), np.uint8)).astype(bool)
