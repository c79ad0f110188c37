"""Mouth interior review: zoomed mouths of every portrait in every command, before and after.

    python bench/review_mouth.py --label after                        # this checkout
    python bench/review_mouth.py --label before --code /work/base8    # a clean "before"
    python bench/review_mouth.py --compare                            # before | after sheets

Per portrait of --media/portraits (all of them), the cells are: the source's mouth; ``speak``
at the two widest openings of an English speech clip; ``reenact`` at the toothiest smile of
liveportrait_d0 (reference: its first frame), the widest opening of liveportrait_d18 and of
sadtalker_WDA_KatieHill_000; ``edit-au`` with AU 26=4, AU 25=4+26=3 and the fear, happy and
surprise presets. Each cell is a square around the source's mouth (1.6 mouth widths), so a
cell shows teeth, tongue and lips at about the source's own resolution. Writes
``mouth_<label>.npz`` (the cells) and ``mouth_<label>_<k>.png`` (five portraits a sheet).
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
from checkouts import add_before_after_arguments, use_checkout

REPO = Path(__file__).resolve().parents[1]
AUDIO = "sadtalker_RD_Radio31_000.wav"
FPS = Fraction(25)
DRIVERS = (("d0 smile", "liveportrait_d0.mp4", "teeth"), ("d18 wide", "liveportrait_d18.mp4",
                                                         "open"),
           ("Katie speech", "sadtalker_WDA_KatieHill_000.mp4", "open"))
# --reenact: every driver at its widest opening (and d12's and Katie's second widest, a
# second later, so speech shows two mouths), d5's and d0's toothiest smiles.
REENACT_DRIVERS = (("d0 smile", "liveportrait_d0.mp4", "teeth"),
                   ("d5 smile", "liveportrait_d5.mp4", "teeth"),
                   ("d12 wide", "liveportrait_d12.mp4", "open"),
                   ("d12 wide 2", "liveportrait_d12.mp4", "open2"),
                   ("d18 wide", "liveportrait_d18.mp4", "open"),
                   ("Katie wide", "sadtalker_WDA_KatieHill_000.mp4", "open"),
                   ("Katie wide 2", "sadtalker_WDA_KatieHill_000.mp4", "open2"))
PRESETS = ("fear", "happy", "surprise")
CELL = 192
ROWS_PER_SHEET = 5


def mouth_crop(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    import cv2

    corners = xy[[61, 291], :2]
    centre = 0.5 * (xy[13, :2] + xy[14, :2])
    half = 0.8 * float(np.linalg.norm(corners[1] - corners[0]))
    x0, y0 = np.round(centre - half).astype(int)
    x1, y1 = np.round(centre + half).astype(int)
    pad = int(half) + 2
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT)
    crop = padded[y0 + pad: y1 + pad, x0 + pad: x1 + pad]
    return cv2.resize(crop, (CELL, CELL), interpolation=cv2.INTER_AREA)


def driver_pick(media: Path, name: str, kind: str) -> tuple[object, object]:
    """(reference sample, picked sample) of a driver: its first frame, and the frame with the
    widest opening (``open``), the widest at least a second (25 sampled frames) from it
    (``open2``) or the most teeth-like interior among wide ones (``teeth``)."""
    from review_realism import driver_frames, interior_shares, opening_ratio

    from fgemotalk_cli.engines.base import DriverSample

    found = list(zip(*driver_frames(media, name, every=3)))
    openings = [opening_ratio(np.asarray(face.points)) for _, face in found]
    if kind == "open":
        best = int(np.argmax(openings))
    elif kind == "open2":
        widest = int(np.argmax(openings))
        far = [value if abs(index - widest) >= 8 else -1.0
               for index, value in enumerate(openings)]
        best = int(np.argmax(far))
    else:
        scores = []
        for (image, face), value in zip(found, openings):
            shares = interior_shares(image, np.asarray(face.points, np.float64))
            scores.append(-1.0 if shares is None else shares[1] * value)
        best = int(np.argmax(scores))
    reference = DriverSample(found[0][0], found[0][1], 0.0)
    return reference, DriverSample(found[best][0], found[best][1], 0.04)


def driver_mouth(sample: object) -> np.ndarray:
    """A driver frame's own mouth, cropped like the cells."""
    return mouth_crop(sample.image, np.asarray(sample.landmarks.points, np.float64))


def render_reenact_rows(media: Path) -> tuple[list[str], list[str], list[list[np.ndarray]]]:
    """The first row the drivers' own mouths, then per portrait its mouth and the
    ``reenact`` frame of every driver of :data:`REENACT_DRIVERS`."""
    from review_realism import load_portrait

    from fgemotalk_cli.engines.warp.engine import WarpEngine
    from fgemotalk_cli.faces.detector import FaceMeshDetector, detect_source_face

    drivers = [(label, *driver_pick(media, name, kind)) for label, name, kind in REENACT_DRIVERS]
    detector = FaceMeshDetector()

    def around_result(frame: np.ndarray, xy: np.ndarray) -> np.ndarray:
        # The driver's head moves the mouth: crop where the result's mouth is.
        found = detector.detect(frame)
        return mouth_crop(frame, np.asarray(found[0].points, np.float64) if found else xy)

    header = ["source"] + [label for label, _, _ in drivers]
    engine = WarpEngine()
    names = ["drivers"] + sorted(path.name for path in (media / "portraits").iterdir())
    rows = [[np.full((CELL, CELL, 3), 255, np.uint8)]
            + [driver_mouth(picked) for _, _, picked in drivers]]
    for name in names[1:]:
        print(name, flush=True)
        image = load_portrait(media, name)
        face = detect_source_face(image)
        xy = np.asarray(face.points, np.float64)
        row = [mouth_crop(image, xy)]
        for _, reference, picked in drivers:
            state = engine.prepare(image, face)
            engine.set_reference(state, reference)
            (frame,) = engine.reenact(state, [picked], [{}], "add")
            row.append(around_result(frame, xy))
        rows.append(row)
    detector.close()
    return names, header, rows


