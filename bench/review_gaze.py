"""Gaze review: reenacted eyes following the driver's gaze (``--gaze driver``) or keeping the
portrait's (``--gaze source``), before and after.

    python bench/review_gaze.py                                  # this checkout
    python bench/review_gaze.py --before /work/main              # adds the other checkout's row

The driver (liveportrait_d0: looks to the sides) is tracked once and reenacted from frame 0;
the frames where it looks furthest to its left and right (iris centre along the eye, in eye
widths, from its reference frame 0) and a blink are reenacted onto each portrait. Cells are
eye-region crops. Printed per portrait: the driver's gaze change and the source's rendered one
(re-detected), in eye widths: with ``driver`` they should agree, with ``source`` the rendered
one should stay near 0.
Writes ``gaze.png`` and ``gaze.json`` to --out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DRIVER = "liveportrait_d0.mp4"
PORTRAITS = ("sadtalker_sad.png", "liveportrait_s12.jpg", "vexpress_vasa1_3_ref.jpg",
             "liveportrait_s42.jpg")
CELL_W, CELL_H = 320, 110


def eye_crop(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    import cv2

    centre = (xy[33, :2] + xy[263, :2]) / 2
    iod = float(np.linalg.norm(xy[263, :2] - xy[33, :2]))
    half_w, half_h = 0.95 * iod, 0.33 * iod
    x0, y0 = int(centre[0] - half_w), int(centre[1] - half_h)
    x1, y1 = int(centre[0] + half_w), int(centre[1] + half_h)
    crop = image[max(y0, 0): y1, max(x0, 0): x1]
    return cv2.resize(crop, (CELL_W, CELL_H), interpolation=cv2.INTER_AREA)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "gaze")
    parser.add_argument("--before", type=Path, default=None,
                        help="another checkout whose reenacted cells are added as a row")
    parser.add_argument("--cells-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import cv2

    from fgemotalk_cli.engines.base import DriverSample
    from fgemotalk_cli.engines.warp import layout as L
    from fgemotalk_cli.engines.warp.engine import WarpEngine
    from fgemotalk_cli.faces.detector import FaceMeshDetector, detect_source_face
    from fgemotalk_cli.media.images import load_image
    from fgemotalk_cli.media.video import iter_frames

    modes = ("driver",) if args.cells_only else ("driver", "source")
    try:
        import fgemotalk_cli.engines.warp.gaze  # noqa: F401
    except ImportError:  # a checkout from before --gaze: its one behaviour
        modes = ("old",)
    images, faces = [], []
    with FaceMeshDetector() as detector:
        for frame in iter_frames(args.media / "driving" / DRIVER):
            found = detector.detect(frame.image)
            if found:
                images.append(frame.image)
                faces.append(found[0])
        local = [L.face_frame(np.asarray(f.points, np.float64)) for f in faces]
        shapes = [frame.to_face(np.asarray(f.points, np.float64)) for frame, f in zip(local, faces)]

        def along(face: np.ndarray) -> float:
            gaze = []
            for outer, inner, iris in ((33, 133, 468), (263, 362, 473)):
                axis = face[inner, :2] - face[outer, :2]
                axis = axis if axis[0] > 0 else -axis  # towards the subject's left, both eyes
                width = float(np.linalg.norm(axis))
                gaze.append(float((face[iris, :2] - (face[inner, :2] + face[outer, :2]) / 2)
                                  @ axis / width**2))
            return float(np.mean(gaze))

        def opening(face: np.ndarray) -> float:
            return float(np.mean([face[145, 1] - face[159, 1], face[374, 1] - face[386, 1]]))

        horizontal = np.array([along(face) - along(shapes[0]) for face in shapes])
        openings = np.array([opening(face) for face in shapes])
        picks = {"looks one way": int(np.argmax(horizontal)),
                 "looks the other": int(np.argmin(horizontal)),
                 "blink": int(np.argmin(openings))}
        rows, report = [], {"picks": picks, "driver_gaze": {k: float(horizontal[v])
                                                            for k, v in picks.items()}}
        rows.append([eye_crop(images[i], np.asarray(faces[i].points)) for i in picks.values()])
        for name in PORTRAITS:
            image = load_image(args.media / "portraits" / name)
            face = detect_source_face(image)
            xy = np.asarray(face.points, np.float64)
            source_along = along(L.face_frame(xy).to_face(xy))
            for mode in modes:
                engine = WarpEngine() if mode == "old" else WarpEngine(gaze=mode)  # type: ignore[arg-type]
                row, measured = [], {}
                # The whole run up to the last pick, so the motion filters see real motion.
                state = engine.prepare(image, face)
                engine.set_reference(state, DriverSample(images[0], faces[0], 0.0))
                outputs = {}
                last = max(picks.values())
                for start in range(0, last + 1, 8):
                    batch = range(start, min(start + 8, last + 1))
                    samples = [DriverSample(images[i], faces[i], i / 25) for i in batch]
                    for i, out in zip(batch, engine.reenact(state, samples, [{}] * len(samples),
                                                            "add")):
                        if i in picks.values():
                            outputs[i] = out
                for label, index in picks.items():
                    out = outputs[index]
                    row.append(eye_crop(out, xy))
                    found = detector.detect(out)
                    if found:
                        points = np.asarray(found[0].points, np.float64)
                        measured[label] = along(L.face_frame(points).to_face(points)) - source_along
                rows.append(row)
                report[f"{name} {mode}"] = measured
    print(json.dumps(report, indent=1))
    if args.cells_only:
        np.save(args.cells_only, np.asarray(rows[1:]))
        return 0
    if args.before is not None:
        before_cells = args.out / "before_cells.npy"
        args.out.mkdir(parents=True, exist_ok=True)
        env = {"PYTHONPATH": str(args.before), "PATH": "/usr/bin:/bin"}
        subprocess.run([sys.executable, __file__, "--media", str(args.media), "--cells-only",
                        str(before_cells)], check=True, env=env)
        before = list(np.load(before_cells))
        rows = [rows[0], *[list(row) for row in before], *rows[1:]]
    args.out.mkdir(parents=True, exist_ok=True)
    sheet = np.concatenate([np.concatenate(row, axis=1) for row in rows])
    cv2.imwrite(str(args.out / "gaze.png"), sheet[..., ::-1])
    (args.out / "gaze.json").write_text(json.dumps(report, indent=1))
    print(args.out / "gaze.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
