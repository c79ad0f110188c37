"""Warp engine realism review: one sheet of mouths, eyes and reenacted frames, before and after.

    python bench/review_realism.py --label after                      # this checkout
    PYTHONPATH=/work/main python bench/review_realism.py --label before --code /work/main
    python bench/review_realism.py --compare                          # before | after sheet

Each run renders 6 portraits x {AU26=4, AU25+26, surprise, happy, AU4=5, AU43=5, a reenacted
frame with the mouth open, one with it closed} (the reenacted cells from a source showing
its teeth on the portrait's row where it has some) and writes ``<label>.png`` (the sheet),
``<label>.npz`` (the cells) and ``<label>.json`` (mouth interior statistics) to --out.
``--compare`` stacks the before and after sheets' rows side by side.

Mouth interior statistics: inside the inner-lip polygon of every opened mouth, the share of
near-black pixels (luma < 40) and of teeth-like pixels (bright, unsaturated), next to the
same measures on real open mouths: frames of the shared talking clips whose inner-lip
opening is large, detected with the same face mesh.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from checkouts import add_before_after_arguments, use_checkout

REPO = Path(__file__).resolve().parents[1]
PORTRAITS = ("sadtalker_sad.png", "liveportrait_s12.jpg", "face_recognition_obama.jpg",
             "sadtalker_art_20.png", "vexpress_vasa1_13_ref.jpg", "liveportrait_d12.mp4")
EDITS = (("AU26=4", {26: 4.0}), ("AU25+26", {25: 4.0, 26: 3.0}),
         ("surprise", {1: 4.0, 2: 4.0, 5: 2.0, 25: 3.0, 26: 4.0}),
         ("happy", {1: 2.0, 12: 4.0}), ("AU4=5", {4: 5.0}), ("AU43=5", {43: 5.0}))
TOOTHY_SOURCES = ("face_recognition_obama.jpg", "vexpress_vasa1_13_ref.jpg",
                  "vexpress_vasa1_3_ref.jpg")
MOUTH_DRIVER = "liveportrait_d18.mp4"  # neutral, then a wide jaw drop
REAL_OPEN_CLIPS = ("sadtalker_WDA_AlexandriaOcasioCortez_000.mp4",
                   "sadtalker_WDA_KatieHill_000.mp4",
                   "vexpress_vasa1_3_gt.mp4", "vexpress_vasa1_7_gt.mp4", "liveportrait_d10.mp4",
                   "liveportrait_d12.mp4", "liveportrait_d18.mp4", "liveportrait_d20.mp4",
                   "liveportrait_d0.mp4", "liveportrait_d5.mp4")
CELL = 224
INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88,
         95)  # MediaPipe inner lip contour, in order around the opening
OPEN_RATIO = 0.06  # inner-lip area over squared mouth width: counts as a clearly open mouth


def first_frame(path: Path, index: int = 0) -> np.ndarray:
    from fgemotalk_cli.media.video import iter_frames

    for number, frame in enumerate(iter_frames(path)):
        if number == index:
            return frame.image
    raise ValueError(f"{path} has fewer than {index + 1} frames")


def load_portrait(media: Path, name: str) -> np.ndarray:
    from fgemotalk_cli.media.images import downscale_to_max_side, load_image
    from fgemotalk_cli.pipelines.common import even_size

    path = media / ("driving" if name.endswith(".mp4") else "portraits") / name
    image = first_frame(path) if name.endswith(".mp4") else load_image(path)
    return even_size(downscale_to_max_side(image, 768))


def opening_ratio(xy: np.ndarray) -> float:
    inner = xy[list(INNER), :2]
    x, y = inner[:, 0], inner[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    width = float(np.linalg.norm(xy[308, :2] - xy[78, :2]))
    return area / max(width * width, 1e-6)


def interior_shares(image: np.ndarray, xy: np.ndarray) -> tuple[float, float] | None:
    """(near-black share, teeth-like share) inside the inner-lip polygon, or None when the
    mouth is not clearly open. Teeth-like: luma above 0.8 of the cheeks' and saturation
    below 0.35 (so it holds on dark and light skin and under warm light alike)."""
    import cv2

    if opening_ratio(xy) < OPEN_RATIO:
        return None
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(xy[list(INNER), :2]).astype(np.int32)], 1)
    # The detected contour runs on the wet inside of the lips: erode a little.
    iod = float(np.linalg.norm(xy[263, :2] - xy[33, :2]))
    size = max(1, int(round(0.03 * iod)))
    mask = cv2.erode(mask, np.ones((size, size), np.uint8))
    pixels = image[mask.astype(bool)].astype(np.float64)
    if len(pixels) < 30:
        return None
    luma = pixels @ np.array([0.299, 0.587, 0.114])
    cheeks = []
    for index in (50, 280, 205, 425):
        x, y = np.round(xy[index, :2]).astype(int)
        r = max(2, int(0.06 * iod))
        cheeks.append(image[max(y - r, 0): y + r, max(x - r, 0): x + r].reshape(-1, 3))
    cheek_luma = float(np.median(np.concatenate(cheeks).astype(np.float64)
                                 @ np.array([0.299, 0.587, 0.114])))
    saturation = np.ptp(pixels, axis=1) / np.maximum(pixels.max(axis=1), 1.0)
    teeth = (luma > max(0.8 * cheek_luma, 90.0)) & (saturation < 0.35)
    return float((luma < 40).mean()), float(teeth.mean())


def real_open_mouths(media: Path, per_clip: int = 8, stride: int = 5) -> list[tuple[float, float]]:
    """Interior shares on up to ``per_clip`` clearly open mouth frames of each talking clip."""
    from fgemotalk_cli.faces.detector import FaceMeshDetector
    from fgemotalk_cli.media.video import iter_frames

    shares = []
    with FaceMeshDetector() as detector:
        for name in REAL_OPEN_CLIPS:
            found = []
            for number, frame in enumerate(iter_frames(media / "driving" / name)):
                if number % stride or number > 400:
                    continue
                faces = detector.detect(frame.image)
                if faces:
                    xy = np.asarray(faces[0].points, np.float64)
                    result = interior_shares(frame.image, xy)
                    if result is not None:
                        found.append((opening_ratio(xy), result))
            found.sort(key=lambda item: -item[0])
            shares.extend(result for _, result in found[:per_clip])
    return shares


def face_crop(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """A square crop from the brows to the chin, resized to CELL."""
    import cv2

    centre = (xy[:, :2].min(0) + xy[:, :2].max(0)) / 2
    half = 0.55 * float(np.ptp(xy[:, :2], axis=0).max())
    x0, y0 = np.round(centre - half).astype(int)
    x1, y1 = np.round(centre + half).astype(int)
    padded = cv2.copyMakeBorder(image, 400, 400, 400, 400, cv2.BORDER_CONSTANT)
    crop = padded[y0 + 400: y1 + 400, x0 + 400: x1 + 400]
    return cv2.resize(crop, (CELL, CELL), interpolation=cv2.INTER_AREA)


def driver_frames(media: Path, clip: str = MOUTH_DRIVER,
                  every: int = 4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A driving clip's frames (every ``every``-th) with a face, and their landmarks."""
    from fgemotalk_cli.faces.detector import FaceMeshDetector
    from fgemotalk_cli.media.video import iter_frames

    images, points = [], []
    with FaceMeshDetector() as detector:
        for number, frame in enumerate(iter_frames(media / "driving" / clip)):
            if number % every:
                continue
            faces = detector.detect(frame.image)
            if faces:
                images.append(frame.image)
                points.append(faces[0])
    return images, points


