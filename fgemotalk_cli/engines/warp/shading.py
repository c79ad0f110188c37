"""Expression shading: the wrinkles and folds FACS reads an AU by, drawn where the mesh puts them.

Geometry alone reads weakly: a raised brow without forehead lines looks pasted on. Per
frame we measure, from the target landmarks themselves, how far each AU's handles have moved
(so the same shading follows an ``--au`` edit, a speech mouth or a driver's expression), as a
share of what intensity 5 moves them on this face (read once from the face's own AU fields,
so it holds whatever the fields' gains). Each active family of creases is then drawn as a
shallow valley, a soft dark line with a highlight on the wall that faces the source's light
(estimated once from the face's own shading), multiplied into the warped skin so it keeps
the skin's colour and texture:

- AU1/AU2: horizontal forehead lines, centred for AU1, lateral for AU2, and the lid fold
  under the raised brow unfolding (both in :mod:`.brow_shading`);
- AU4: the vertical furrows between the brows (:mod:`.brow_shading`);
- AU6: crow's feet fanning from the outer eye corners and the crease under the raised cheek;
- AU9: lines across the bridge of the nose;
- AU12: deeper nasolabial folds from the nose wings past the mouth corners;
- AU15: the short folds the depressor anguli oris pouches below the lowered lip corners
  (FACS: "wrinkling of the skin below the lip corners"), measured against the lips' centre so
  that a dropping jaw, which lowers the corners too, draws none;
- AU17: the chin boss the mentalis pushes up, a bulge whose lower rim shades (measured as the
  boss rising from the chin's lower edge, which a jaw opening or closing does not change);
- AU20: the folds the risorius bunches beside the corners it draws out, measured as the
  corners' outward motion less any lift or drop of them, so a smile (AU 12) or a frown
  (AU 15), which move the corners out too, draws none.

The creases' strength grows with the measured amount; nothing is drawn at rest, so an empty
edit is the source exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.au_geometry import AUGeometry
from fgemotalk_cli.engines.warp.brow_shading import forehead_lines, glabellar_furrows, unfold_lid
from fgemotalk_cli.engines.warp.brow_shading import resample as _resample
from fgemotalk_cli.engines.warp.mouth_creases import stretch_and_chin_creases

# Per family: the AU whose intensity 5 defines "full", its handle landmarks and the face-frame
# direction their motion is measured along (x towards the subject's left, y down).
_HANDLES = {
    "forehead_inner": (1, (107, 66, 336, 296), (0.0, -1.0)),
    "forehead_outer": (2, (70, 63, 300, 293), (0.0, -1.0)),
    "furrow": (4, (107, 55, 336, 285), (0.0, 1.0)),
    "crows_feet": (6, (230, 229, 450, 449, 119, 348), (0.0, -1.0)),
    "nose": (9, (129, 358, 98, 327), (0.0, -1.0)),
    "nasolabial": (12, (61, 291), (1.0, -1.0)),  # x: outwards on each side
    "corner_folds": (15, (61, 291), (0.0, 1.0)),
    "stretch_folds": (20, (61, 291), (1.0, 0.0)),
    "chin_boss": (17, (199, 152), (0.0, 0.0)),  # a span, see _SPANS
}
#: Families whose handles move against these points (their mean), not against the face.
_RELATIVE_TO = {"corner_folds": (13, 14), "stretch_folds": (13, 14)}
#: Families whose measured motion is less what their handles move along this direction, either
#: way: the lips stretched sideways without a lift (AU 12) or a drop (AU 15) of the corners.
_LESS_ANY = {"stretch_folds": (0.0, 1.0)}
#: Families measured by how much the (3-D) distance between their two handles grows: the
#: mentalis pushes the chin boss up away from the chin's lower edge (AU 17), while a jaw
#: opening or closing turns both about the hinge and keeps their distance.
_SPANS = {"chin_boss"}
# Below this share of intensity 5 nothing is drawn (the pose fit of an expressive face moves
# other AUs' handles by up to about a fifth), and the creases fade in up to the full amount.
_MIN_AMOUNT = 0.2
# A trace of a lip stretch (AU 20 at 1-2) bunches no skin beside the corners; the folds come
# in with a marked pull (about 0.4 of intensity 5's, AU 20 at 3 on the general table).
_FOLDS_FROM = {"stretch_folds": 0.4}
_DARKNESS = 0.3  # how much a crease at full amount darkens its valley
_HIGHLIGHT = 0.1  # and brightens the wall facing the light
_BROW = (70, 63, 105, 66, 107, None, 336, 296, 334, 293, 300)  # None: between the inner ends
_FOREHEAD_TOP = (54, 103, 67, 109, (109, 10), 10, (10, 338), 338, 297, 332, 284)


@dataclass(frozen=True)
class ShadingStyle:
    """What the shading needs of a source: the full-strength motions and the light."""

    full: dict[str, float]  # family -> handle motion (IOD) at intensity 5 on this face
    face: np.ndarray  # (478, 3) the source face in its own frame
    depth: np.ndarray  # (478,) the source landmarks' depth, for targets given without one
    toward_light: np.ndarray  # (2,) unit image vector from the skin towards the light

    @classmethod
    def from_source(cls, image: np.ndarray, geometry: AUGeometry,
                    points: np.ndarray) -> ShadingStyle:
        """``points``: the source's (478, 3) landmarks in pixels."""
        full = {}
        for family, (au, _, _) in _HANDLES.items():
            offsets = geometry.offsets({au: 5.0})
            moved = _family_motion(family, offsets, geometry.face)
            if moved > 1e-3:
                full[family] = moved
        return cls(full=full, face=geometry.face, depth=np.asarray(points[:, 2], np.float64),
                   toward_light=_light(image, points[:, :2]))


