"""Derive fgemotalk_cli/faces/mesh_model_data.py, the canonical face mesh, from ../shared/media.

MediaPipe's canonical_face_model.obj is not inside the mediapipe wheel, so the canonical shape
is measured instead: the refined FaceMesh of 24 near-frontal, mostly neutral faces (8 portraits
and the first frame of 16 driving clips), each centred on its mesh centroid and scaled to unit
inter-ocular distance, rotated onto their common mean (generalised Procrustes analysis),
averaged, then averaged with its own mirror image so that the result is exactly symmetric
and faces straight ahead. Run from the repository root:

    python tools/derive_face_model.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
MEDIA = REPO_ROOT.parent / "shared" / "media"
OUTPUT = REPO_ROOT / "fgemotalk_cli" / "face_model_data.py"
PORTRAITS = ("sadtalker_sad.png", "liveportrait_s42.jpg", "liveportrait_s12.jpg",
             "liveportrait_s2.jpg", "liveportrait_s9.jpg", "sadtalker_art_20.png",
             "face_recognition_obama.jpg", "vexpress_vasa1_3_ref.jpg")
CLIPS = ("liveportrait_d0", "liveportrait_d1", "liveportrait_d2", "liveportrait_d5",
         "liveportrait_d7", "liveportrait_d8", "liveportrait_d10", "liveportrait_d11",
         "liveportrait_d12", "liveportrait_d18", "liveportrait_d20", "lia_vox_driving2",
         "sadtalker_WDA_AlexandriaOcasioCortez_000", "sadtalker_WDA_KatieHill_000",
         "vexpress_vasa1_3_gt", "vexpress_vasa1_7_gt")


def _faces() -> list[np.ndarray]:
    sys.path.insert(0, str(REPO_ROOT))
    from fgemotalk_cli.faces.detector import FaceMeshDetector
    from fgemotalk_cli.media.images import load_image
    from fgemotalk_cli.media.video import iter_frames

    images = [load_image(MEDIA / "portraits" / name) for name in PORTRAITS]
    images += [next(iter_frames(MEDIA / "driving" / f"{name}.mp4")).image for name in CLIPS]
    with FaceMeshDetector(video_mode=False) as detector:
        return [detector.detect(image)[0].points.astype(np.float64) for image in images]


def _normalised(points: np.ndarray) -> np.ndarray:
    centred = points - points[:468].mean(axis=0)
    right = (centred[33] + centred[133]) / 2
    left = (centred[263] + centred[362]) / 2
    return centred / np.linalg.norm(left - right)


def _rotation_onto(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Kabsch: the rotation R minimising |R source - target| over centred point sets."""
    u, _, vt = np.linalg.svd(target.T @ source)
    sign = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, sign]) @ vt


def derive(faces: list[np.ndarray]) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment

    shapes = [_normalised(face) for face in faces]
    mean = _normalised(np.mean(shapes, axis=0))  # starts in the photos' average orientation
    for _ in range(10):
        aligned = [shape @ _rotation_onto(shape[:468], mean[:468]).T for shape in shapes]
        mean = _normalised(np.mean(aligned, axis=0))
    mirrored = mean * np.array([-1.0, 1.0, 1.0])
    cost = np.linalg.norm(mean[:, None, :] - mirrored[None, :, :], axis=2)
    _, partner = linear_sum_assignment(cost)
    if not np.array_equal(partner[partner], np.arange(len(partner))):
        raise SystemExit("the left/right pairing of the mesh is not an involution")
    symmetric = _normalised((mean + mirrored[partner]) / 2)
    symmetric[partner == np.arange(len(partner)), 0] = 0.0
    return symmetric


def write_module(points: np.ndarray) -> None:
    values = np.round(points.astype(np.float64), 4) + 0.0  # + 0.0 turns -0.0 into 0.0
    rows = [" ".join(f"{v:.4f}," for v in values[i:i + 3].ravel()) for i in range(0, 478, 3)]
    body = "\n".join(f"    {row}" for row in rows)
    total = len(PORTRAITS) + len(CLIPS)
    header = f'''"""Canonical face mesh in face units, written by tools/derive_face_model.py.

478 points (468 mesh points, then the iris centres and rims 468..477) as x, y, z triples,
three points to a line. Face units: origin at the centroid of the 468 mesh points, x towards
the subject's left, y down the face, z away from the camera, 1 = the distance between the
eye centres (midpoints of each eye's corners).

MediaPipe's own canonical_face_model.obj does not ship in the mediapipe wheel, so this shape
was measured with mediapipe 0.10.21 FaceMesh (refined) on {total} near-frontal faces of the
project's test media ({len(PORTRAITS)} portraits, the first frames of {len(CLIPS)} driving clips),
aligned by generalised Procrustes analysis, averaged, and made symmetric by averaging it with
its mirror image. It is an average shape, not any one person's face.
"""
'''
    OUTPUT.write_text(f"{header}\nCANONICAL_POINTS = (\n{body}\n)\n")


def main() -> None:
    points = derive(_faces())
    write_module(points)
    print(f"wrote {OUTPUT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
