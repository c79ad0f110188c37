"""A source's own open mouth, carried into the target's: its teeth with their jaws, and what lies
between them stretched with the opening.

The upper part of the opening (the upper teeth) rides on the skull, the lower part on the
mandible, each rigidly at the face's scale, so teeth keep their size while the lips slide over
them. Where the target opens further than the source, the two parts leave a gap between them
(and, when the upper lip rises, above the upper teeth). A source whose opening shows teeth
across its middle (teeth together, a clenched smile) has nothing there but the dark behind
them: the procedural cavity fills the gap. A source whose opening's middle is cavity and tongue
(a shout, a yawn) fills it with its own interior stretched onto the target's opening (the
least-squares affine between the middle strips of the two openings), so the gap shows the
source's own dark and tongue, not a black band cut straight across the mouth; the two carried
parts then keep only the side of the opening next to their lips, with soft edges. An upper lip
raised off its teeth takes the upper row with it (:meth:`OwnInterior.carried`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.pixel_stats import polygon_pixels

INNER_CONTOUR = (*L.UPPER_INNER_LIP, *reversed(L.LOWER_INNER_LIP[1:-1]))
OUTER_CONTOUR = (*L.UPPER_OUTER_LIP, *reversed(L.LOWER_OUTER_LIP[1:-1]))
_UPPER_ANCHOR = L.SUBNASALE  # the upper teeth ride on the skull
_LOWER_ANCHOR = L.CHIN  # the lower teeth on the mandible
_LUMA = np.array([0.299, 0.587, 0.114])
#: Share of the opening's middle strip (the second and third quarters between the lips) that
#: may look like teeth for a source's interior to count as open between its teeth: a shout or
#: a yawn shows none there (0-0.002 on the shared portraits), an open smile's side teeth
#: reach into it (0.08-0.09) and would be drawn out into tall stripes.
_MIDDLE_TEETH_SHARE = 0.03
_OPEN_HALF_SHARE = 0.35  # of the opening's height each half keeps when open between the teeth
_LOWER_FOLLOW = 0.5  # of a lower lip's drop towards the chin its teeth follow
_FEATHER_IOD = 0.03  # the carried parts' edges are softened over this much (IOD), when open


def _similarity(xy: np.ndarray) -> tuple[float, float]:
    """The eye line's length (IOD) and angle of a face."""
    eyes = xy[263, :2] - xy[33, :2]
    return float(np.linalg.norm(eyes)), float(np.arctan2(eyes[1], eyes[0]))


