"""Zoomed review sheet of the glasses layer: its mask, the skin under it, brow and lid edits.

    python bench/glasses_sheet.py --images a.png,b.png --out /tmp/glasses.png
    python bench/glasses_sheet.py --checkout /tmp/old --images a.png --out /tmp/before.png
    python bench/glasses_sheet.py --videos out.mp4:0,40,80 --out /tmp/reenact.png

One row per image: the source around the eyes, the frame mask over it (red where the layer's
alpha is over 0.5, yellow where it is soft), the skin layer (the source with the frame
inpainted away), then each ``--edits`` vector as ``edit-au`` renders it (calibrated). One row
per ``--videos`` clip: its frames, zoomed the same way. ``--checkout`` runs another checkout's
code (a "before" sheet). Prints, per image, the mask's area and mean width in eye distances
(IOD), which tells a frame-wide mask from one that takes the brows and lids along.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sheet_tiles import box_tile, clip_rows, edit_vectors, tile_row, write_sheet

REPO = Path(__file__).resolve().parents[1]
TILE_WIDTH = 320
DEFAULT_EDITS = "1=5,2=5;4=5;5=5;43=5;12=4"


def eye_box(points: np.ndarray) -> tuple[float, float, float, float]:
    """x0, y0, x1, y1 of the band from above the brows to below the lenses, temple to temple."""
    xy = points[:, :2]
    iod = float(np.linalg.norm(xy[263] - xy[33]))
    x0, x1 = sorted((float(xy[127, 0]), float(xy[356, 0])))
    y0 = float(xy[[105, 334, 66, 296], 1].min()) - 0.25 * iod
    y1 = float(xy[[145, 374], 1].max()) + 0.45 * iod
    return x0 - 0.05 * iod, y0, x1 + 0.05 * iod, y1


def tile(image: np.ndarray, box: tuple[float, float, float, float], label: str) -> np.ndarray:
    return box_tile(image, box, label, TILE_WIDTH)


def mask_overlay(image: np.ndarray, glasses: object) -> np.ndarray:
    """The image with the layer's alpha over 0.5 in red and its soft edge in yellow."""
    shown = image.astype(np.float32).copy()
    if glasses is None:
        return image.copy()
    x0, y0, x1, y1 = glasses.box  # type: ignore[attr-defined]
    alpha = glasses.alpha  # type: ignore[attr-defined]
    region = shown[y0:y1, x0:x1]
    hard = alpha > 0.5
    soft = (alpha > 0.02) & ~hard
    region[hard] = 0.35 * region[hard] + 0.65 * np.array([255, 0, 0], np.float32)
    region[soft] = 0.5 * region[soft] + 0.5 * np.array([255, 255, 0], np.float32)
    return np.clip(shown, 0, 255).astype(np.uint8)


def mask_figures(glasses: object, iod: float) -> str:
    """The mask's area (IOD squared) and mean width (IOD): area over skeleton length."""
    import cv2

    if glasses is None:
        return "no layer"
    hard = (glasses.alpha > 0.5).astype(np.uint8)  # type: ignore[attr-defined]
    skeleton = np.zeros_like(hard)
    work = hard.copy()
    element = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    while work.any():  # morphological skeleton
        eroded = cv2.erode(work, element)
        skeleton |= work - cv2.dilate(eroded, element)
        work = eroded
    length = max(int(skeleton.sum()), 1)
    return (f"area {hard.sum() / iod ** 2:.3f} IOD^2, mean width "
            f"{hard.sum() / length / iod:.3f} IOD")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkout", type=Path, default=REPO)
    parser.add_argument("--images", default="")
    parser.add_argument("--videos", default="", help="';' separated path:frame,frame")
    parser.add_argument("--edits", default=DEFAULT_EDITS,
                        help="';' separated AU vectors, e.g. '1=5,2=5;4=5'.")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    sys.path.insert(0, str(args.checkout.resolve()))

    from fgemotalk_cli.engines.warp.engine import WarpEngine
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image

    engine = WarpEngine(calibrate="auto")
    vectors, labels = edit_vectors(args.edits)
    count = len(vectors) + 3
    rows = []
    for name in [n for n in args.images.split(",") if n]:
        image = load_image(Path(name))
        landmarks = detect_source_face(image)
        state = engine.prepare(image, landmarks)
        glasses = state.source.glasses
        xy = landmarks.points[:, :2]
        print(Path(name).name, mask_figures(glasses, float(np.linalg.norm(xy[263] - xy[33]))))
        box = eye_box(landmarks.points)
        tiles = [tile(image, box, Path(name).stem[-14:]),
                 tile(mask_overlay(image, glasses), box, "mask"),
                 tile(image if glasses is None else glasses.skin_image, box, "skin layer")]
        if vectors:
            engine._calibrate(state, vectors)
            edits = engine.edit(state, vectors, "add")
            tiles += [tile(e, box, label) for e, label in zip(edits, labels)]
        rows.append(tile_row(tiles, count))
    boxes: dict[str, tuple[float, float, float, float]] = {}  # each clip's first frame's

    def clip_tile(name: str, index: int, rgb: np.ndarray) -> np.ndarray:
        if name not in boxes:
            boxes[name] = eye_box(detect_source_face(rgb).points)
        return tile(rgb, boxes[name], f"{Path(name).stem[-16:]} {index}")

    rows += clip_rows(args.videos, Path, clip_tile, count)
    write_sheet(args.out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
