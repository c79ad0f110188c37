"""The AU geometry model's fields: how each Action Unit moves the 478 face mesh points.

Every field is written in the face frame (:mod:`fgemotalk_cli.engines.warp.layout`: x towards the
subject's left, y down, z away from the camera, 1 unit = inter-ocular distance) for
intensity 5 (FACS E), from the FACS descriptions. Displacements are 3-D, so after rotation
into the head's pose they tilt with roll and shrink with yaw. "Spread" names the region rule
of :mod:`fgemotalk_cli.engines.warp.regions` that carries a handle's motion into the skin around it.

====  =====================  ===========================================================
AU    name                   field at intensity 5 (face units; up = -y, medial = to midline)
====  =====================  ===========================================================
1     inner brow raiser      brows up 0.16 at the inner end, 0.10 at a third of the brow,
                             0.02 at two thirds, 0 from 0.85 on (the medial frontalis: the
                             brow turns oblique with its medial half raised, as in real
                             raises, instead of kinking at the inner end), 0.02 medial;
                             forehead follows less with height
2     outer brow raiser      outer two thirds of the brow arched up: 0.13 at the tail, 0.04
                             at the inner end (whose share fades to 0 there)
4     brow lowerer           brows down 0.12 (inner) .. 0.09 (outer) and 0.07 medial; the
                             glabella is squeezed towards the midline. The whole brow comes
                             down (d8's real frown: 0.043 outer, 0.059 middle, 0.046 inner as
                             the landmarker sees it), and browDown follows the outer part:
                             outer 0.05 -> 0.09 lifts d30 from 0.6 to 2.3 at one strength
5     upper lid raiser       upper lid margin up 0.085 mid-lid in a round arc (the whole margin
                             retracts, as in real wide eyes, not a peak; 0 at the corners), lid skin
                             follows up to the brow; lower lid down 0.01; the iris stays
                             round and eye white shows above it (:mod:`.eye_whites`)
6     cheek raiser           infraorbital cheek up 0.10 and 0.03 forward; lower lid up 0.06;
                             crow's-feet skin 0.04 towards the eye; outer brow down 0.02
7     lid tightener          lower lid up 0.075, flatter than in AU 6 (more near the
                             corners); upper lid down 0.02
9     nose wrinkler          nostril wings up 0.08 and 0.015 out, nose sides bunched up,
                             upper lip up 0.04, inner brows down 0.04, cheeks up 0.02
10    upper lip raiser       upper lip up 0.09 (peaks between centre and corners), spread to
                             the nose base; nasolabial skin up 0.03
12    lip corner puller      corners up 0.13, out 0.065, back 0.06 (along the zygomaticus);
                             the lips bend (lift grows with the square of the distance from
                             the middle, which stays) and stretch evenly; skin follows along
                             the muscle line towards the cheekbone, little below the corner;
                             cheeks up 0.04; vermilion thinned up to 0.015 towards the
                             corners, lower lip by a fifth of its height
15    lip corner depressor   corners down 0.11, out 0.02, the lips bent into an arch (pull
                             with the square of the distance from the middle), skin following
                             along the depressor down-and-out to the jaw line; lower lip
                             middle held up 0.045 so the mouth stays closed
17    chin raiser            chin boss up 0.06 and forward 0.03; lower lip up 0.05 and
                             forward 0.04 (most in the middle); upper lip up 0.02
20    lip stretcher          corners out 0.11, no vertical pull (down reads as AU 15, up as
                             AU 12); lips stretched in proportion to their distance from the
                             centre; vermilion thinned 0.015
23    lip tightener          both vermilions narrowed by 40 % towards the mouth line;
                             corners 0.02 medial
25    lips part              lower lip down 0.07, upper lip up 0.02 (most in the middle)
26    jaw drop               lower face rotated 15 degrees about the jaw hinge (0.35 IOD
                             below the eyes, 1.4 IOD deep, depth smoothed): chin down about
                             0.35; the lower lip rides fully on the jaw in the middle, half
                             at the corners, and the skin below it at least as fully
43    eyes closed            upper lid margin pulled onto the lower lid (which rises 15 % of
                             the opening); lid skin follows up to the brow
45    blink                  as 43
====  =====================  ===========================================================

Speech mouth controls (:class:`MouthShape`, each 0..1 except ``lip_width`` in -1..1):
``jaw_open`` = the AU 26 rotation; ``lip_width`` > 0 stretches the corners 0.08 out, < 0
narrows them 0.08 in with 0.02 protrusion; ``rounding`` puckers (corners 0.13 in, lips 0.07
forward, vermilion 0.015 thicker, opening rounded); ``closure`` presses the inner lip contours
together (P, B, M); ``lip_to_teeth`` lifts and tucks the lower lip to just under the upper
teeth with the upper lip 0.025 up (F, V). Blink is AU 45.

Intensity response: the magnitudes above are the designed field, not what intensity 5 uses.
Each AU has a table of field shares at intensities 0..5 (linear in between), solved so that
intensity k reads about k on the read-out (:mod:`fgemotalk_cli.expression.readout`: blendshape
scores, and the mesh for AU 5 and 15; 5 = what real strong expressions reach): per source by
the closed loop of
:mod:`fgemotalk_cli.engines.warp.calibration` (renders read back, bounded), else the general
table :data:`.au_geometry.GENERAL_RESPONSE` (medians of the per-face tables over the shared
portraits: e.g. AU 12 reaches 2.1 times the designed field at 5, AU 4 2.1 times). AUs the
model cannot read keep the FACS grade curve :func:`.au_geometry.intensity_response` (shares
0.07, 0.25, 0.55, 0.82, 1 at 1..5); eye closure is a closed fraction of at most 1.
Combined AUs add; wherever the sum at a point exceeds the largest any single control can move
that point, it is soft-clipped (tanh) to at most 1.3 times that. Closures run last, pulling
towards the *current* opposite contour, and finally no upper contour may cross below its lower
partner further than it does in the source.
"""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.regions import EyeRegion, FaceRegions