def teeth_like(pixels: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Which of ``pixels`` (N, 3) look like teeth: bright against the cheeks (``skin``, so it
    holds for any skin and light) and unsaturated."""
    luma = pixels @ _LUMA
    saturation = np.ptp(pixels, axis=1) / np.maximum(pixels.max(axis=1), 1.0)
    return (luma > 0.8 * float(skin @ _LUMA)) & (saturation < 0.35)


def open_between_teeth(image: np.ndarray, xy: np.ndarray, skin: np.ndarray) -> bool:
    """Whether the middle of the source's opening is cavity or tongue rather than teeth."""
    pixels = polygon_pixels(image, _middle_strip(xy))
    return len(pixels) >= 10 and float(teeth_like(pixels, skin).mean()) < _MIDDLE_TEETH_SHARE


def _middle_strip(xy: np.ndarray) -> np.ndarray:
    """The middle of the opening, a quarter of the way in from either lip, as a contour in
    :data:`INNER_CONTOUR`'s order (the corners stay the corners)."""
    upper, lower = xy[list(L.UPPER_INNER_LIP), :2], xy[list(L.LOWER_INNER_LIP), :2]
    top, bottom = upper + 0.25 * (lower - upper), upper + 0.75 * (lower - upper)
    return np.concatenate([top, bottom[-2:0:-1]]).astype(np.float64)


def _lip_gap(xy: np.ndarray, lip: tuple[int, ...], anchor: int) -> float:
    """How far (IOD, along the face's down axis) the middle of ``lip`` lies below its
    teeth's ``anchor`` (negative: above it)."""
    eyes = xy[263, :2] - xy[33, :2]
    iod = max(float(np.linalg.norm(eyes)), 1e-6)
    down = np.array([-eyes[1], eyes[0]]) / iod
    middle = len(lip) // 2
    point = xy[list(lip[middle - 1: middle + 2]), :2].mean(axis=0)
    return float((point - xy[anchor, :2]) @ down) / iod


def _upper_lip_gap(xy: np.ndarray) -> float:
    """How far the upper lip's middle lies below the upper teeth's anchor (IOD)."""
    return _lip_gap(xy, L.UPPER_INNER_LIP, _UPPER_ANCHOR)


def _lower_lip_rise(xy: np.ndarray) -> float:
    """How far the lower lip's middle lies above the lower teeth's anchor (IOD)."""
    return -_lip_gap(xy, L.LOWER_INNER_LIP, _LOWER_ANCHOR)


@dataclass(frozen=True)
class OwnInterior:
    """The source's own open mouth, split into the part above and below the middle of the
    opening, each carried with its jaw; ``stretch_between`` when what lies between them is
    the source's own interior stretched (see the module docstring)."""

    image: np.ndarray  # (h, w, 3) float32 crop around the mouth
    upper: np.ndarray  # (h, w) float32 0..1: inside the opening, above its middle
    lower: np.ndarray  # (h, w) float32 0..1: below it
    origin: tuple[int, int]  # the crop's top left in the source image
    anchors: np.ndarray  # (2, 2) source subnasale and chin
    iod_px: float
    angle: float
    contour: np.ndarray  # (n, 2) the middle strip of its opening, in crop pixels
    upper_lip_gap: float  # IOD from the upper anchor down to the upper lip's middle
    lower_lip_rise: float = 0.0  # IOD from the lower anchor up to the lower lip's middle
    middle: np.ndarray | None = None  # (h, w, 3) float32: the strip, filled out to the crop

    @property
    def stretch_between(self) -> bool:
        """Whether the gap between the carried parts shows the source's own middle."""
        return self.middle is not None

    @classmethod
    def from_source(cls, image: np.ndarray, xy: np.ndarray, skin: np.ndarray
                    ) -> OwnInterior | None:
        import cv2

        upper_lip, lower_lip = xy[list(L.UPPER_INNER_LIP), :2], xy[list(L.LOWER_INNER_LIP), :2]
        outer = xy[list(OUTER_CONTOUR), :2]
        height, width = image.shape[:2]
        x0, y0 = np.maximum(np.floor(outer.min(0)).astype(int) - 4, 0)
        x1, y1 = np.minimum(np.ceil(outer.max(0)).astype(int) + 5, (width, height))
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        iod_px, angle = _similarity(xy)
        stretch = open_between_teeth(image, xy, skin)
        halves = []
        # Teeth together: the halves meet in the middle. Open between them: each half keeps
        # the part of the opening next to its lip (where its teeth are) and the stretched
        # middle shows through between them, so the tongue's edge is not drawn twice.
        share = _OPEN_HALF_SHARE if stretch else 0.5
        cuts = (upper_lip + share * (lower_lip - upper_lip),
                lower_lip + share * (upper_lip - lower_lip))
        for polygon in (np.concatenate([upper_lip, cuts[0][::-1]]),
                        np.concatenate([cuts[1], lower_lip[::-1]])):
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.fillPoly(mask, [np.round((polygon - (x0, y0)) * 16).astype(np.int32)], (255,),
                         cv2.LINE_AA, 4)
            if stretch:
                # Cut edges fade into the stretched interior behind instead of ending in a
                # hard line across the mouth.
                halves.append(cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0),
                                               max(0.8, _FEATHER_IOD * iod_px)))
            else:
                halves.append(mask.astype(np.float32) / 255.0)
        crop = image[y0:y1, x0:x1]
        strip = _middle_strip(xy) - (x0, y0)
        middle = None
        if stretch:
            # Only the middle strip is drawn out: everything around it (teeth, lips) is filled
            # from the strip, so no affine stretch reaches past it into teeth or lips.
            outside = np.full(crop.shape[:2], 255, np.uint8)
            cv2.fillPoly(outside, [np.round(strip).astype(np.int32)], (0,))
            middle = cv2.inpaint(np.ascontiguousarray(crop), outside, 3,
                                 cv2.INPAINT_TELEA).astype(np.float32)
        return cls(image=crop.astype(np.float32), upper=halves[0],
                   lower=halves[1], origin=(int(x0), int(y0)),
                   anchors=xy[[_UPPER_ANCHOR, _LOWER_ANCHOR], :2].astype(np.float64),
                   iod_px=iod_px, angle=angle,
                   contour=strip, upper_lip_gap=_upper_lip_gap(xy),
                   lower_lip_rise=_lower_lip_rise(xy), middle=middle)

    def stretched(self, xy: np.ndarray, box_origin: tuple[int, int],
                  shape: tuple[int, int]) -> np.ndarray:
        """The interior mapped onto the target ``xy``'s opening by the least-squares affine
        between the middle strips of the two openings (box pixels as in :meth:`carried`):
        (h, w, 3) RGB."""
        import cv2

        target = _middle_strip(xy) - box_origin  # strip onto strip: at rest, the source
        design = np.concatenate([target, np.ones((len(target), 1))], 1)
        inverse, *_ = np.linalg.lstsq(design, self.contour, rcond=None)
        middle = self.image if self.middle is None else self.middle
        return cv2.warpAffine(middle, inverse.T.astype(np.float64), shape[::-1],
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)

    def carried(self, xy: np.ndarray, box_origin: tuple[int, int],
                shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The interior carried onto the target ``xy`` (box pixels offset by ``box_origin``
        from xy's frame): (h, w, 3) RGB and its (h, w) coverage."""
        import cv2

        iod_px, angle = _similarity(xy)
        scale = iod_px / max(self.iod_px, 1e-6)
        turn = angle - self.angle
        cos, sin = np.cos(turn) / scale, np.sin(turn) / scale
        back = np.array([[cos, sin], [-sin, cos]])  # target offsets to source offsets
        colour = np.zeros((*shape, 3), np.float32)
        coverage = np.zeros(shape, np.float32)
        anchors_target = np.array(xy[[_UPPER_ANCHOR, _LOWER_ANCHOR], :2], np.float64)
        # An upper lip drawn up away from its teeth (towards the nose, as a stretched or
        # widened mouth draws it) takes the upper row with it: the carried teeth stay tucked
        # under the lip instead of leaving a band of cavity between the two. (The lower row
        # stays on the chin: a dropping jaw shows the lower teeth over the lip.)
        down = np.array([-np.sin(angle), np.cos(angle)])
        raised = max(self.upper_lip_gap - _upper_lip_gap(xy), 0.0) * iod_px
        anchors_target[0] -= raised * down
        # Likewise a lower lip pulled down towards the chin (a funnelled "O", a lip
        # depressor) takes the lower row with it, half way: left on the chin, the teeth
        # float in the middle of the opening with the interior behind showing below them.
        # (A jaw drop moves lip and chin together, so its lower teeth stay where they were.)
        lowered = max(self.lower_lip_rise - _lower_lip_rise(xy), 0.0) * iod_px
        anchors_target[1] += _LOWER_FOLLOW * lowered * down
        # The lower half first: where both land, the upper teeth are in front.
        for half, anchor_source, anchor_target in ((self.lower, self.anchors[1],
                                                    anchors_target[1]),
                                                   (self.upper, self.anchors[0],
                                                    anchors_target[0])):
            offset = anchor_source - self.origin - back @ (anchor_target - box_origin)
            matrix = np.concatenate([back, offset[:, None]], axis=1)
            flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
            pixels = cv2.warpAffine(self.image, matrix, shape[::-1], flags=flags,
                                    borderMode=cv2.BORDER_REPLICATE)
            weight = cv2.warpAffine(half, matrix, shape[::-1], flags=flags,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=(0.0,))
            colour += (pixels - colour) * weight[..., None]
            coverage = np.maximum(coverage, weight)
        return colour, coverage
