"""Speech articulation review: `speak` frames at open vowels on six portraits, before and after.

    python bench/review_speak.py --label after                       # this checkout
    PYTHONPATH=/work/main python bench/review_speak.py --label before --code /work/main
    python bench/review_speak.py --compare                           # before | after sheet

One speech audio drives the mouth of each portrait of ``review_realism.PORTRAITS``; the cells are
the source, the four frames with the widest-asked open vowels (AA AH AE AO AW AY OW, at least
0.3 s apart), the widest other vowel and the middle of a P/B/M (lips must meet). Each rendered
frame is re-detected and its midline inner-lip gap printed in IOD (what a viewer sees open),
next to the same gap on real talking clips (``bench/speech_articulation.py``: about 0.11-0.16
at the median, 0.19-0.27 at the 90th percentile). Writes ``speak_<label>.png`` / ``.npz`` /
``.json`` to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
from checkouts import add_before_after_arguments, use_checkout

REPO = Path(__file__).resolve().parents[1]
AUDIO = "sadtalker_RD_Radio31_000.wav"
FPS = Fraction(25)
OPEN_VOWELS = {"AA", "AH", "AE", "AO", "AW", "AY", "OW"}
OTHER_VOWELS = {"EH", "EY", "ER", "IH", "IY", "UH", "UW", "OY"}
BILABIALS = {"P", "B", "M"}


def pick_frames(track: object) -> list[tuple[str, int]]:
    """(label, frame) for the cells: four open vowels, one other vowel, one bilabial."""
    times = (np.arange(track.n_frames) + 0.5) / float(FPS)  # type: ignore[attr-defined]
    jaw = track.jaw_open  # type: ignore[attr-defined]
    by_class: dict[str, list[int]] = {"open": [], "other": [], "bilabial": []}
    for phone in track.phones:  # type: ignore[attr-defined]
        bare = phone.phone.rstrip("012").upper()
        inside = np.flatnonzero((times >= phone.start_s) & (times < phone.end_s))
        if not len(inside):
            continue
        if bare in OPEN_VOWELS:
            by_class["open"].append(int(inside[np.argmax(jaw[inside])]))
        elif bare in OTHER_VOWELS:
            by_class["other"].append(int(inside[np.argmax(jaw[inside])]))
        elif bare in BILABIALS:
            by_class["bilabial"].append(int(inside[len(inside) // 2]))
    chosen: list[tuple[str, int]] = []
    for frame in sorted(by_class["open"], key=lambda f: -jaw[f]):
        if all(abs(frame - other) >= 8 for _, other in chosen):
            chosen.append(("open vowel", frame))
        if len(chosen) == 4:
            break
    if by_class["other"]:
        chosen.append(("other vowel", max(by_class["other"], key=lambda f: jaw[f])))
    if by_class["bilabial"]:
        chosen.append(("P/B/M", by_class["bilabial"][len(by_class["bilabial"]) // 2]))
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_before_after_arguments(parser, REPO / "bench" / "results" / "realism",
                               "checkout whose code renders")
    parser.add_argument("--compare", action="store_true",
                        help="stack speak_before.png and speak_after.png row by row")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    use_checkout(args.code)
    import cv2
    from review_realism import CELL, PORTRAITS, face_crop, load_portrait

    if args.compare:
        before = np.load(args.out / "speak_before.npz")["cells"]
        after = np.load(args.out / "speak_after.npz")["cells"]
        rows = [np.concatenate(list(row), axis=1) for pair in zip(before, after) for row in pair]
        cv2.imwrite(str(args.out / "speak_compare.png"), np.concatenate(rows)[..., ::-1])
        print(args.out / "speak_compare.png")
        return 0

    from fgemotalk_cli.engines.base import SpeechSample
    from fgemotalk_cli.engines.warp import layout as L
    from fgemotalk_cli.engines.warp.engine import WarpEngine
    from fgemotalk_cli.faces.detector import FaceMeshDetector, detect_source_face
    from fgemotalk_cli.media.audio import load_audio
    from fgemotalk_cli.speech.mouth import mouth_track

    wave, _ = load_audio(args.media / "audio" / AUDIO, sample_rate=16000, mono=True)
    n_frames = int(np.ceil(len(wave) / 16000 * float(FPS)))
    track = mouth_track(wave, 16000, FPS, n_frames)
    cells = pick_frames(track)
    engine = WarpEngine()
    rows, gaps = [], {}
    with FaceMeshDetector() as detector:
        for name in PORTRAITS:
            image = load_portrait(args.media, name)
            face = detect_source_face(image)
            xy = np.asarray(face.points, np.float64)
            state = engine.prepare(image, face)
            samples = [SpeechSample(mouth=track.shape_at(frame), blink=0.0,
                                    head_degrees=(0.0, 0.0, 0.0), wave_index=frame)
                       for _, frame in cells]
            frames = engine.speak(state, samples, [{} for _ in samples])
            row, row_gaps = [face_crop(image, xy)], []
            for frame in frames:
                row.append(face_crop(frame, xy))
                found = detector.detect(frame)
                if found:
                    points = np.asarray(found[0].points, np.float64)
                    local = L.face_frame(points).to_face(points)
                    row_gaps.append(round(max(float(local[14, 1] - local[13, 1]), 0.0), 3))
                else:
                    row_gaps.append(None)
            rows.append(row)
            gaps[name] = row_gaps
    header = np.full((30, CELL * (len(cells) + 1), 3), 255, np.uint8)
    for column, text in enumerate(["source", *[f"{label} f{frame}" for label, frame in cells]]):
        cv2.putText(header, text, (column * CELL + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
    sheet = np.concatenate([header, *[np.concatenate(row, axis=1) for row in rows]])
    cv2.imwrite(str(args.out / f"speak_{args.label}.png"), sheet[..., ::-1])
    np.savez_compressed(args.out / f"speak_{args.label}.npz", cells=np.asarray(rows))
    report = {"label": args.label, "audio": AUDIO, "cells": cells, "detected_gap_iod": gaps}
    (args.out / f"speak_{args.label}.json").write_text(json.dumps(report, indent=1))
    print(f"{'portrait':28s} " + " ".join(f"{label[:5]:>6s}" for label, _ in cells))
    for name, values in gaps.items():
        print(f"{name:28s} " + " ".join("  miss" if v is None else f"{v:6.3f}" for v in values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
