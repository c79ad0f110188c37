"""Review sheets of the warp engine's AUs: portraits x intensities, one sheet per AU.

`python bench/au_grid_sheet.py --aus 4,5,15,20 --portraits s9,d19,obama --out /tmp/sheets`:
for each AU a PNG whose rows are portraits and whose columns are intensities 0..5 (each
tile the face, cropped and scaled alike), and with ``--presets happy,sad`` one sheet of
portraits x presets. Meant to be looked at: an AU at 5 must read as that AU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sheet_tiles import box_tile

REPO = Path(__file__).resolve().parents[1]
TILE_PX = 176


def face_tile(image: np.ndarray, points: np.ndarray, label: str) -> np.ndarray:
    """The face of ``image`` (box of its landmarks, widened a little) as a labelled tile."""
    x0, y0 = points[:, :2].min(axis=0)
    x1, y1 = points[:, :2].max(axis=0)
    centre, half = ((x0 + x1) / 2, (y0 + y1) / 2), 0.6 * max(x1 - x0, y1 - y0)
    return box_tile(image, (centre[0] - half, centre[1] - half, centre[0] + half,
                            centre[1] + half), label, TILE_PX)


def main() -> int:
    sys.path.insert(0, str(REPO))
    import cv2

    from fgemotalk_cli.engines.warp.engine import WarpEngine
    from fgemotalk_cli.expression.aus import load_preset
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image
    from fgemotalk_cli.pipelines.common import even_size

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "au_sheets")
    parser.add_argument("--aus", default="1,2,4,5,12,15,20,26,43")
    parser.add_argument("--presets", default="", help="Comma separated presets: one sheet.")
    parser.add_argument("--portraits", default="", help="Comma separated name filter.")
    parser.add_argument("--calibrate", default="auto", choices=("off", "auto", "full"))
    args = parser.parse_args()
    engine = WarpEngine(calibrate=args.calibrate)
    wanted = [w for w in args.portraits.split(",") if w]
    paths = [p for p in sorted((args.media / "portraits").glob("*"))
             if not wanted or any(w in p.stem for w in wanted)]
    faces = []
    for path in paths:
        image = even_size(load_image(path, max_size=512))
        landmarks = detect_source_face(image)
        faces.append((path.stem, engine.prepare(image, landmarks), landmarks.points))
    args.out.mkdir(parents=True, exist_ok=True)
    columns: dict[str, list[tuple[str, dict[int, float]]]] = {}
    for au in [int(a) for a in args.aus.split(",") if a]:
        columns[f"au{au}"] = [(f"AU{au}={k}", {au: float(k)}) for k in range(6)]
    if args.presets:
        columns["presets"] = [("neutral", {})] + [
            (name, dict(load_preset(name).aus)) for name in args.presets.split(",")]
    for sheet, entries in columns.items():
        rows = []
        for name, state, points in faces:
            edits = engine.edit(state, [vector for _, vector in entries], "add")
            rows.append(np.hstack([face_tile(frame, points, f"{name[:14]} {label}")
                                   for frame, (label, _) in zip(edits, entries)]))
        target = args.out / f"{sheet}.png"
        cv2.imwrite(str(target), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