def _motion(offsets: np.ndarray, face: np.ndarray, handles: tuple[int, ...],
            direction: tuple[float, float], relative_to: tuple[int, ...] = ()) -> float:
    """Mean motion of the handles along ``direction`` (less the mean motion of
    ``relative_to``); an x direction of 1 means outwards (away from the face's midline) on
    either side."""
    index = list(handles)
    moved = offsets[index, :2] - (offsets[list(relative_to), :2].mean(0) if relative_to else 0)
    outwards = np.sign(face[index, 0])
    return float(np.mean(direction[0] * moved[:, 0] * outwards + direction[1] * moved[:, 1]))


def _family_motion(family: str, offsets: np.ndarray, face: np.ndarray) -> float:
    """How far ``family``'s handles have moved (face units) for these mesh ``offsets``."""
    _, handles, direction = _HANDLES[family]
    if family in _SPANS:
        first, second = handles
        moved_face = face[[first, second]] + offsets[[first, second]]
        return float(np.linalg.norm(moved_face[0] - moved_face[1])
                     - np.linalg.norm(face[first] - face[second]))
    relative_to = _RELATIVE_TO.get(family, ())
    moved = _motion(offsets, face, handles, direction, relative_to)
    if family in _LESS_ANY:
        moved -= abs(_motion(offsets, face, handles, _LESS_ANY[family], relative_to))
    return moved


