"""Head turns at the face outline: renders, a fold count, and before/after review sheets.

A turn that brings one side of a face towards the camera uncovers skin at its outline; where
the warp's backward map folds there (its x or y runs backwards across the outline), the
output shows a sliver of the source mirrored: a thin line down the cheek. This renders every
portrait turned (yaw -25..25, pitch -15..15) with the code of ``--code`` and counts, per
render, the output pixels within 0.15 IOD of the target face oval where the map folds (its
Jacobian's determinant is negative), in IOD-squared per mille of the face:

    PYTHONPATH=/work/base8 python bench/review_silhouette.py --code /work/base8 \
        --label before --out /tmp/silhouette
    PYTHONPATH=$PWD python bench/review_silhouette.py --label after --out /tmp/silhouette
    python bench/review_silhouette.py --sheet /tmp/silhouette/before.npz \
        /tmp/silhouette/after.npz --out /tmp/silhouette

The sheets crop round the face (two rows per portrait: before, after), at 2x for the small
portraits, so that a line along the outline is visible at a glance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.checkouts import add_before_after_arguments, use_checkout  # noqa: E402

# (portrait, driver) pairs with head turns; every REENACT_STRIDE-th frame is kept.
REENACT_PAIRS = (("liveportrait_s12.jpg", "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4"),
                 ("liveportrait_s9.jpg", "sadtalker_WDA_KatieHill_000.mp4"),
                 ("face_recognition_obama.jpg", "vexpress_vasa1_7_gt.mp4"))
REENACT_STRIDE = 4
POSES = ((-25, 0), (-15, 0), (-8, 0), (8, 0), (15, 0), (25, 0), (0, -15), (0, 15))
BAND_IOD = 0.15
CELL = 300


def folded_share(source: object, target: np.ndarray) -> float:
    """Output pixels within :data:`BAND_IOD` of the target face oval where the backward
    map folds, per mille of the face oval's area."""
    import cv2

    from fgemotalk_cli.engines.warp import layout as L
    from fgemotalk_cli.engines.warp.lips import meet_lips
    from fgemotalk_cli.engines.warp.mesh import warp_targets
    from fgemotalk_cli.engines.warp.render import backward_map

    points = meet_lips(target, source.points)  # type: ignore[attr-defined]
    vertices, order, _ = warp_targets(source.mesh, points)  # type: ignore[attr-defined]
    warp_map = backward_map(source, vertices, order)  # type: ignore[arg-type]
    x0, y0 = warp_map.box[:2]
    map_x, map_y = warp_map.coordinates[..., 0], warp_map.coordinates[..., 1]
    dxx, dxy = np.gradient(map_x, axis=1), np.gradient(map_x, axis=0)
    dyx, dyy = np.gradient(map_y, axis=1), np.gradient(map_y, axis=0)
    folded = (dxx * dyy - dxy * dyx) < 0
    iod = source.geometry.frame.iod_px  # type: ignore[attr-defined]
    oval = np.round((vertices[list(L.FACE_OVAL)] - (x0, y0)) * 4).astype(np.int32)
    near = np.zeros(folded.shape, np.uint8)
    cv2.polylines(near, [oval], True, (1,), max(1, round(2 * BAND_IOD * iod)), cv2.LINE_8, 2)
    face = np.zeros(folded.shape, np.uint8)
    cv2.fillPoly(face, [oval], (1,), cv2.LINE_8, 2)
    return 1000.0 * float((folded & (near > 0)).sum()) / max(float(face.sum()), 1.0)


