"""Fixed data of the MediaPipe face mesh: canonical shape, triangles, named regions, symmetry.

The canonical shape is in *face units*: origin at the centroid of the 468 mesh points, x
towards the subject's left (the image's right for a frontal face), y down the face, z away
from the camera, one unit = the inter-ocular distance (between the midpoints of each eye's
corners). It is exactly left/right symmetric. See :mod:`fgemotalk_cli.faces.mesh_model_data` for
where its numbers come from.

"Left" and "right" are the subject's own, as in MediaPipe's names. Ordered contours run from
the subject's right to their left (image left to right), eyelids from the outer corner to the
inner one, brows from the outer end to the inner end, and the face oval clockwise from the top
of the forehead; their end points (the corners) are included.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from fgemotalk_cli.faces.mediapipe_import import face_mesh_connections
from fgemotalk_cli.faces.mesh_model_data import CANONICAL_POINTS

MESH_POINTS = 468
ALL_POINTS = 478

RIGHT_EYE_CORNERS = (33, 133)  # subject's right eye: outer, inner
LEFT_EYE_CORNERS = (263, 362)
RIGHT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LEFT_EYE_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
RIGHT_IRIS = (468, 469, 470, 471, 472)  # centre first
LEFT_IRIS = (473, 474, 475, 476, 477)
RIGHT_BROW = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)  # lower row, then upper row
LEFT_BROW = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
UPPER_LIP_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LOWER_LIP_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
UPPER_LIP_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_LIP_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
LIP_CORNERS = (61, 291, 78, 308)  # outer right, outer left, inner right, inner left
# MediaPipe's FACEMESH_NOSE points: the bridge from the nasion down, then the nostril wings.
NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 97, 326, 327, 294, 278, 344, 440, 275, 45,
        220, 115, 48, 64)
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
SUBNASALE = 2


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints of each eye's two corners: (subject's right, subject's left)."""
    points = np.asarray(points)
    right = (points[RIGHT_EYE_CORNERS[0]] + points[RIGHT_EYE_CORNERS[1]]) / 2
    left = (points[LEFT_EYE_CORNERS[0]] + points[LEFT_EYE_CORNERS[1]]) / 2
    return right, left


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@lru_cache(maxsize=1)
def _canonical() -> np.ndarray:
    return _read_only(np.array(CANONICAL_POINTS, dtype=np.float32).reshape(ALL_POINTS, 3))


def canonical_face_mesh() -> np.ndarray:
    """(478, 3) float32 canonical face (neutral, frontal, symmetric) in face units.

    Points 468..477 are the iris centres and rims, looking straight ahead.
    """
    return _canonical().copy()


@lru_cache(maxsize=1)
def _mirror() -> np.ndarray:
    canonical = _canonical().astype(np.float64)
    mirrored = canonical * np.array([-1.0, 1.0, 1.0])
    distances = np.linalg.norm(canonical[:, None, :] - mirrored[None, :, :], axis=2)
    # The canonical shape is exactly symmetric, so each point's mirror image is another point.
    partner = distances.argmin(axis=1)
    return _read_only(partner)


def mirror_indices() -> np.ndarray:
    """(478,) int: the index of each point's left/right counterpart (midline points map to
    themselves). ``flipped.points[mirror_indices()]`` relabels a horizontally flipped face."""
    return _mirror().copy()


def _tessellation_triangles() -> list[tuple[int, int, int]]:
    """Triangles of MediaPipe's tessellation, recovered from its edge list."""
    edges = {tuple(sorted(edge)) for edge in face_mesh_connections().FACEMESH_TESSELATION}
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    cliques = {tuple(sorted((a, b, c))) for a, b in edges for c in neighbours[a] & neighbours[b]}
    uses: dict[tuple[int, int], int] = {}
    for a, b, c in cliques:
        for edge in ((a, b), (a, c), (b, c)):
            uses[edge] = uses.get(edge, 0) + 1
    # Every edge of a surface borders at most two triangles. A 3-cycle of edges that is not a
    # face of the mesh (the edges belong to three faces around it) would give each of its edges
    # a third triangle; those cycles are dropped.
    return sorted(t for t in cliques
                  if not all(uses[e] > 2 for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2]))))