def _light(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Towards the light, from the face's own shading: which cheek and which of forehead and
    chin are brighter; from above when the face is evenly lit."""
    luma = image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    iod = float(np.linalg.norm(xy[263, :2] - xy[33, :2]))
    radius = max(2, int(0.08 * iod))
    height, width = luma.shape

    def mean_at(indices: tuple[int, ...]) -> float:
        values = []
        for index in indices:
            x, y = np.round(xy[index, :2]).astype(int)
            patch = luma[max(y - radius, 0): min(y + radius + 1, height),
                         max(x - radius, 0): min(x + radius + 1, width)]
            if patch.size:
                values.append(float(patch.mean()))
        return float(np.mean(values)) if values else 0.0

    image_left, image_right = mean_at((50, 205, 117)), mean_at((280, 425, 346))
    if xy[50, 0] > xy[280, 0]:  # the subject's right cheek is on the image's right
        image_left, image_right = image_right, image_left
    top, bottom = mean_at((151, 108, 337)), mean_at((199, 175))
    level = max(float(np.mean([image_left, image_right, top, bottom])), 1.0)
    vector = np.array([(image_right - image_left) / level, (bottom - top) / level - 0.3])
    return vector / max(float(np.linalg.norm(vector)), 1e-6)


def _point(xy: np.ndarray, spec: int | tuple[int, int] | None, fallback: np.ndarray) -> np.ndarray:
    if spec is None:
        return fallback
    if isinstance(spec, tuple):
        return 0.5 * (xy[spec[0]] + xy[spec[1]])
    return xy[spec]


def _creases(xy: np.ndarray, amounts: dict[str, float], iod: float
             ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(polyline (N, 2), strength per point (N,), width in IOD) for every active crease."""
    creases = []
    inner_right, inner_left = xy[107], xy[336]
    centre_brow = 0.5 * (inner_right + inner_left)
    brow = np.array([_point(xy, spec, centre_brow) for spec in _BROW])
    top = np.array([_point(xy, spec, centre_brow) for spec in _FOREHEAD_TOP])
    inner, outer = amounts.get("forehead_inner", 0.0), amounts.get("forehead_outer", 0.0)
    if max(inner, outer) > 0:
        creases.extend(forehead_lines(brow, top, xy, inner, outer, iod))
    furrow = amounts.get("furrow", 0.0)
    if furrow > 0:
        creases.extend(glabellar_furrows(xy, furrow, iod))
    crows = amounts.get("crows_feet", 0.0)
    if crows > 0:
        for corner, centre_points, lower_lid in ((33, L.RIGHT_EYE_CORNERS, L.RIGHT_LOWER_LID),
                                                 (263, L.LEFT_EYE_CORNERS, L.LEFT_LOWER_LID)):
            centre = xy[list(centre_points)].mean(0)
            outwards = xy[corner] - centre
            outwards /= max(float(np.linalg.norm(outwards)), 1e-6)
            for angle in (-0.45, -0.1, 0.3):
                cos, sin = np.cos(angle), np.sin(angle)
                direction = np.array([cos * outwards[0] - sin * outwards[1],
                                      sin * outwards[0] + cos * outwards[1]])
                start = xy[corner] + 0.07 * iod * outwards
                line = _resample(np.array([start, start + 0.17 * iod * direction]), 8)
                strength = 1.9 * crows * np.sin(np.pi * np.linspace(0.1, 0.9, len(line)))
                creases.append((line, strength, 0.012))
            lid = xy[list(lower_lid)]
            under = _resample(lid[1:-1] + np.array([0.0, 0.13 * iod]), 12)
            strength = 1.3 * crows * np.sin(np.pi * np.linspace(0.05, 0.95, len(under)))
            creases.append((under, strength, 0.016))
    nose = amounts.get("nose", 0.0)
    if nose > 0:
        axis = xy[197] - xy[168]
        across = np.array([axis[1], -axis[0]]) / max(float(np.linalg.norm(axis)), 1e-6)
        for t in (0.15, 0.45, 0.75):
            centre = xy[168] + t * axis
            bow = 0.02 * iod * axis / max(float(np.linalg.norm(axis)), 1e-6)
            line = _resample(np.array([centre - 0.12 * iod * across, centre + bow,
                                       centre + 0.12 * iod * across]), 10)
            strength = nose * np.sin(np.pi * np.linspace(0.05, 0.95, len(line)))
            creases.append((line, strength, 0.009))
    fold = amounts.get("nasolabial", 0.0)
    if fold > 0:
        for wing, corner in ((129, 61), (358, 291)):
            side = np.array([np.sign(xy[corner, 0] - 0.5 * (xy[61, 0] + xy[291, 0])), 0.0])
            start = xy[wing] + 0.03 * iod * side
            end = xy[corner] + 0.1 * iod * side + 0.1 * iod * np.array([0.0, 1.0])
            middle = 0.5 * (start + end) + 0.07 * iod * side
            along = np.linspace(0.0, 1.0, 16)[:, None]
            curve = (1 - along) ** 2 * start + 2 * (1 - along) * along * middle + along**2 * end
            strength = (fold * (1 - along[:, 0]) ** 0.7
                        * np.sin(np.pi * np.clip(along[:, 0] + 0.1, 0, 1)))
            creases.append((curve, strength, 0.02))
    folds = amounts.get("corner_folds", 0.0)
    if folds > 0:
        for corner in (61, 291):
            side = np.array([np.sign(xy[corner, 0] - 0.5 * (xy[61, 0] + xy[291, 0])), 0.0])
            start = xy[corner] + 0.03 * iod * side + 0.03 * iod * np.array([0.0, 1.0])
            end = start + 0.05 * iod * side + 0.17 * iod * np.array([0.0, 1.0])
            line = _resample(np.array([start, end]), 10)
            strength = folds * np.sin(np.pi * np.linspace(0.1, 0.9, len(line))) ** 0.7
            # A soft, wide shadow where the skin pouches, as on the real sad mouths of d18
            # (no line there): drawn as a hairline (0.018 IOD) it read as a painted stroke.
            creases.append((line, 0.65 * strength, 0.034))
    return creases + stretch_and_chin_creases(xy, amounts, iod)


def shade_expression(roi: np.ndarray, roi_origin: tuple[int, int], style: ShadingStyle,
                     target_points: np.ndarray) -> None:
    """Multiply the active AUs' wrinkles and folds into ``roi`` (the warped region, in
    place); ``target_points`` (478, 3) image points."""
    import cv2

    if not style.full:
        return
    target = np.asarray(target_points, np.float64)
    if target.shape[1] < 3:  # no depth given: the source's
        target = np.concatenate([target, style.depth[:, None]], axis=1)
    frame = L.face_frame(target)
    offsets = frame.to_face(target) - style.face
    amounts = {}
    for family, full in style.full.items():
        amount = _family_motion(family, offsets, style.face) / full
        least = _FOLDS_FROM.get(family, _MIN_AMOUNT)
        if amount > least:
            amounts[family] = float(L.smoothstep(least, 1.0, amount)
                                    + 0.3 * np.clip(amount - 1.0, 0.0, 1.0))
    if not amounts:
        return
    xy = target[:, :2] - roi_origin
    iod = frame.iod_px
    raised = max(amounts.get("forehead_inner", 0.0), amounts.get("forehead_outer", 0.0))
    if raised > 0:
        for eye in (0, 1):
            unfold_lid(roi, xy, eye, min(raised, 1.0), iod)
    creases = _creases(xy, amounts, iod)
    points = np.concatenate([line for line, _, _ in creases])
    pad = int(np.ceil(0.12 * iod)) + 2
    x0, y0 = np.maximum(np.floor(points.min(0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(points.max(0)).astype(int) + pad, roi.shape[1::-1])
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    # The creases are soft: on a large face they are drawn on a coarser grid (about 70 px
    # to the eye distance) and the result upsampled, which costs a fraction of full size.
    scale = min(1.0, 70.0 / max(iod, 1.0))
    full_shape = (int(y1 - y0), int(x1 - x0))
    shape = (max(2, int(round(full_shape[0] * scale))), max(2, int(round(full_shape[1] * scale))))
    grid_iod = iod * scale
    # One canvas pair per crease width, each blurred once (creases of a width share a blur).
    canvases: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    for line, strength, width in creases:
        canvas_dark, canvas_light = canvases.setdefault(
            width, (np.zeros(shape, np.float32), np.zeros(shape, np.float32)))
        local = (line - (x0, y0)) * scale
        tangent = np.gradient(local, axis=0)
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1)
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-6)
        # The wall facing the light catches it; the valley's far side is in shadow.
        facing = np.sign(normal @ style.toward_light)[:, None]
        facing[facing == 0] = 1.0
        offset = width * grid_iod * 1.6
        lit, shadowed = local + facing * normal * offset, local - facing * normal * 0.3 * offset
        thickness = max(1, int(round(width * grid_iod)))
        values = (0.5 * (strength[:-1] + strength[1:])).tolist()
        dark_points = np.round(shadowed).astype(int).tolist()
        light_points = np.round(lit).astype(int).tolist()
        draw_line = cv2.line
        for k, value in enumerate(values):
            if value <= 0:
                continue
            draw_line(canvas_dark, dark_points[k], dark_points[k + 1], (value,), thickness,
                      cv2.LINE_AA)
            draw_line(canvas_light, light_points[k], light_points[k + 1], (value,),
                      thickness + 1, cv2.LINE_AA)
    dark = np.zeros(shape, np.float32)
    light = np.zeros(shape, np.float32)
    for width, (canvas_dark, canvas_light) in canvases.items():
        sigma = max(0.6, 0.5 * width * grid_iod)
        dark = np.maximum(dark, cv2.GaussianBlur(canvas_dark, (0, 0), sigma))
        light = np.maximum(light, cv2.GaussianBlur(canvas_light, (0, 0), 1.8 * sigma))
    gain = (1.0 - _DARKNESS * np.clip(dark, 0, 1.3)) * (1.0 + _HIGHLIGHT * np.clip(light, 0, 1.3))
    if shape != full_shape:
        gain = cv2.resize(gain, full_shape[::-1], interpolation=cv2.INTER_LINEAR)
    box = roi[y0:y1, x0:x1].astype(np.float32)
    roi[y0:y1, x0:x1] = np.clip(box * gain[..., None] + 0.5, 0, 255).astype(np.uint8)

