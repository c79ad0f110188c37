"""Soft per-landmark region weights of one face, in its face frame.

The AU displacement fields are written as "move this handle by so much" plus a rule for how
the surrounding skin follows. The rules need to know, for every one of the 478 points, how
far it sits above an upper lid, below a lower lid, inside the upper or lower lip, or under the
jaw, relative to *this* face's own contours (eyes, brows and lips differ a lot between
people). :class:`FaceRegions` computes those weights once per source face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgemotalk_cli.engines.warp import layout as L

_JAW_DEPTH_SMOOTHING = 0.1  # face units


@dataclass(frozen=True)
class EyeRegion:
    """One eye: its lid margins as polylines over u, and how each point relates to them."""

    side: int  # -1: subject's right (image left), +1: subject's left
    upper_lid: tuple[int, ...]  # outer corner, margin points, inner corner
    lower_lid: tuple[int, ...]
    upper_zone: np.ndarray  # (478,) 1 on the upper margin, fading up to the brow
    closure_zone: np.ndarray  # (478,) like upper_zone, but the lid skin travels further
    lower_zone: np.ndarray  # (478,) 1 on the lower margin, fading down the cheek
    lid_profile: np.ndarray  # (478,) 0 at the corners, 1 mid-lid (by u)
    crows_feet: np.ndarray  # (478,) skin lateral to the outer corner
    brow_gate: np.ndarray  # (478,) 0 at the upper lid margin, 1 at the brow and above
    brow_position: np.ndarray  # (478,) 0 at the brow's inner end, 1 at its outer end


@dataclass(frozen=True)
class MouthRegion:
    centre_u: float
    half_width: float
    mouth_u: np.ndarray  # (478,) u relative to the mouth: -1 and +1 at the corners
    upper_zone: np.ndarray  # (478,) 1 on the upper vermilion, fading up to the nose base
    lower_zone: np.ndarray  # (478,) 1 on the lower vermilion, fading down to the chin
    # (478,) 0 on the inner contour, 1 on the outer, then fading with the zone beyond it: a
    # vermilion narrowed by moving its outer contour carries the skin next to it part way,
    # not the whole column of the face above or below the mouth.
    vermilion_upper: np.ndarray
    vermilion_lower: np.ndarray
    upper_thickness: np.ndarray  # (478,) local vermilion height (face units)
    lower_thickness: np.ndarray
    jaw: np.ndarray  # (478,) how fully a point rides on the mandible


@dataclass(frozen=True)
class FaceRegions:
    face: np.ndarray  # (478, 3) the face in its own frame
    eyes: tuple[EyeRegion, EyeRegion]
    mouth: MouthRegion
    hinge: np.ndarray  # (3,) jaw hinge (temporomandibular joint) in the face frame
    jaw_depth: np.ndarray  # (478,) depth the jaw rotation uses: the face's, smoothed

    @classmethod
    def from_face(cls, face: np.ndarray) -> FaceRegions:
        eyes = (
            _eye_region(face, -1, L.RIGHT_EYE_CORNERS, L.RIGHT_UPPER_LID, L.RIGHT_LOWER_LID,
                        L.RIGHT_BROW_LOWER, L.RIGHT_BROW_UPPER),
            _eye_region(face, +1, L.LEFT_EYE_CORNERS, L.LEFT_UPPER_LID, L.LEFT_LOWER_LID,
                        L.LEFT_BROW_LOWER, L.LEFT_BROW_UPPER),
        )
        # The hinge sits in front of the ears, a little below eye level and far behind the
        # face surface; its depth sets how much the lower lip moves relative to the chin.
        hinge = np.array([0.0, face[L.SUBNASALE, 1] * 0.45, 1.4])
        # The detected depth is noisy from one mesh point to the next; turned about the hinge,
        # a point a little in front of its neighbours drops further than they do, which folds
        # the chin's lower edge over the neck. The jaw turns with depth smoothed over about a
        # tenth of the inter-ocular distance instead.
        jaw_depth = gaussian_smoothed(face[:, :2], face[:, 2], _JAW_DEPTH_SMOOTHING)
        return cls(face=face, eyes=eyes, mouth=_mouth_region(face), hinge=hinge,
                   jaw_depth=jaw_depth)


#: Neighbours further than this many sigmas weigh under 1e-6 of the point itself: left out.
_KERNEL_REACH_SIGMAS = 5.3


def gaussian_smoothed(xy: np.ndarray, values: np.ndarray, sigma: float) -> np.ndarray:
    """Each point's ``values`` averaged over its neighbours with Gaussian weights of ``sigma``
    (in the units of ``xy``, (N, 2)), the weights normalised per point.

    Only pairs within a few sigmas are formed (points sorted by x, each paired with the run
    of points within reach in x, then cut by true distance), instead of the dense N x N kernel:
    about a sixth of the pairs on a face mesh, and the same result to within 1e-6.
    """
    xy = np.asarray(xy, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    reach = _KERNEL_REACH_SIGMAS * sigma
    by_x = np.argsort(xy[:, 0], kind="stable")
    sorted_x = xy[by_x, 0]
    first = np.searchsorted(sorted_x, sorted_x - reach, side="left")
    last = np.searchsorted(sorted_x, sorted_x + reach, side="right")
    counts = last - first
    owner = np.repeat(np.arange(len(xy)), counts)  # position in x order of each pair's point
    partner = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts - first, counts)
    i, j = by_x[owner], by_x[partner]
    squared = ((xy[i] - xy[j]) ** 2).sum(axis=1)
    near = squared <= reach * reach
    i, j = i[near], j[near]
    weights = np.exp(-squared[near] / (2 * sigma * sigma))
    total = np.bincount(i, weights, minlength=len(xy))
    return np.bincount(i, weights * values[j], minlength=len(xy)) / total


def _eye_region(face: np.ndarray, side: int, corners: tuple[int, int], upper: tuple[int, ...],
                lower: tuple[int, ...], brow_lower: tuple[int, ...],
                brow_upper: tuple[int, ...]) -> EyeRegion:
    u, v = face[:, 0], face[:, 1]
    outer, inner = corners
    upper_lid = (outer, *upper, inner)
    lower_lid = (outer, *lower, inner)
    v_upper = L.polyline_at(u[list(upper_lid)], v[list(upper_lid)], u)
    v_lower = L.polyline_at(u[list(lower_lid)], v[list(lower_lid)], u)
    v_brow = L.polyline_at(u[list(brow_lower)], v[list(brow_lower)], u)
    v_brow_top = L.polyline_at(u[list(brow_upper)], v[list(brow_upper)], u)
    on_side = (u * side) > 0.02

    u_outer, u_inner = u[outer], u[inner]
    along = np.clip((u - u_outer) / (u_inner - u_outer), 0.0, 1.0)
    lid_profile = np.sin(np.pi * along) ** 0.8
    # Beyond the corners the lid skin still follows a little, fading over a tenth of the IOD.
    beyond = np.maximum(side * (u - u_outer), side * (u_inner - u))
    column = 1.0 - L.smoothstep(0.0, 0.12, beyond)

    lid_to_brow = np.maximum(v_upper - v_brow, 1e-3)
    t_up = (v_upper - v) / lid_to_brow
    upper_zone = np.where(t_up >= -0.02, (1.0 - np.clip(t_up / 0.85, 0.0, 1.0)) ** 1.5, 0.0)
    below = v - v_lower
    lower_zone = np.where(below >= -0.02, (1.0 - np.clip(below / 0.3, 0.0, 1.0)) ** 1.5, 0.0)
    # A closing lid carries the skin below the crease almost rigidly and stretches the skin
    # above it: the closed lid then shows lid skin, not stretched lashes.
    closure_zone = np.where(t_up >= -0.02, 1.0 - L.smoothstep(0.3, 0.9, t_up), 0.0)
    closure_zone = closure_zone * column * on_side
    upper_zone = upper_zone * column * on_side
    lower_zone = lower_zone * column * on_side
    for index in upper_lid:
        if index not in corners:
            upper_zone[index] = closure_zone[index] = 1.0
    for index in lower_lid:
        lower_zone[index] = 1.0 if index not in corners else lower_zone[index]

    # Brows: 0 at the lid margin rising to 1 at the brow's lower edge; the forehead above
    # follows less the higher it is (its skin bunches instead of sliding).
    gate = L.smoothstep(0.0, 1.0, t_up)
    above_brow = np.clip(v_brow_top - v, 0.0, None)
    gate = np.where(t_up > 1.0, 1.0 - 0.65 * L.smoothstep(0.0, 0.7, above_brow), gate)
    brow_u = u[list(brow_lower)]
    brow_position = (side * u - side * brow_u[-1]) / (side * brow_u[0] - side * brow_u[-1])
    lateral_end = L.smoothstep(1.0, 1.6, brow_position)
    brow_gate = gate * (1.0 - lateral_end) * (side * u > -0.05)
    # Inside the eye opening nothing belongs to the brow.
    brow_gate = np.where(v > v_upper - 0.005, 0.0, brow_gate)
    brow_gate[list(upper_lid)] = 0.0

    eye_v = (v[outer] + v[inner]) / 2
    out_dist = side * (u - u_outer)
    crows_feet = (L.smoothstep(-0.05, 0.05, out_dist) * (1.0 - L.smoothstep(0.05, 0.3, out_dist))
                  * (1.0 - L.smoothstep(0.08, 0.3, np.abs(v - eye_v))))
    return EyeRegion(side=side, upper_lid=upper_lid, lower_lid=lower_lid,
                     upper_zone=upper_zone, closure_zone=closure_zone, lower_zone=lower_zone,
                     lid_profile=lid_profile, crows_feet=crows_feet, brow_gate=brow_gate,
                     brow_position=brow_position)


def _mouth_region(face: np.ndarray) -> MouthRegion:
    u, v = face[:, 0], face[:, 1]
    right, left = L.UPPER_OUTER_LIP[0], L.UPPER_OUTER_LIP[-1]
    centre_u = float((u[right] + u[left]) / 2)
    half_width = float(max((u[left] - u[right]) / 2, 0.05))
    mouth_u = (u - centre_u) / half_width

    def contour(indices: tuple[int, ...]) -> np.ndarray:
        return L.polyline_at(u[list(indices)], v[list(indices)], u)

    v_ui, v_li = contour(L.UPPER_INNER_LIP), contour(L.LOWER_INNER_LIP)
    v_uo, v_lo = contour(L.UPPER_OUTER_LIP), contour(L.LOWER_OUTER_LIP)
    v_mid = (v_ui + v_li) / 2
    nose_base = float(v[L.SUBNASALE])
    chin = float(v[L.CHIN])
    within = 1.0 - L.smoothstep(1.0, 1.6, np.abs(mouth_u))

    upper_thickness = np.maximum(v_ui - v_uo, 0.02)
    lower_thickness = np.maximum(v_lo - v_li, 0.02)
    upper_side = v <= v_mid
    above_outer = np.clip((v_uo - v) / max(float(np.median(v_uo)) - nose_base, 0.05), 0, 1)
    upper_zone = np.where(upper_side, 1.0 - L.smoothstep(0.0, 1.0, above_outer), 0.0)
    below_outer = np.clip((v - v_lo) / max(chin - float(np.median(v_lo)), 0.05), 0, 1)
    lower_zone = np.where(~upper_side, 1.0 - L.smoothstep(0.0, 0.8, below_outer), 0.0)
    vermilion_upper = np.clip((v_ui - v) / upper_thickness, 0.0, 1.0) * upper_side
    vermilion_lower = np.clip((v - v_li) / lower_thickness, 0.0, 1.0) * ~upper_side

    # The mandible: everything under the mouth line, sharply split between the lips (the lower
    # lip rides on the jaw, the upper lip does not) and softly in the cheeks beside the mouth,
    # where the skin stretches (half the jaw motion at the corners' height). Towards the
    # corners the lower lip follows the jaw less and less, gently, so that the lips stay
    # together longer there (an oval opening, not a box) without shearing the corner; below
    # the lip every point rides at least as fully as the lip above it, reaching the full jaw
    # at the chin, so the lip never slides down over the skin under it.
    towards_corner = L.smoothstep(0.25, 1.1, np.abs(mouth_u))
    down = L.smoothstep(0.0, 1.0, below_outer)
    lower_lip = 1.0 - 0.5 * towards_corner
    sharp = np.where(upper_side, 0.5 * towards_corner**2 * upper_zone,
                     lower_lip + (1.0 - lower_lip) * down)
    span = max(chin - float(np.median(v_mid)), 0.1)
    soft = np.where(v >= v_mid, 0.5 + 0.5 * L.smoothstep(0.0, span, v - v_mid),
                    0.5 * (1.0 - L.smoothstep(0.0, 0.35, v_mid - v)))
    blend = L.smoothstep(0.95, 1.4, np.abs(mouth_u))
    jaw = (1.0 - blend) * sharp + blend * soft
    for index in L.UPPER_INNER_LIP[1:-1] + L.UPPER_OUTER_LIP[1:-1]:
        jaw[index] = 0.5 * towards_corner[index] ** 2
        lower_zone[index], upper_zone[index] = 0.0, 1.0
    for index in L.LOWER_INNER_LIP[1:-1] + L.LOWER_OUTER_LIP[1:-1]:
        jaw[index] = lower_lip[index]
        upper_zone[index], lower_zone[index] = 0.0, 1.0
    for index in L.MOUTH_CORNERS:
        jaw[index] = 0.5
        upper_zone[index] = lower_zone[index] = 1.0
    return MouthRegion(
        centre_u=centre_u, half_width=half_width, mouth_u=mouth_u,
        upper_zone=upper_zone * within, lower_zone=lower_zone * within,
        vermilion_upper=vermilion_upper * upper_zone * within,
        vermilion_lower=vermilion_lower * lower_zone * within,
        upper_thickness=upper_thickness, lower_thickness=lower_thickness, jaw=jaw,
    )