def render_cells(media: Path) -> tuple[list[list[np.ndarray]], list[dict], float]:
    from fgemotalk_cli.engines.base import DriverSample
    from fgemotalk_cli.engines.warp.engine import WarpEngine
    from fgemotalk_cli.faces.detector import detect_source_face

    engine = WarpEngine()
    images, landmarks = driver_frames(media)
    openings = [opening_ratio(np.asarray(face.points)) for face in landmarks]
    closed, wide = int(np.argmin(openings)), int(np.argmax(openings))
    rows, stats, render_seconds = [], [], 0.0
    for number, name in enumerate(PORTRAITS):
        image = load_portrait(media, name)
        face = detect_source_face(image)
        state = engine.prepare(image, face)
        xy = np.asarray(face.points, np.float64)
        row = [face_crop(image, xy)]
        for label, vector in EDITS:
            started = time.perf_counter()
            frame = engine.edit(state, [vector], "add")[0]
            render_seconds += time.perf_counter() - started
            row.append(face_crop(frame, xy))
            # Re-detect: the shares are measured where the edited mouth actually is.
            try:
                edited = np.asarray(detect_source_face(frame).points, np.float64)
            except Exception:  # noqa: BLE001 - a failed re-detection only skips a statistic
                continue
            result = interior_shares(frame, edited)
            if result is not None:
                stats.append({"portrait": name, "edit": label, "near_black": result[0],
                              "teeth_like": result[1]})
        # Reenactment: open = this portrait, neutral reference, driven to the wide frame;
        # closed = a source showing its teeth, reference = the driver frame as open as that
        # source's mouth, driven to the driver's closed frame (the lips must meet).
        toothy_name = (name if name in TOOTHY_SOURCES
                       else TOOTHY_SOURCES[number % len(TOOTHY_SOURCES)])
        toothy = load_portrait(media, toothy_name)
        toothy_face = detect_source_face(toothy)
        toothy_opening = opening_ratio(np.asarray(toothy_face.points))
        as_open = int(np.argmin([abs(value - toothy_opening) for value in openings]))
        for source, source_face, reference, frame_index in (
                (image, face, closed, wide), (toothy, toothy_face, as_open, closed)):
            state = engine.prepare(source, source_face)
            engine.set_reference(state, DriverSample(images[reference], landmarks[reference], 0.0))
            started = time.perf_counter()
            frame = engine.reenact(state, [DriverSample(images[frame_index],
                                                        landmarks[frame_index], 0.04)],
                                   [{}], "add")[0]
            render_seconds += time.perf_counter() - started
            row.append(face_crop(frame, np.asarray(source_face.points, np.float64)))
        rows.append(row)
    return rows, stats, render_seconds


