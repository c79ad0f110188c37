"""Calibration table of the warp engine's AUs, measured by the blendshape read-out.

`python bench/au_calibration.py [--calibrate off|auto|full] [--aus 1,12]`: every shared
portrait is edited with each AU at intensities 1..5 and read back (:mod:`fgemotalk_cli.evaluation.
au_readout_study`). Prints per AU and intensity the measured intensity (mean over the
portraits and the weakest portrait with room for it) and the off-target movement; writes
au_calibration_<mode>.json and .png (requested vs measured, ideal diagonal) to --out.
``auto`` (the engine's default) solves each AU on the face when it is first asked for, ``full``
every AU at prepare time (the same tables), ``off`` keeps the general table. The time printed
is the closed loop's cost per source and per AU solved; ``--identity`` adds the dlib identity
distance of each intensity-5 edit to its source (mean and worst face per AU).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    sys.path.insert(0, str(REPO))
    from fgemotalk_cli.engines.warp.engine import WarpEngine, WarpState
    from fgemotalk_cli.evaluation.au_readout_study import readout_study
    from fgemotalk_cli.evaluation.identity import IdentityEmbedder, identity_distance
    from fgemotalk_cli.expression.aus import parse_au_spec
    from fgemotalk_cli.expression.readout import READOUT_RULES
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image
    from fgemotalk_cli.pipelines.common import even_size

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--aus", default=",".join(str(a) for a in READOUT_RULES if a != 45))
    parser.add_argument("--max-side", type=int, default=512)
    parser.add_argument("--calibrate", default="auto", choices=("off", "auto", "full"))
    parser.add_argument("--no-closed-loop", action="store_true",
                        help="The same as --calibrate off (the general response table only).")
    parser.add_argument("--portraits", default="", help="Comma separated name filter.")
    parser.add_argument("--identity", action="store_true",
                        help="Also the dlib identity distance to the source at intensity 5.")
    parser.add_argument("--context", default="",
                        help="AUs set on every edit and on the reference it is read against, "
                             "e.g. 1=4,2=4 (AU 5 as in real wide eyes, with raised brows).")
    args = parser.parse_args()
    embedder = IdentityEmbedder() if args.identity else None
    source_embeddings: dict[int, object] = {}
    identity: dict[int, list[float]] = {}  # AU -> distances at intensity 5
    mode = "off" if args.no_closed_loop else args.calibrate
    engine = WarpEngine(calibrate=mode)
    wanted = [w for w in args.portraits.split(",") if w]
    images = {p.stem: even_size(load_image(p, max_size=args.max_side))
              for p in sorted((args.media / "portraits").glob("*"))
              if not wanted or any(w in p.stem for w in wanted)}
    states: dict[int, WarpState] = {}
    started = time.perf_counter()
    prepare_seconds: list[float] = []
    calibration_seconds: list[float] = []  # per AU solved, where it is solved on demand

    def edit(image, vector):
        key = image.ctypes.data
        if key not in states:
            t0 = time.perf_counter()
            states[key] = engine.prepare(image, detect_source_face(image))
            prepare_seconds.append(time.perf_counter() - t0)
        state = states[key]
        if mode == "auto" and not set(vector) <= (state.calibrator.tried if state.calibrator
                                                   else frozenset()):
            t0 = time.perf_counter()
            engine._calibrate(state, [vector])  # timed apart from the render below
            calibration_seconds.append(time.perf_counter() - t0)
        (edited,) = engine.edit(state, [vector], "add")
        studied = list(vector)[-1]  # the context's AUs come first
        if embedder is not None and vector[studied] == 5.0:
            if key not in source_embeddings:
                source_embeddings[key] = embedder.embed(image)
            output = embedder.embed(edited)
            if source_embeddings[key] is not None and output is not None:
                identity.setdefault(studied, []).append(
                    identity_distance(source_embeddings[key], output))
        return edited

    aus = [int(a) for a in args.aus.split(",")]
    context = parse_au_spec(args.context) if args.context else {}
    study = readout_study(images, aus, [1, 2, 3, 4, 5], edit, context)
    args.out.mkdir(parents=True, exist_ok=True)
    tag = {"off": "general", "auto": "closed_loop", "full": "closed_loop_full"}[mode]
    tag += "".join(f"_with{au}-{value:g}" for au, value in sorted(context.items()))
    study.write_json(args.out / f"au_calibration_{tag}.json")
    study.write_plot(args.out / f"au_calibration_{tag}.png")
    print(study.table())
    if mode != "off":
        # The median solved table over the portraits: the general table for faces in general.
        tables: dict[int, list] = {}
        for state in states.values():
            for au, table in (state.calibrator.response if state.calibrator else {}).items():
                tables.setdefault(au, []).append(table)
        print("median response tables (shares at 0..5):")
        for au in sorted(tables):
            median = np.median(np.array(tables[au]), axis=0)
            print(f"    {au}: ({', '.join(f'{v:.2f}' for v in median)}),")
    if identity:
        print("identity (dlib distance to the source) at intensity 5, mean / max over faces:")
        print("    " + "  ".join(f"AU{au} {np.mean(d):.3f}/{np.max(d):.3f}"
                                 for au, d in sorted(identity.items())))
    print(f"{len(images)} portraits, {time.perf_counter() - started:.0f} s; prepare "
          f"{sum(prepare_seconds) / max(len(prepare_seconds), 1):.2f} s each")
    if calibration_seconds:
        print(f"on-demand calibration: {np.mean(calibration_seconds):.3f} s per AU (median "
              f"{np.median(calibration_seconds):.3f}, the first of a source includes its crop "
              f"and the read-out's start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