JAW_MAX_RADIANS = float(np.deg2rad(15.0))
#: How far along the brow (0 inner end, 1 tail) AU 1's lift fades out.
MEDIAL_REACH = 0.85
#: How far AU 15 holds the middle of the lower lip up (face units at intensity 5).
LOWER_LIP_HOLD = 0.045


def _vec(x: float = 0.0, y: float = 0.0, z: float = 0.0) -> np.ndarray:
    return np.array([x, y, z])


def _gauss(face: np.ndarray, centre: np.ndarray, sigma_u: float, sigma_v: float) -> np.ndarray:
    du = (face[:, 0] - centre[0]) / sigma_u
    dv = (face[:, 1] - centre[1]) / sigma_v
    return np.exp(-0.5 * (du * du + dv * dv))


def _medial(face: np.ndarray, side: int) -> np.ndarray:
    """Unit vectors towards the midline for points on ``side`` (-1 right, +1 left)."""
    return np.stack([-side * np.ones(len(face)), np.zeros(len(face)), np.zeros(len(face))], 1)


#: Of the distance from the brow's lower landmarks to the lid margin, the share below the
#: brow that moves whole with it (see ``_rigid_brow``).
BROW_FRINGE = 0.35


def _rigid_brow(face: np.ndarray, eye: EyeRegion) -> np.ndarray:
    """The brow gate with the brow's lower fringe carried whole: real brows rise and fall
    as a band (their hair keeps its thickness; d7 frame 140, vasa1_7 frame 228) and the lid
    skin below stretches. The landmarks' lower brow line runs inside the hair, so the
    gate's fade from it to the lid margin stretched the fringe and its shadow with the skin,
    and a raised brow looked thicker than at rest. Below that line the gate reaches 1 a
    ``BROW_FRINGE`` share of the way down to the lid."""
    lower = L.RIGHT_BROW_LOWER if eye.side < 0 else L.LEFT_BROW_LOWER
    u, v = face[:, 0], face[:, 1]
    below = v > L.polyline_at(u[list(lower)], v[list(lower)], u)
    carried = np.clip(eye.brow_gate / L.smoothstep(0.0, 1.0, 1.0 - BROW_FRINGE), 0.0, 1.0)
    return np.where(below, carried, eye.brow_gate)