def render(media: Path, out: Path, label: str) -> None:
    from fgemotalk_cli.engines.warp import layout as L
    from fgemotalk_cli.engines.warp.engine import edit_source, target_from_controls
    from fgemotalk_cli.engines.warp.render import prepare_source
    from fgemotalk_cli.evaluation.identity import IdentityEmbedder, identity_distance
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.faces.landmarks import estimate_head_pose
    from fgemotalk_cli.pipelines.common import load_source_face

    embedder = IdentityEmbedder()
    results: dict[str, np.ndarray] = {}
    for path in sorted((media / "portraits").glob("*")):
        face = load_source_face(path, 0)
        source = prepare_source(face.image, face.landmarks)
        source_pose = estimate_head_pose(face.landmarks)
        source_identity = embedder.embed(face.image)
        oval = source.points[list(L.FACE_OVAL), :2] * source.scale
        results[f"{path.name}|box"] = np.concatenate([oval.min(0), oval.max(0)])
        shares, readings = [], []
        for yaw, pitch in POSES:
            degrees = (float(yaw), float(pitch), 0.0)
            frame = edit_source(source, {}, None, degrees)
            results[f"{path.name}|{yaw}:{pitch}"] = frame
            # The turn read back (the output's pose less the source's) and the identity
            # distance to the source (dlib; NaN where a detector finds no face).
            pose = estimate_head_pose(detect_source_face(frame))
            identity = embedder.embed(frame)
            readings.append((pose.yaw - source_pose.yaw, pose.pitch - source_pose.pitch,
                             np.nan if identity is None or source_identity is None
                             else identity_distance(identity, source_identity)))
            shares.append(folded_share(source, target_from_controls(source, {}, None,
                                                                      degrees)))
        results[f"{path.name}|folded"] = np.array(shares)
        results[f"{path.name}|readings"] = np.array(readings)
        print(f"{label} {path.name:28s} folded per mille: "
              + " ".join(f"{yaw:+d}/{pitch:+d}={share:5.2f}"
                         for (yaw, pitch), share in zip(POSES, shares)), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / f"{label}.npz", **results)
    readings = np.array([results[key] for key in results if key.endswith("|readings")])
    requested = np.array(POSES, np.float64)
    for column, (name, axis) in enumerate((("yaw", 0), ("pitch", 1))):
        turned = requested[:, axis] != 0
        error = np.abs(readings[:, turned, column] - requested[turned, axis])
        print(f"{label} {name} read back minus requested, mean abs over the {name} turns: "
              f"{np.nanmean(error):.2f} deg; mean read back per turn: "
              + " ".join(f"{requested[i, axis]:+.0f}->{np.nanmean(readings[:, i, column]):+.1f}"
                         for i in np.flatnonzero(turned)))
    print(f"{label} identity distance to the source (dlib): mean "
          f"{np.nanmean(readings[:, :, 2]):.3f}, max {np.nanmax(readings[:, :, 2]):.3f}")


def render_reenact(media: Path, out: Path, label: str) -> None:
    """Reenact each of :data:`REENACT_PAIRS` and keep every :data:`REENACT_STRIDE`-th frame."""
    import tempfile

    import av

    from fgemotalk_cli import api
    from fgemotalk_cli.options import RunOptions

    results: dict[str, np.ndarray] = {}
    options = RunOptions(engine="warp", show_progress=False, overwrite=True)
    with tempfile.TemporaryDirectory() as work:
        for portrait, driver in REENACT_PAIRS:
            video = Path(work) / "out.mp4"
            api.reenact(media / "portraits" / portrait, media / "driving" / driver, video,
                        options=options)
            with av.open(str(video)) as container:
                for index, frame in enumerate(container.decode(video=0)):
                    if index % REENACT_STRIDE == 0:
                        results[f"{portrait}|{driver}|{index}"] = frame.to_ndarray(format="rgb24")
            print(f"{label} {portrait} driven by {driver}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / f"{label}_reenact.npz", **results)


def reenact_sheet(before_path: Path, after_path: Path, out: Path, count: int = 6) -> None:
    """Per pair, the ``count`` frames that changed most, before over after."""
    import cv2

    before, after = np.load(before_path), np.load(after_path)
    for portrait, driver in REENACT_PAIRS:
        keys = [key for key in before.files if key.startswith(f"{portrait}|{driver}|")]
        # A frame's change: its largest local difference (blurred, so that the encoder's
        # noise does not count), and where it is: the sheet crops round that, with a margin.
        blurred = [cv2.GaussianBlur(np.abs(before[key].astype(np.float32) - after[key])
                                    .max(axis=2), (0, 0), 4.0) for key in keys]
        change = [float(image.max()) for image in blurred]
        chosen = sorted(np.argsort(change)[::-1][:count])
        changed = np.zeros(before[keys[0]].shape[:2], bool)
        for index in chosen:
            changed |= blurred[index] > 0.4 * change[index]
        ys, xs = np.nonzero(changed) if changed.any() else np.nonzero(~changed)
        margin = max(int(ys.max() - ys.min()), int(xs.max() - xs.min())) // 2
        y0, x0 = max(int(ys.min()) - margin, 0), max(int(xs.min()) - margin, 0)
        y1, x1 = int(ys.max()) + margin, int(xs.max()) + margin
        rows = []
        for data in (before, after):
            cells = []
            for index in chosen:
                frame = data[keys[index]][y0:y1, x0:x1]
                scale = CELL / frame.shape[0]
                cell = cv2.resize(frame, (round(frame.shape[1] * scale), CELL),
                                  interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
                cell = cv2.cvtColor(cell, cv2.COLOR_RGB2BGR)
                label = "before" if data is before else "after"
                cv2.putText(cell, f"{label} frame {keys[index].split('|')[2]}", (4, 14),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
                cells.append(cell)
            rows.append(np.hstack(cells))
        path = out / f"silhouette_reenact_{Path(portrait).stem}.png"
        cv2.imwrite(str(path), np.vstack(rows))
        print(path, "largest local change of the frames shown:",
              " ".join(f"{change[index]:.2f}" for index in chosen))


def sheets(before_path: Path, after_path: Path, out: Path, per_sheet: int = 4) -> None:
    import cv2

    before, after = np.load(before_path), np.load(after_path)
    names = sorted({key.split("|")[0] for key in before.files})
    rows = []
    for name in names:
        x0, y0, x1, y1 = before[f"{name}|box"]
        width, height = x1 - x0, y1 - y0
        box = (int(x0 - 0.3 * width), int(y0 - 0.25 * height), int(x1 + 0.3 * width),
               int(y1 + 0.15 * height))
        for data, label in ((before, "before"), (after, "after")):
            cells = []
            for (yaw, pitch), share in zip(POSES, data[f"{name}|folded"]):
                frame = data[f"{name}|{yaw}:{pitch}"]
                crop = frame[max(box[1], 0): box[3], max(box[0], 0): box[2]]
                scale = CELL / crop.shape[0]
                interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
                cell = cv2.cvtColor(cv2.resize(crop, (round(crop.shape[1] * scale), CELL),
                                               interpolation=interpolation), cv2.COLOR_RGB2BGR)
                text = f"{label} y{yaw:+d} p{pitch:+d} f{share:.1f}"
                cv2.putText(cell, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
                cells.append(cell)
            rows.append((name, np.hstack(cells)))
    for start in range(0, len(names), per_sheet):
        chunk = [row for name, row in rows if name in names[start: start + per_sheet]]
        width = max(row.shape[1] for row in chunk)
        chunk = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))) for row in chunk]
        path = out / f"silhouette_sheet_{start // per_sheet + 1}.png"
        cv2.imwrite(str(path), np.vstack(chunk))
        print(path)


