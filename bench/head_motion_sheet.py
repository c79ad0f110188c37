"""Review sheet of head motion on still portraits: turns (yaw, pitch, roll), translation and zoom.

One row per portrait, one column per motion; look at hair, ears, neck and the background
around the head. Yaw 45 shows the smooth turn limit (it renders as about 30 degrees).

    PYTHONPATH=$PWD python bench/head_motion_sheet.py --output /tmp/head_motion.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "portraits"
PORTRAITS = ("liveportrait_s42.jpg", "vexpress_vasa1_3_ref.jpg", "liveportrait_d30.jpg",
             "face_recognition_obama.jpg", "liveportrait_s9.jpg")
CELL = 256

# (label, yaw, pitch, roll degrees, shift in IODs, zoom)
MOTIONS = (
    ("source", 0, 0, 0, (0.0, 0.0), 1.0),
    ("yaw -25", -25, 0, 0, (0.0, 0.0), 1.0),
    ("yaw +25", 25, 0, 0, (0.0, 0.0), 1.0),
    ("yaw 45 (limited)", 45, 0, 0, (0.0, 0.0), 1.0),
    ("pitch -15", 0, -15, 0, (0.0, 0.0), 1.0),
    ("roll 12", 0, 0, 12, (0.0, 0.0), 1.0),
    ("shift +0.5 IOD x", 0, 0, 0, (0.5, 0.0), 1.0),
    ("shift -0.3 IOD y, zoom 1.15", 0, 0, 0, (0.0, -0.3), 1.15),
)


def render_row(path: Path) -> list[np.ndarray]:
    import cv2

    from fgemotalk_cli.engines.warp.motion import (
        DriverMotion,
        MotionTransfer,
        pivot_shift,
        place,
    )
    from fgemotalk_cli.engines.warp.render import prepare_source, render_warp
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.faces.landmarks import rotation_from_angles
    from fgemotalk_cli.media.images import load_image

    image = load_image(path, max_size=1024)
    source = prepare_source(image, detect_source_face(image))
    geometry = source.geometry
    # The turn limit lives in the motion transfer; drive it with the source as reference.
    transfer = MotionTransfer(geometry, source.points, smoothing=None)
    axes = geometry.frame.rotation
    cells = []
    for label, yaw, pitch, roll, shift, zoom in MOTIONS:
        rotation = axes @ rotation_from_angles(yaw, pitch, roll) @ axes.T
        still = DriverMotion.still()
        limited = transfer.apply_pose_options(DriverMotion(still.expression, rotation,
                                                           np.array(shift), zoom))
        # Turned about the neck, as a head turns (the limit applied first).
        motion = DriverMotion(limited.expression, limited.rotation,
                              limited.shift + pivot_shift(geometry, limited.rotation), zoom)
        frame = render_warp(source, place(geometry, geometry.face, motion))
        height, width = frame.shape[:2]
        side = max(height, width)
        square = np.zeros((side, side, 3), np.uint8)
        square[(side - height) // 2:(side - height) // 2 + height,
               (side - width) // 2:(side - width) // 2 + width] = frame
        cell = cv2.resize(square, (CELL, CELL), interpolation=cv2.INTER_AREA)
        cv2.putText(cell, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 0), 1)
        cells.append(cell)
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("/tmp/head_motion.png"))
    parser.add_argument("--portraits", nargs="*", default=list(PORTRAITS))
    args = parser.parse_args(argv)

    from fgemotalk_cli.media.images import save_image

    rows = [np.concatenate(render_row(MEDIA / name), axis=1) for name in args.portraits]
    save_image(args.output, np.concatenate(rows, axis=0))
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
