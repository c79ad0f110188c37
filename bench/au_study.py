"""The warp engine's AU-response study on the shared portraits (`python bench/au_study.py`).

For each AU and intensity 0..5: landmark movement in the AU's region and elsewhere, measured
by re-detecting the face mesh on the edited portrait, and fer's emotion response. Writes
bench/results/au_study.json and au_study.png and prints the summary table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    sys.path.insert(0, str(REPO))
    from fgemotalk_cli.engines.warp.engine import WarpEngine
    from fgemotalk_cli.evaluation.au_study import au_response_study
    from fgemotalk_cli.expression.aus import CATALOGUE
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import downscale_to_max_side, load_image
    from fgemotalk_cli.pipelines.common import even_size

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--aus", default=",".join(str(a) for a in CATALOGUE))
    args = parser.parse_args()
    engine = WarpEngine()
    images = {p.stem: even_size(downscale_to_max_side(load_image(p), 768))
              for p in sorted((args.media / "portraits").glob("*"))}
    states = {}

    def edit(image, vector):
        key = id(image)
        if key not in states:
            states[key] = engine.prepare(image, detect_source_face(image))
        return engine.edit(states[key], [vector], "add")[0]

    aus = [int(a) for a in args.aus.split(",")]
    table = au_response_study(images, aus, [0, 1, 2, 3, 4, 5], edit)
    args.out.mkdir(parents=True, exist_ok=True)
    table.write_json(args.out / "au_study.json")
    table.write_plot(args.out / "au_study.png")
    print(f"{'AU':>4} {'int':>4} {'region':>7} {'in (iod)':>9} {'out (iod)':>9} {'ratio':>6}")
    for row in table.summary():
        inside, outside = row["region_displacement_iod"], row["elsewhere_displacement_iod"]
        ratio = inside / outside if inside and outside else float("nan")
        print(f"{row['au']:>4} {row['intensity']:>4g} {row['region']:>7} {inside or 0:9.4f} "
              f"{outside or 0:9.4f} {ratio:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