def _brow_field(r: FaceRegions, inner_up: float, outer_up: float, medial: float,
                shape: str) -> np.ndarray:
    """Brows moved up by ``inner_up`` .. ``outer_up`` (negative: down) and ``medial`` towards
    the midline, over the part of the brow ``shape`` names (inner, medial, outer or all)."""
    field = np.zeros_like(r.face)
    u = r.face[:, 0]
    for eye in r.eyes:
        s = eye.brow_position
        reach = 1.0  # where along the brow the lift has turned from inner_up to outer_up
        if shape == "inner":
            profile = 1.0 - L.smoothstep(0.05, 0.7, s)
        elif shape == "medial":
            # The medial frontalis (AU 1) lifts the inner end most and the brow's medial half
            # with it, fading out by MEDIAL_REACH (``up`` below): the brow turns oblique, it
            # does not kink. Real inner-brow raises as the landmarker sees them (d10: inner /
            # middle / tail 0.10 / 0.09 / 0.05 IOD) move the whole medial half; the inner end
            # alone (the profile cut off at two thirds, fading twice) reads little on low,
            # straight brows: d19, obama, s9 1.4 / 2.1 / 1.4 at 1.2 of the field, 2.9 / 4.1 /
            # 3.0 so. Lifting the middle further (fading out at the tail) reads more still
            # (4.0 / 4.8 / 4.1) but flattens the oblique brow of AU 1 + 4 (sadness) and
            # raises the outer brow's score with it (off-target AU 2 0.18 against 0.12).
            profile, reach = np.ones_like(s), MEDIAL_REACH
        elif shape == "outer":
            # The lateral frontalis lifts the outer two thirds of the brow as an arch, not
            # only its tail (which folds the brow into a V).
            profile = L.smoothstep(-0.1, 0.7, s)
        else:
            profile = 1.0 - 0.5 * L.smoothstep(0.0, 1.0, s)
        # Medial of the brow's inner end the skin follows less, reaching 0 at the midline so
        # the two sides meet continuously.
        near_midline = np.clip(np.abs(u) / max(abs(u[eye.upper_lid[-1]]) * 0.75, 1e-3), 0, 1)
        weight = _rigid_brow(r.face, eye) * profile * np.where(s < 0, near_midline, 1.0)
        fade = L.smoothstep(0.0, reach, s)
        up = inner_up * (1 - fade) + outer_up * fade
        field[:, 1] -= weight * up
        # The medial brow's pull towards the midline stays on its inner half.
        pull = weight * (1 - L.smoothstep(0.0, 0.7, s)) if shape == "medial" else weight
        field[:, 0] += pull * medial * (-eye.side) * np.where(s < 0, near_midline, 1.0)
    return field


def _lid_field(eye: EyeRegion, upper: float, lower: float, lower_flat: bool = False,
               upper_flat: bool = False) -> np.ndarray:
    """Upper margin moved by ``upper`` and lower margin by ``lower`` (face units, +down);
    a flat margin moves more evenly along the lid (less peaked at mid-lid)."""
    field = np.zeros((len(eye.upper_zone), 3))
    profile = eye.lid_profile
    lower_profile = np.sqrt(profile) if lower_flat else profile
    upper_profile = np.sqrt(profile) if upper_flat else profile
    field[:, 1] = upper * upper_profile * eye.upper_zone + lower * lower_profile * eye.lower_zone
    return field


def _corner_field(r: FaceRegions, motion: np.ndarray, sigma: float = 0.22) -> np.ndarray:
    """Lip corners moved by ``motion`` (x mirrored per side), lips and skin following."""
    m = r.mouth
    field = np.zeros_like(r.face)
    lips = np.maximum(m.upper_zone, m.lower_zone)
    u = np.abs(np.clip(m.mouth_u, -1.0, 1.0))
    # Sideways the lips stretch evenly (in proportion to u, so the two halves meet at the
    # midline instead of tearing apart or overlapping there); up, down and in depth the pull
    # fades faster towards the middle, which bends the mouth line instead of shifting it.
    sideways, lengthways = u * lips, u**1.5 * lips
    # Skin beyond the lips follows the nearer corner, and nothing at the midline.
    skin_gate = L.smoothstep(0.0, 0.9, u)
    for side, corner in ((-1, L.UPPER_OUTER_LIP[0]), (+1, L.UPPER_OUTER_LIP[-1])):
        on_side = m.mouth_u * side > 0
        skin = _gauss(r.face, r.face[corner], sigma, sigma) * skin_gate * on_side
        weight_x = np.maximum(sideways * on_side, skin)
        weight = np.maximum(lengthways * on_side, skin)
        field[:, 0] += weight_x * motion[0] * side
        field[:, 1:] += weight[:, None] * motion[1:]
    return field