def zoom_sheets(before_path: Path, after_path: Path, out: Path, per_sheet: int = 5) -> None:
    """The side of the face each turn uncovers (image-left for negative yaw, image-right
    for positive; the forehead or chin for pitch), before and after side by side."""
    import cv2

    before, after = np.load(before_path), np.load(after_path)
    names = sorted({key.split("|")[0] for key in before.files})
    turns = ((-25, 0, "left"), (-15, 0, "left"), (15, 0, "right"), (25, 0, "right"))
    rows = []
    for name in names:
        x0, y0, x1, y1 = before[f"{name}|box"]
        width, height = x1 - x0, y1 - y0
        cells = []
        for yaw, pitch, side in turns:
            left = x0 - 0.25 * width if side == "left" else x0 + 0.45 * width
            box = (int(max(left, 0)), int(max(y0 - 0.05 * height, 0)),
                   int(left + 0.8 * width), int(y1 + 0.1 * height))
            for data, label in ((before, "before"), (after, "after")):
                crop = data[f"{name}|{yaw}:{pitch}"][box[1]: box[3], box[0]: box[2]]
                scale = CELL / crop.shape[0]
                cell = cv2.resize(crop, (round(crop.shape[1] * scale), CELL),
                                  interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
                cell = cv2.cvtColor(cell, cv2.COLOR_RGB2BGR)
                cv2.putText(cell, f"{label} yaw {yaw:+d}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX,
                            0.4, (0, 255, 255), 1)
                cells.append(cell)
            cells.append(np.zeros((CELL, 6, 3), np.uint8))
        rows.append(np.hstack(cells))
    for start in range(0, len(rows), per_sheet):
        chunk = rows[start: start + per_sheet]
        width = max(row.shape[1] for row in chunk)
        chunk = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))) for row in chunk]
        path = out / f"silhouette_zoom_{start // per_sheet + 1}.png"
        cv2.imwrite(str(path), np.vstack(chunk))
        print(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_before_after_arguments(parser, Path("/tmp/silhouette"))
    parser.add_argument("--sheet", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--reenact", action="store_true",
                        help="reenact REENACT_PAIRS instead of turning the portraits")
    args = parser.parse_args()
    if args.sheet:
        if args.reenact:
            reenact_sheet(*args.sheet, args.out)
            return
        sheets(*args.sheet, args.out)
        zoom_sheets(*args.sheet, args.out)
        return
    use_checkout(args.code)
    if args.reenact:
        render_reenact(args.media, args.out, args.label)
    else:
        render(args.media, args.out, args.label)


if __name__ == "__main__":
    main()