def _strip(upper: tuple[int, ...], lower: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Triangles closing the hole between two contours that share their end points."""
    triangles = []
    for i in range(len(upper) - 1):
        u0, u1, l0, l1 = upper[i], upper[i + 1], lower[i], lower[i + 1]
        if u0 == l0:
            triangles.append((u0, u1, l1))
        elif u1 == l1:
            triangles.append((u0, u1, l0))
        else:
            triangles += [(u0, u1, l1), (u0, l1, l0)]
    return triangles


@lru_cache(maxsize=2)
def _triangles(fill_holes: bool) -> np.ndarray:
    triangles = _tessellation_triangles()
    if fill_holes:
        for upper, lower in ((RIGHT_EYE_UPPER, RIGHT_EYE_LOWER), (LEFT_EYE_UPPER, LEFT_EYE_LOWER),
                             (UPPER_LIP_INNER, LOWER_LIP_INNER)):
            triangles += _strip(upper, lower)
    array = np.array(triangles, dtype=np.int64)
    # Orient every triangle so its normal points out of the head (towards the camera for a
    # frontal face); the reference point sits well behind the face surface, inside the head.
    canonical = _canonical().astype(np.float64)
    a, b, c = canonical[array[:, 0]], canonical[array[:, 1]], canonical[array[:, 2]]
    normal = np.cross(b - a, c - a)
    outward = ((a + b + c) / 3 - np.array([0.0, 0.0, 2.0]))
    flip = (normal * outward).sum(axis=1) < 0
    array[flip] = array[flip][:, [0, 2, 1]]
    return _read_only(array)


def mesh_triangles(fill_holes: bool = False) -> np.ndarray:
    """(T, 3) int64 triangles of the 468-point mesh, normals pointing out of the face.

    MediaPipe's mesh leaves the eyes and the mouth open (852 triangles); ``fill_holes`` adds
    triangles across the eye openings and between the inner lips (902 in all), which a
    piecewise-affine warp needs to move the eyes and the mouth interior along.
    """
    return _triangles(bool(fill_holes)).copy()


def _near(points: np.ndarray, targets: np.ndarray, radius: float) -> np.ndarray:
    """Mask of the points within ``radius`` (in the x, y plane) of any target point."""
    distances = np.linalg.norm(points[:, None, :2] - targets[None, :, :2], axis=2)
    return distances.min(axis=1) <= radius


@lru_cache(maxsize=1)
def _regions() -> dict[str, np.ndarray]:
    mesh = _canonical()[:MESH_POINTS].astype(np.float64)
    x, y = mesh[:, 0], mesh[:, 1]
    oval = np.zeros(MESH_POINTS, dtype=bool)
    oval[list(FACE_OVAL)] = True
    lips = list(UPPER_LIP_OUTER + LOWER_LIP_OUTER)
    lower_lid_bottom = mesh[list(RIGHT_EYE_LOWER + LEFT_EYE_LOWER), 1].max()
    brow_top = mesh[list(RIGHT_BROW + LEFT_BROW), 1].min()
    mouth_corner_y = mesh[list(LIP_CORNERS[:2]), 1].mean()
    mouth_half_width = np.abs(mesh[list(LIP_CORNERS[:2]), 0]).mean()
    nose_half_width = np.abs(mesh[list(NOSE), 0]).max()
    # Rules in face units, chosen on the canonical shape and checked against the tessellation:
    # cheeks lie beside the nose wings, between the lower lids and the mouth corners;
    # the forehead is above the brows; the chin below the lower lip, within the mouth's width;
    # the jaw is the face outline below the nose base.
    cheeks = ((np.abs(x) > nose_half_width + 0.1) & (y > lower_lid_bottom + 0.1)
              & (y < mouth_corner_y - 0.05) & ~oval & ~_near(mesh, mesh[lips], 0.05))
    forehead = y < brow_top - 0.05
    chin = (y > mesh[list(LOWER_LIP_OUTER), 1].max() + 0.03) & (np.abs(x) < mouth_half_width)
    jaw = oval & (y > mesh[SUBNASALE, 1] + 0.05)

    def where(mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask)

    named = {
        "left_brow": LEFT_BROW, "right_brow": RIGHT_BROW,
        "left_eye_upper": LEFT_EYE_UPPER, "left_eye_lower": LEFT_EYE_LOWER,
        "right_eye_upper": RIGHT_EYE_UPPER, "right_eye_lower": RIGHT_EYE_LOWER,
        "left_iris": LEFT_IRIS, "right_iris": RIGHT_IRIS, "nose": NOSE,
        "upper_lip_outer": UPPER_LIP_OUTER, "lower_lip_outer": LOWER_LIP_OUTER,
        "upper_lip_inner": UPPER_LIP_INNER, "lower_lip_inner": LOWER_LIP_INNER,
        "lip_corners": LIP_CORNERS, "face_oval": FACE_OVAL,
    }
    regions = {name: np.array(indices, dtype=np.int64) for name, indices in named.items()}
    regions.update({
        "cheeks": where(cheeks), "left_cheek": where(cheeks & (x > 0)),
        "right_cheek": where(cheeks & (x < 0)), "forehead": where(forehead),
        "chin": where(chin), "jaw": np.array([i for i in FACE_OVAL if jaw[i]], dtype=np.int64),
    })
    for indices in regions.values():
        _read_only(indices)
    return regions


def region_indices() -> dict[str, np.ndarray]:
    """Mesh indices of named face regions (fresh arrays; the caller may change them).

    Keys: left_brow, right_brow, left_eye_upper, left_eye_lower, right_eye_upper,
    right_eye_lower, left_iris, right_iris (centre first), nose, upper_lip_outer,
    lower_lip_outer, upper_lip_inner, lower_lip_inner, lip_corners, face_oval, cheeks,
    left_cheek, right_cheek, forehead, chin, jaw. Contours are ordered (see the module
    docstring); cheeks, forehead and chin are sorted index sets; jaw follows the face oval.
    """
    return {name: indices.copy() for name, indices in _regions().items()}


@lru_cache(maxsize=1)
def _rigid() -> np.ndarray:
    mesh = _canonical()[:MESH_POINTS].astype(np.float64)
    y = mesh[:, 1]
    eyelids = mesh[list(RIGHT_EYE_UPPER + RIGHT_EYE_LOWER + LEFT_EYE_UPPER + LEFT_EYE_LOWER)]
    brows = mesh[list(RIGHT_BROW + LEFT_BROW)]
    # Measured on driving clips with a still head and strong expressions (brow raises,
    # smiles, jaw drops, blinks): once the head is aligned, these points move under 0.08 face
    # units in 90% of cases, against 0.3 for the mouth and eyelids. The upper forehead is left
    # out because MediaPipe's estimate of it slides with brow raises.
    rigid = ((y > -1.0) & (y < mesh[SUBNASALE, 1] - 0.03) & ~_near(mesh, eyelids, 0.12)
             & ~_near(mesh, brows, 0.15))
    return _read_only(np.flatnonzero(rigid))


def rigid_indices() -> np.ndarray:
    """Mesh points that facial expressions barely move, used to fit the head pose."""
    return _rigid().copy()