def _smile_field(r: FaceRegions, corner: np.ndarray) -> np.ndarray:
    """AU 12: corners pulled along the zygomaticus major, up, out and back by ``corner``.

    The lips bend into a curve (the middle of the upper lip stays, the lift grows with the
    square of the distance from the middle) and stretch only evenly sideways. Beyond the
    corners the skin follows along the muscle line towards the cheekbone, little below the
    corner, so the cheek bunches above the mouth while the jaw and chin outline stay put.
    """
    m, face = r.mouth, r.face
    field = np.zeros_like(face)
    # Under the lower lip the pull dies out well before the chin and the jaw line.
    lips = np.maximum(m.upper_zone, m.lower_zone**2)
    u = np.abs(np.clip(m.mouth_u, -1.0, 1.0))
    sideways, lift = u * lips, u**2 * lips
    skin_gate = L.smoothstep(0.3, 1.0, u)
    for side, index in ((-1, L.UPPER_OUTER_LIP[0]), (+1, L.UPPER_OUTER_LIP[-1])):
        on_side = m.mouth_u * side > 0
        muscle = np.array([0.55 * side, -0.83])  # corner towards the zygomatic bone
        rel = face[:, :2] - face[index, :2]
        along = rel @ muscle
        across = rel @ np.array([-muscle[1], muscle[0]])
        # Face units: far along the muscle, little below the corner or across the line.
        reach = np.where(along > 0, 0.32, 0.14)
        skin = np.exp(-0.5 * ((along / reach) ** 2 + (across / 0.15) ** 2))
        skin *= skin_gate * on_side
        weight_x = np.maximum(sideways * on_side, skin)
        weight = np.maximum(lift * on_side, skin)
        field[:, 0] += weight_x * corner[0] * side
        field[:, 1:] += weight[:, None] * corner[1:]
    return field


def _frown_field(r: FaceRegions, corner: np.ndarray) -> np.ndarray:
    """AU 15: corners pulled down and a little out by the depressor anguli oris.

    The muscle runs from the corner down and out to the jaw line, so the skin that follows
    lies below and beside the corner (not under the middle of the lower lip). Both lips bend
    into an arch: the pull grows with the square of the distance from the middle, and the
    middle of the lower lip is held up, so the mouth stays closed (a frown, not a jaw drop)
    and the lower lip's outline turns down at its ends. Real frowns and sad mouths keep the
    lips together (d18 176/184, d8 118/125: the inner lips' centres part by at most 0.01 IOD
    while the corners drop 0.04-0.07 below them). With a hold of 0.02 the landmarker sees
    s11's lips part at 0.9 of the field (+0.007) and its corners 0.018 below the lip line;
    with 0.045 the lips stay together (-0.022) and the corners read 0.029 below. Past about
    1.5 of the field the arch opens a small mouth in its eyes either way.
    """
    m, face = r.mouth, r.face
    field = np.zeros_like(face)
    lips = np.maximum(m.upper_zone, m.lower_zone)
    u = np.abs(np.clip(m.mouth_u, -1.0, 1.0))
    sideways, bend = u * lips, u**2 * lips
    skin_gate = L.smoothstep(0.4, 1.0, np.abs(m.mouth_u))
    for side, index in ((-1, L.UPPER_OUTER_LIP[0]), (+1, L.UPPER_OUTER_LIP[-1])):
        on_side = m.mouth_u * side > 0
        muscle = np.array([0.45 * side, 0.89])  # corner towards the mandible's lower edge
        rel = face[:, :2] - face[index, :2]
        along = rel @ muscle
        across = rel @ np.array([-muscle[1], muscle[0]])
        reach = np.where(along > 0, 0.25, 0.12)
        skin = np.exp(-0.5 * ((along / reach) ** 2 + (across / 0.12) ** 2)) * skin_gate * on_side
        weight_x = np.maximum(sideways * on_side, skin)
        weight = np.maximum(bend * on_side, skin)
        field[:, 0] += weight_x * corner[0] * side
        field[:, 1:] += weight[:, None] * corner[1:]
    middle = np.cos(np.clip(m.mouth_u, -1, 1) * np.pi / 2)
    field[:, 1] -= LOWER_LIP_HOLD * m.lower_zone * middle**2
    return field


