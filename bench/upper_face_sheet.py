"""Zoomed review sheet of the upper face: our brow and eye AUs beside real ones.

`python bench/upper_face_sheet.py --portraits obama,d30,s9 --out /tmp/upper.png`: one row per
portrait (neutral, then each ``--edits`` vector at full strength), then one row per real clip
of ``--real`` (``clip:rest,frame,frame``: its rest frame, then the frames that show the
action), every tile the band from the forehead to below the eyes at the same width. Meant
to be looked at beside real actions: forehead lines, furrows, the brow hair moving as a band,
the lid fold, the white above the iris.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sheet_tiles import box_tile, clip_rows, edit_vectors, tile_row, write_sheet

REPO = Path(__file__).resolve().parents[1]
TILE_WIDTH = 300
DEFAULT_REAL = ("liveportrait_d7:0,140,172;liveportrait_d8:0,118;vexpress_vasa1_7_gt:0,228;"
                "lia_vox_driving2:0,102;liveportrait_d10:0,88,336")
DEFAULT_EDITS = "2=5;4=5;1=5,2=5;5=5"


def upper_face_tile(image: np.ndarray, points: np.ndarray, label: str) -> np.ndarray:
    """The band from the top of the forehead to below the eyes, face-wide, as a tile."""

    xy = points[:, :2]
    iod = float(np.linalg.norm(xy[263] - xy[33]))
    x0, x1 = min(xy[234, 0], xy[454, 0]), max(xy[234, 0], xy[454, 0])
    y0 = float(xy[[10, 109, 338], 1].min()) - 0.1 * iod
    y1 = float(xy[[145, 374], 1].max()) + 0.3 * iod
    return box_tile(image, (x0, y0, x1, y1), label, TILE_WIDTH)


def main() -> int:
    sys.path.insert(0, str(REPO))

    from fgemotalk_cli.engines.warp.engine import WarpEngine
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image
    from fgemotalk_cli.pipelines.common import even_size

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "upper.png")
    parser.add_argument("--portraits", default="obama,art_20,d30,s9,s7,s42,sadtalker_sad")
    parser.add_argument("--edits", default=DEFAULT_EDITS,
                        help="';' separated AU vectors, e.g. '2=5;1=5,2=5'.")
    parser.add_argument("--real", default=DEFAULT_REAL)
    args = parser.parse_args()
    engine = WarpEngine(calibrate="auto")
    vectors, labels = edit_vectors(args.edits)
    count = len(vectors) + 1
    rows = []
    wanted = [w for w in args.portraits.split(",") if w]
    for path in sorted((args.media / "portraits").glob("*")):
        if not any(w in path.stem for w in wanted):
            continue
        image = even_size(load_image(path, max_size=512))
        landmarks = detect_source_face(image)
        state = engine.prepare(image, landmarks)
        engine._calibrate(state, vectors)
        edits = engine.edit(state, vectors, "add")
        rows.append(tile_row([upper_face_tile(image, landmarks.points, path.stem[-12:])]
                         + [upper_face_tile(e, landmarks.points, label)
                            for e, label in zip(edits, labels)], count))

    def clip_tile(name: str, index: int, rgb: np.ndarray) -> np.ndarray:
        frame = even_size(rgb)
        return upper_face_tile(frame, detect_source_face(frame).points, f"{name[-10:]} {index}")

    rows += clip_rows(args.real, lambda name: args.media / "driving" / f"{name}.mp4",
                      clip_tile, count)
    write_sheet(args.out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