def render_rows(media: Path) -> tuple[list[str], list[str], list[list[np.ndarray]]]:
    from review_realism import load_portrait
    from review_speak import pick_frames

    from fgemotalk_cli.engines.base import SpeechSample
    from fgemotalk_cli.engines.warp.engine import WarpEngine
    from fgemotalk_cli.expression.aus import load_preset
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.audio import load_audio
    from fgemotalk_cli.speech.mouth import mouth_track

    wave, _ = load_audio(media / "audio" / AUDIO, sample_rate=16000, mono=True)
    n_frames = int(np.ceil(len(wave) / 16000 * float(FPS)))
    track = mouth_track(wave, 16000, FPS, n_frames)
    speech = [frame for label, frame in pick_frames(track) if label == "open vowel"][:2]
    drivers = [(label, *driver_pick(media, name, kind)) for label, name, kind in DRIVERS]
    edits = [("AU26=4", {26: 4.0}), ("AU25+26", {25: 4.0, 26: 3.0})]
    edits += [(name, {int(au): float(v) for au, v in load_preset(name).aus.items()})
              for name in PRESETS]
    header = (["source"] + [f"speak f{frame}" for frame in speech]
              + [label for label, _, _ in drivers] + [label for label, _ in edits])
    engine = WarpEngine()
    names = sorted(path.name for path in (media / "portraits").iterdir())
    rows = []
    for name in names:
        print(name, flush=True)
        image = load_portrait(media, name)
        face = detect_source_face(image)
        xy = np.asarray(face.points, np.float64)
        row = [mouth_crop(image, xy)]
        state = engine.prepare(image, face)
        samples = [SpeechSample(mouth=track.shape_at(frame), blink=0.0,
                                head_degrees=(0.0, 0.0, 0.0), wave_index=frame)
                   for frame in speech]
        row += [mouth_crop(frame, xy) for frame in engine.speak(state, samples,
                                                                 [{} for _ in samples])]
        for _, reference, picked in drivers:
            state = engine.prepare(image, face)
            engine.set_reference(state, reference)
            (frame,) = engine.reenact(state, [picked], [{}], "add")
            row.append(mouth_crop(frame, xy))
        state = engine.prepare(image, face)
        row += [mouth_crop(frame, xy) for frame in engine.edit(state, [v for _, v in edits],
                                                               "add")]
        rows.append(row)
    return names, header, rows


def write_sheets(out: Path, label: str, names: list[str], header: list[str],
                 rows: list[list[np.ndarray]] | np.ndarray) -> None:
    import cv2

    for start in range(0, len(rows), ROWS_PER_SHEET):
        top = np.full((24, CELL * len(header), 3), 255, np.uint8)
        for column, text in enumerate(header):
            cv2.putText(top, text, (column * CELL + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        (0, 0, 0), 1, cv2.LINE_AA)
        body = []
        for name, row in zip(names[start: start + ROWS_PER_SHEET],
                             rows[start: start + ROWS_PER_SHEET]):
            strip = np.concatenate(list(row), axis=1).copy()
            cv2.putText(strip, name[:24], (4, CELL - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                        (255, 255, 0), 1, cv2.LINE_AA)
            body.append(strip)
        sheet = np.concatenate([top, *body])
        path = out / f"mouth_{label}_{start // ROWS_PER_SHEET}.png"
        cv2.imwrite(str(path), sheet[..., ::-1])
        print(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_before_after_arguments(parser, REPO / "bench" / "results" / "mouth",
                               "checkout whose code renders")
    parser.add_argument("--reenact", action="store_true",
                        help="only reenact, with every driver of REENACT_DRIVERS (files "
                             "mouth_reenact_<label>*)")
    parser.add_argument("--compare", action="store_true",
                        help="interleave mouth_before.npz and mouth_after.npz row by row")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    prefix = "reenact_" if args.reenact else ""
    if args.compare:
        before, after = (np.load(args.out / f"mouth_{prefix}{label}.npz") for label in
                         ("before", "after"))
        names = [f"{tag} {name}" for name in before["names"] for tag in ("B", "A")]
        rows = [row for pair in zip(before["cells"], after["cells"]) for row in pair]
        write_sheets(args.out, f"{prefix}compare", names, list(before["header"]), rows)
        return 0
    use_checkout(args.code)
    names, header, rows = (render_reenact_rows if args.reenact else render_rows)(args.media)
    np.savez_compressed(args.out / f"mouth_{prefix}{args.label}.npz", cells=np.asarray(rows),
                        names=np.array(names), header=np.array(header))
    write_sheets(args.out, f"{prefix}{args.label}", names, header, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
