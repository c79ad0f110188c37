"""How far a coarser backward-map grid moves the warp's samples, on real portraits.

    python bench/map_step_error.py [--factor 2] [PORTRAIT ...]

The warp rasterises its piecewise-affine backward map every ``map_step`` pixels (about a
fiftieth of the eye distance) and upsamples it bilinearly; the supersampled detail boxes
(folds at the lids and lips) are exact at twice the resolution. This renders the map at
``map_step`` and at ``factor * map_step`` for three edits with head turns and reports, over
the head mask and outside both maps' detail boxes, how far apart the two maps' source
coordinates are (pixels): mean, 99th and 99.9th percentiles, maximum, and the share of pixels
off by more than a quarter pixel (the issue's bar for "visually the same").
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from fgemotalk_cli.engines.warp.engine import WarpEngine, target_from_controls
from fgemotalk_cli.engines.warp.lips import meet_lips
from fgemotalk_cli.engines.warp.mesh import target_vertices
from fgemotalk_cli.engines.warp.render import BackwardMap, backward_map
from fgemotalk_cli.pipelines.common import load_source_face

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "portraits"
PORTRAITS = ("liveportrait_s42.jpg", "sadtalker_art_20.png", "vexpress_vasa1_3_ref.jpg")
EDITS = (({12: 3.0}, (5.0, 3.0, 2.0)), ({1: 4.0, 26: 4.0}, (0.0, 0.0, 0.0)),
         ({4: 3.0, 43: 4.0}, (-8.0, 2.0, 0.0)))


def _in_box(coarse: BackwardMap, box: tuple[int, int, int, int]) -> BackwardMap:
    """``coarse`` cut to ``box`` (its own box holds it: a coarser grid rounds it outwards)."""
    dx, dy = box[0] - coarse.box[0], box[1] - coarse.box[1]
    height, width = box[3] - box[1], box[2] - box[0]
    details = tuple(((x0 - dx, y0 - dy, x1 - dx, y1 - dy), c)
                    for (x0, y0, x1, y1), c in coarse.details)
    return dataclasses.replace(coarse, box=box, details=details,
                               coordinates=coarse.coordinates[dy: dy + height, dx: dx + width])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("portraits", nargs="*", type=Path)
    parser.add_argument("--factor", type=int, default=2)
    args = parser.parse_args()
    engine = WarpEngine()
    for path in args.portraits or [MEDIA / name for name in PORTRAITS]:
        face = load_source_face(path, 0, None)
        source = engine.prepare(face.image, face.landmarks).source
        coarser = dataclasses.replace(source, map_step=args.factor * source.map_step)
        for aus, head in EDITS:
            target = meet_lips(target_from_controls(source, aus, None, head), source.points)
            vertices, order = target_vertices(source.mesh, target)
            exact = backward_map(source, vertices, order)
            coarse = _in_box(backward_map(coarser, vertices, order), exact.box)
            keep = exact.mask > 0
            for (x0, y0, x1, y1), _ in exact.details + coarse.details:
                keep[y0:y1, x0:x1] = False
            error = np.linalg.norm(exact.coordinates - coarse.coordinates, axis=2)[keep]
            print(f"{path.name} step {source.map_step}->{coarser.map_step} AUs {aus}: "
                  f"mean {error.mean():.3f} p99 {np.percentile(error, 99):.2f} "
                  f"p99.9 {np.percentile(error, 99.9):.2f} max {error.max():.2f} px, "
                  f"{100 * (error > 0.25).mean():.1f}% over 0.25 px")


if __name__ == "__main__":
    main()
