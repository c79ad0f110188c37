"""Calibration table of the warp engine's AUs, measured by the blendshape read-out.

`python bench/au_calibration.py [--no-closed-loop] [--aus 1,12]`: every shared portrait is
edited with each AU at intensities 1..5 and read back (:mod:`fgemotalk_cli.evaluation.
au_readout_study`). Prints per AU and intensity the measured intensity (mean over the
portraits and the weakest portrait with room for it) and the off-target movement; writes
au_calibration.json and au_calibration.png (requested vs measured, ideal diagonal) to --out.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    sys.path.insert(0, str(REPO))
    from fgemotalk_cli.engines.warp.engine import WarpEngine
    from fgemotalk_cli.evaluation.au_readout_study import readout_study
    from fgemotalk_cli.expression.readout import READOUT_RULES
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image
    from fgemotalk_cli.pipelines.common import even_size

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--aus", default=",".join(str(a) for a in READOUT_RULES if a != 45))
    parser.add_argument("--max-side", type=int, default=512)
    parser.add_argument("--no-closed-loop", action="store_true",
                        help="Use the general response table only (no per-face calibration).")
    parser.add_argument("--portraits", default="", help="Comma separated name filter.")
    args = parser.parse_args()
    engine = WarpEngine(calibrate=not args.no_closed_loop)
    wanted = [w for w in args.portraits.split(",") if w]
    images = {p.stem: even_size(load_image(p, max_size=args.max_side))
              for p in sorted((args.media / "portraits").glob("*"))
              if not wanted or any(w in p.stem for w in wanted)}
    states: dict[str, object] = {}
    started = time.perf_counter()
    prepare_seconds = []

    def edit(image, vector):
        key = image.ctypes.data
        if key not in states:
            t0 = time.perf_counter()
            states[key] = engine.prepare(image, detect_source_face(image))
            prepare_seconds.append(time.perf_counter() - t0)
        return engine.edit(states[key], [vector], "add")[0]

    aus = [int(a) for a in args.aus.split(",")]
    study = readout_study(images, aus, [1, 2, 3, 4, 5], edit)
    args.out.mkdir(parents=True, exist_ok=True)
    tag = "general" if args.no_closed_loop else "closed_loop"
    study.write_json(args.out / f"au_calibration_{tag}.json")
    study.write_plot(args.out / f"au_calibration_{tag}.png")
    print(study.table())
    if not args.no_closed_loop:
        # The median solved table over the portraits: the general table for faces in general.
        import numpy as np

        tables: dict[int, list] = {}
        for state in states.values():
            for au, table in state.source.geometry.response.items():
                tables.setdefault(au, []).append(table)
        print("median response tables (shares at 0..5):")
        for au in sorted(tables):
            median = np.median(np.array(tables[au]), axis=0)
            print(f"    {au}: ({', '.join(f'{v:.2f}' for v in median)}),")
    print(f"{len(images)} portraits, {time.perf_counter() - started:.0f} s; prepare "
          f"(incl. calibration) {sum(prepare_seconds) / max(len(prepare_seconds), 1):.2f} s each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
