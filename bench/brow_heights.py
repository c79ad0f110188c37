"""Brow heights and brow scores of real faces: portraits at rest, clips from rest to their peak.

`python bench/brow_heights.py [--clips d5,d7,vasa1_7] [--step 3] [--portraits]`: the
landmarker's brow heights (:func:`~fgemotalk_cli.expression.landmark_readout.brow_heights`,
tail / middle / inner above the eye line, IOD) with browOuterUp, browInnerUp and browDown,
for each shared portrait, and for each clip its first frame and the frames whose brows rise
or fall the most against it (every ``--step``-th frame, each read as a photo). It answers
whether a face's brow reading is a floor of the ruler: does a real low-set brow that rises
as far as ours read more than our edit does?
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _row(face) -> np.ndarray:
    from fgemotalk_cli.expression.landmark_readout import brow_heights, face_units

    s = face.scores
    return np.array([*brow_heights(face_units(face.landmarks.points)),
                     (s["browOuterUpLeft"] + s["browOuterUpRight"]) / 2, s["browInnerUp"],
                     (s["browDownLeft"] + s["browDownRight"]) / 2])


def _line(label: str, row: np.ndarray, rest: np.ndarray | None = None) -> str:
    heights = " ".join(f"{v:.3f}" for v in row[:3])
    rise = "" if rest is None else " (" + " ".join(f"{v:+.3f}" for v in row[:3] - rest[:3]) + ")"
    return (f"{label:<28} tail/middle/inner {heights}{rise}  outerUp {row[3]:.2f} innerUp "
            f"{row[4]:.2f} down {row[5]:.2f}")


def main() -> int:
    sys.path.insert(0, str(REPO))
    from fgemotalk_cli.expression.blendshapes import BlendshapeReader
    from fgemotalk_cli.media.images import load_image
    from fgemotalk_cli.media.video import iter_frames

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--clips", default="", help="Comma separated name filter (driving/).")
    parser.add_argument("--step", type=int, default=3)
    parser.add_argument("--portraits", action="store_true")
    args = parser.parse_args()
    with BlendshapeReader(video_mode=False) as reader:
        if args.portraits:
            for path in sorted((args.media / "portraits").glob("*")):
                face = reader.read(load_image(path, max_size=512))
                if face is not None:
                    print(_line(path.stem, _row(face)))
        wanted = [w for w in args.clips.split(",") if w]
        for path in sorted((args.media / "driving").glob("*.mp4")):
            if not wanted or not any(w in path.stem for w in wanted):
                continue
            rows = {}
            for index, frame in enumerate(iter_frames(path, max_size=1024)):
                if index % args.step == 0:
                    face = reader.read(frame.image)
                    if face is not None:
                        rows[index] = _row(face)
            if not rows:
                continue
            first = min(rows)
            rest = rows[first]
            print(_line(f"{path.stem[:20]} {first}", rest))
            middle = {index: row[1] - rest[1] for index, row in rows.items()}
            for index in (max(middle, key=middle.get), min(middle, key=middle.get)):
                print(_line(f"  frame {index}", rows[index], rest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