def jaw_field(r: FaceRegions, radians: float) -> np.ndarray:
    """The lower face rotated about the hinge axis (parallel to x) by ``radians``."""
    if radians == 0:
        return np.zeros_like(r.face)
    rel = r.face - r.hinge
    rel[:, 2] = r.jaw_depth - r.hinge[2]
    cos, sin = np.cos(radians), np.sin(radians)
    # Opening turns the chin down (+y) and back (+z): y' = y cos - z sin, z' = y sin + z cos.
    rotated = np.stack([rel[:, 0], rel[:, 1] * cos - rel[:, 2] * sin,
                        rel[:, 1] * sin + rel[:, 2] * cos], 1)
    return (rotated - rel) * r.mouth.jaw[:, None]


def au_fields(r: FaceRegions) -> dict[int, np.ndarray]:
    """Every AU's linear field at intensity 5 (26, 43 and 45 are handled separately)."""
    face, m = r.face, r.mouth
    zero = np.zeros_like(face)
    f: dict[int, np.ndarray] = {}
    f[1] = _brow_field(r, 0.16, 0.0, 0.02, "medial")
    f[2] = _brow_field(r, 0.04, 0.13, -0.01, "outer")
    f[4] = _brow_field(r, -0.12, -0.09, 0.07, "all")

    f[5] = sum((_lid_field(e, -0.085, 0.01, upper_flat=True) for e in r.eyes), zero.copy())
    f[6] = sum((_lid_field(e, 0.0, -0.06) for e in r.eyes), zero.copy())
    f[7] = sum((_lid_field(e, 0.02, -0.075, lower_flat=True) for e in r.eyes), zero.copy())
    for e in r.eyes:
        lower_lid_v = face[e.lower_lid[len(e.lower_lid) // 2], 1]
        cheek_centre = _vec(face[e.upper_lid[0], 0] * 0.85, lower_lid_v + 0.42)
        below_lid = L.smoothstep(0.0, 0.15, face[:, 1] - lower_lid_v)
        cheek = _gauss(face, cheek_centre, 0.25, 0.22) * below_lid * (face[:, 0] * e.side > 0)
        f[6] += cheek[:, None] * _vec(0, -0.10, -0.03)
        f[6] += e.crows_feet[:, None] * _medial(face, e.side) * 0.04
        outer_brow = e.brow_gate * L.smoothstep(0.4, 1.0, e.brow_position)
        f[6][:, 1] += 0.02 * outer_brow

    f[9] = np.zeros_like(face)
    tip_u, base_v = face[L.NOSE_TIP, 0], face[L.SUBNASALE, 1]
    for wing in (98, 327):
        side = 1 if face[wing, 0] > tip_u else -1
        f[9] += _gauss(face, face[wing], 0.12, 0.12)[:, None] * _vec(0.015 * side, -0.08)
    # The sides of the nose bunch upwards, more near the wings than at the bridge: the
    # compression is what reads as wrinkling.
    nose_band = ((1 - L.smoothstep(0.25, 0.4, np.abs(face[:, 0] - tip_u)))
                 * L.smoothstep(0.0, 0.1, face[:, 1])
                 * (1 - L.smoothstep(base_v - 0.05, base_v + 0.05, face[:, 1])))
    f[9][:, 1] -= 0.05 * nose_band * np.clip(face[:, 1] / max(base_v, 0.3), 0, 1)
    f[9] += (m.upper_zone * (1 - 0.5 * np.abs(np.clip(m.mouth_u, -1, 1))))[:, None] * _vec(
        0, -0.04)
    f[9] += _brow_field(r, -0.04, 0.0, 0.0, "inner")
    f[9] += sum((_lid_field(e, 0.0, -0.02) for e in r.eyes), zero.copy())

    peak = np.exp(-0.5 * ((np.abs(m.mouth_u) - 0.4) / 0.45) ** 2)
    f[10] = (m.upper_zone * peak)[:, None] * _vec(0, -0.09)
    for wing in (98, 327):
        f[10] += _gauss(face, face[wing] + _vec(0, 0.1), 0.15, 0.12)[:, None] * _vec(0, -0.03)

    f[12] = _smile_field(r, _vec(0.065, -0.13, 0.06))
    for side, corner in ((-1, 61), (1, 291)):
        cheek = _gauss(face, face[corner] + _vec(0.1 * side, -0.3), 0.2, 0.2)
        f[12] += cheek[:, None] * _vec(0.01 * side, -0.04, -0.02)
    # Stretched lips thin, more towards the corners than in the middle; the lower lip, drawn
    # tight over the teeth, also in the middle (by a share of its own height).
    thinning = 0.015 * np.abs(np.clip(m.mouth_u, -1, 1))
    f[12][:, 1] += thinning * (m.vermilion_upper - m.vermilion_lower)
    f[12][:, 1] -= 0.2 * m.lower_thickness * m.vermilion_lower * m.lower_zone
    f[15] = _frown_field(r, _vec(0.02, 0.11, 0.0))

    chin_boss = _gauss(face, _vec(m.centre_u, face[L.CHIN, 1] - 0.22), 0.3, 0.2)
    chin_boss *= 1 - m.lower_zone * (face[:, 1] < face[17, 1])
    middle = np.cos(np.clip(m.mouth_u, -1, 1) * np.pi / 2)
    f[17] = chin_boss[:, None] * _vec(0, -0.06, -0.03)
    f[17] += (m.lower_zone * middle)[:, None] * _vec(0, -0.05, -0.04)
    f[17] += (m.upper_zone * middle)[:, None] * _vec(0, -0.02)

    stretch = np.clip(m.mouth_u, -1.6, 1.6)
    lips = np.maximum(m.upper_zone, m.lower_zone)
    # AU 20 (risorius): corners drawn out towards the ears and a little down, never up (that
    # would be AU 12); more down reads as AU 15. The lips stretch and thin.
    f[20] = _corner_field(r, _vec(0.0, 0.0, 0.0))
    f[20][:, 0] += 0.11 * np.where(np.abs(stretch) <= 1, stretch * lips, 0.0)
    f[20] += _corner_field(r, _vec(0.11, 0, 0)) * (np.abs(m.mouth_u) > 1)[:, None]
    f[20][:, 1] += 0.015 * (m.vermilion_upper - m.vermilion_lower)

    f[23] = np.zeros_like(face)
    f[23][:, 1] = 0.4 * (m.vermilion_upper * m.upper_thickness
                         - m.vermilion_lower * m.lower_thickness)
    f[23] += _corner_field(r, _vec(-0.02, 0, 0), sigma=0.12)

    f[25] = (m.lower_zone * middle)[:, None] * _vec(0, 0.07)
    f[25] += (m.upper_zone * middle)[:, None] * _vec(0, -0.02)
    return f


def speech_fields(r: FaceRegions) -> dict[str, np.ndarray]:
    """Linear parts of the speech controls at full strength (jaw and closures separately)."""
    m = r.mouth
    lips = np.maximum(m.upper_zone, m.lower_zone)
    middle = np.cos(np.clip(m.mouth_u, -1, 1) * np.pi / 2)
    widen = _corner_field(r, _vec(0.08, -0.01, 0.0))
    narrow = _corner_field(r, _vec(-0.08, 0.0, -0.02))
    rounding = _corner_field(r, _vec(-0.13, 0.0, -0.03))
    rounding += lips[:, None] * _vec(0, 0, -0.07)
    rounding[:, 1] += 0.015 * (m.vermilion_lower - m.vermilion_upper)
    rounding[:, 1] += 0.015 * middle * (m.lower_zone - m.upper_zone)
    teeth = (m.upper_zone * middle)[:, None] * _vec(0, -0.025)
    teeth += (m.lower_zone * middle)[:, None] * _vec(0, 0, 0.04)
    return {"widen": widen, "narrow": narrow, "rounding": rounding, "lip_to_teeth": teeth,
            "jaw": jaw_field(r, JAW_MAX_RADIANS)}