def sheet(rows: list[list[np.ndarray]], title: str) -> np.ndarray:
    import cv2

    header = ["source", *[label for label, _ in EDITS], "reenact open", "toothy closed"]
    width = CELL * len(header)
    top = np.full((50, width, 3), 255, np.uint8)
    cv2.putText(top, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (200, 0, 0), 1,
                cv2.LINE_AA)
    for column, text in enumerate(header):
        cv2.putText(top, text, (column * CELL + 6, 42), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([top, *[np.concatenate(row, axis=1) for row in rows]])


def summarise(values: list[tuple[float, float]]) -> dict[str, list[float]]:
    array = np.asarray(values, np.float64).reshape(-1, 2)
    return {key: [float(np.percentile(array[:, k], q)) for q in (5, 50, 95)]
            for k, key in enumerate(("near_black", "teeth_like"))} if len(array) else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_before_after_arguments(parser, REPO / "bench" / "results" / "realism",
                               "checkout whose fgemotalk_cli renders (e.g. /work/main: before)")
    parser.add_argument("--compare", action="store_true",
                        help="stack before.png and after.png (already rendered) row by row")
    parser.add_argument("--real", action="store_true",
                        help="also measure the interiors of real open mouths in the clips")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    use_checkout(args.code)
    import cv2

    if args.compare:
        before = np.load(args.out / "before.npz")["cells"]
        after = np.load(args.out / "after.npz")["cells"]
        rows = []
        for b, a in zip(before, after):
            rows.extend([list(b), list(a)])
        image = sheet(rows, "rows: before / after")
        cv2.imwrite(str(args.out / "compare.png"), image[..., ::-1])
        print(args.out / "compare.png")
        return 0
    rows, stats, seconds = render_cells(args.media)
    np.savez_compressed(args.out / f"{args.label}.npz", cells=np.asarray(rows))
    cv2.imwrite(str(args.out / f"{args.label}.png"), sheet(rows, args.label)[..., ::-1])
    report = {"label": args.label, "render_seconds": seconds, "edits": stats,
              "edited_open_mouths": summarise([(s["near_black"], s["teeth_like"]) for s in stats])}
    if args.real:
        real = real_open_mouths(args.media)
        report["real_open_mouths"] = {"frames": len(real), **summarise(real)}
    (args.out / f"{args.label}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "edits"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
