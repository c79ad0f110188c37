"""Review sheet of head motion on still portraits: turns (yaw, pitch, roll), translation and zoom.

One row per portrait, one column per motion; look at hair, ears, neck and the background
around the head. Yaw 45 shows the smooth turn limit (it renders as about 30 degrees).

    PYTHONPATH=$PWD python bench/head_motion_sheet.py --output /tmp/head_motion.png

With ``--driver CLIP`` every portrait is reenacted by a driving clip instead, at the clip's
frames of largest head displacement (shift, zoom, roll from its first frame), and each cell is
the head's surroundings zoomed (hair top and sides, the frame's edges there): where a ghost of
the hair, a torn edge or a streak at the frame border shows. ``--code`` renders with another
checkout (the "before"); ``--compare A.npz B.npz`` stacks two runs' rows in pairs.

    PYTHONPATH=/work/base python bench/head_motion_sheet.py --driver liveportrait_d12.mp4 \
        --code /work/base --output /tmp/d12_before.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "portraits"
DRIVING = MEDIA.parent / "driving"
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


def eye_pose(points: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Eye midpoint, inter-ocular distance and roll (radians) of a face's landmarks."""
    right, left = points[[33, 133], :2].mean(axis=0), points[[362, 263], :2].mean(axis=0)
    across = left - right
    return (right + left) / 2, float(np.linalg.norm(across)), float(np.arctan2(across[1],
                                                                               across[0]))


def displaced_frames(driver: Path, count: int, apart: int = 15) -> list[int]:
    """The ``count`` frames (at least ``apart`` apart) of largest head displacement from the
    first: eye-midpoint shift in IODs, plus zoom and roll (a 10% zoom or 6 degrees of roll
    count as much as a shift of 0.1 IOD)."""
    from fgemotalk_cli.faces.detector import FaceMeshDetector
    from fgemotalk_cli.media.video import iter_frames

    scores: list[float] = []
    first: tuple[np.ndarray, float, float] | None = None
    with FaceMeshDetector() as detector:
        for frame in iter_frames(driver):
            faces = detector.detect(frame.image)
            if not faces:
                scores.append(-1.0)
                continue
            centre, iod, roll = eye_pose(np.asarray(faces[0].points, np.float64))
            if first is None:
                first = (centre, iod, roll)
            shift = float(np.linalg.norm(centre - first[0])) / first[1]
            scores.append(shift + abs(np.log(iod / first[1])) + abs(roll - first[2]))
    chosen: list[int] = []
    for index in np.argsort(scores)[::-1]:
        if all(abs(int(index) - other) >= apart for other in chosen):
            chosen.append(int(index))
        if len(chosen) == count:
            break
    return sorted(chosen)


def head_surroundings(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The source head's place and its surroundings (hair top and sides, down to the
    chin), cut from a frame and scaled to a cell: where a moving head's ghost would show."""
    import cv2

    centre, iod, _ = eye_pose(points)
    height, width = frame.shape[:2]
    x0, x1 = int(max(centre[0] - 2.6 * iod, 0)), int(min(centre[0] + 2.6 * iod, width))
    y0, y1 = int(max(centre[1] - 3.0 * iod, 0)), int(min(centre[1] + 1.8 * iod, height))
    crop = frame[y0:y1, x0:x1]
    scale = DRIVER_CELL / max(crop.shape[:2])
    crop = cv2.resize(crop, (round(crop.shape[1] * scale), round(crop.shape[0] * scale)),
                      interpolation=cv2.INTER_AREA)
    cell = np.zeros((DRIVER_CELL, DRIVER_CELL, 3), np.uint8)
    cell[:crop.shape[0], :crop.shape[1]] = crop
    return cell


DRIVER_CELL = 320


def driver_row(path: Path, driver: Path, frames: list[int]) -> list[np.ndarray]:
    """A portrait reenacted by ``driver`` at ``frames`` (no temporal smoothing: each frame
    is the motion of that driver frame), each cell the head's surroundings zoomed."""
    import cv2

    from fgemotalk_cli.engines.base import DriverSample
    from fgemotalk_cli.engines.warp.engine import WarpEngine
    from fgemotalk_cli.engines.warp.motion import MotionTransfer
    from fgemotalk_cli.faces.detector import FaceMeshDetector
    from fgemotalk_cli.media.video import iter_frames
    from fgemotalk_cli.pipelines.common import load_source_face

    source = load_source_face(path, 0)
    engine = WarpEngine()
    state = engine.prepare(source.image, source.landmarks)
    points = np.asarray(source.landmarks.points, np.float64)
    cells = [head_surroundings(source.image, points)]
    cv2.putText(cells[0], path.stem[:28], (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42,
                (255, 255, 0), 1)
    with FaceMeshDetector() as detector:
        for number, frame in enumerate(iter_frames(driver)):
            if number and number not in frames:
                continue
            faces = detector.detect(frame.image)
            sample = DriverSample(frame.image, faces[0] if faces else None, frame.time_seconds)
            if number == 0:
                engine.set_reference(state, sample)
                state.transfer = MotionTransfer(state.source.geometry, sample.landmarks,
                                                smoothing=None)
            if number in frames:
                image = engine.reenact(state, [sample], [{}], "add")[0]
                cell = head_surroundings(image, points)
                cv2.putText(cell, f"frame {number}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42,
                            (255, 255, 0), 1)
                cells.append(cell)
    return cells


def compare(before: Path, after: Path, output: Path) -> None:
    """Two runs' rows in pairs: each portrait's before row above its after row."""
    from fgemotalk_cli.media.images import save_image

    first, second = np.load(before)["rows"], np.load(after)["rows"]
    rows = []
    for old, new in zip(first, second):
        rows += [old, new, np.full((4, *old.shape[1:]), 255, np.uint8)]
    save_image(output, np.concatenate(rows, axis=0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("/tmp/head_motion.png"))
    parser.add_argument("--portraits", nargs="*", default=None)
    parser.add_argument("--driver", help="a clip in shared/media/driving")
    parser.add_argument("--frames", type=int, default=3, help="driver frames per portrait")
    parser.add_argument("--at", type=int, nargs="*", help="these driver frames instead")
    parser.add_argument("--code", type=Path, default=None, help="checkout whose code runs")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args(argv)
    if args.code is not None:
        sys.path.insert(0, str(args.code))
    if args.compare:
        compare(*args.compare, args.output)
        print(args.output)
        return 0

    from fgemotalk_cli.media.images import save_image

    if args.driver:
        names = args.portraits or sorted(path.name for path in MEDIA.iterdir())
        frames = args.at or displaced_frames(DRIVING / args.driver, args.frames)
        print("driver frames", frames)
        rows = [np.concatenate(driver_row(MEDIA / name, DRIVING / args.driver, frames), axis=1)
                for name in names]
        np.savez_compressed(args.output.with_suffix(".npz"), rows=np.stack(rows))
    else:
        rows = [np.concatenate(render_row(MEDIA / name), axis=1)
                for name in args.portraits or PORTRAITS]
    save_image(args.output, np.concatenate(rows, axis=0))
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
