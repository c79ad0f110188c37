"""The background plate's seam: how sharply the filled hole meets the photo at its edge.

`python bench/plate_seams.py [--code CHECKOUT] [--portraits obama,vasa1_13]`: builds each
shared portrait's layers with the fgemotalk_cli of ``--code`` and prints, per portrait, the
mean colour step from the plate 1.5-3 px inside the hole to the photo at the hole's edge,
next to the photo's own step over the same distance one step further out, and their ratio
(1: the band continues the photo as the photo continues itself; above 1: a seam along the
head's old outline, which shows when the head moves away). The hole is the one the layers
paint (the last one they hand to ``background_fill``, recorded on its way there). The
measure favours a fill that mirrors across the edge itself; look at the frames too
(bench/head_motion_sheet.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def edge_step(filled: np.ndarray, image: np.ndarray, hole: np.ndarray) -> tuple[float, float]:
    """Mean colour step from ``filled`` 1.5-3 px inside ``hole`` (H, W uint8, 1 inside) to
    ``image`` at the hole's edge, and the photo's own step over the same distance further
    out (background pairs only). Its own nearest-pixel table, not the plate's: the measure
    must not depend on the checkout it measures (``--code``)."""
    import cv2

    depth, labels = cv2.distanceTransformWithLabels(hole, cv2.DIST_L2, 5,
                                                    labelType=cv2.DIST_LABEL_PIXEL)
    rows, columns = np.nonzero(hole == 0)
    nearest = np.zeros((labels.max() + 1, 2), int)
    nearest[labels[rows, columns]] = np.stack([columns, rows], axis=1)
    ring_rows, ring_columns = np.nonzero((depth >= 1.5) & (depth <= 3.0))
    edge = nearest[labels[ring_rows, ring_columns]]
    outwards = edge - np.stack([ring_columns, ring_rows], axis=1)
    further = np.clip(edge + outwards, 0, np.array(hole.shape[::-1]) - 1)
    photo = image.astype(np.float64)
    step = np.abs(np.asarray(filled, np.float64)[ring_rows, ring_columns]
                  - photo[edge[:, 1], edge[:, 0]]).max(axis=1)
    own = np.abs(photo[further[:, 1], further[:, 0]] - photo[edge[:, 1], edge[:, 0]]).max(axis=1)
    own = own[hole[further[:, 1], further[:, 0]] == 0]
    return float(step.mean()), float(own.mean())


def main() -> int:
    # Imported here: the test of the plate imports edge_step from this module as bench's.
    from checkouts import add_before_after_arguments, use_checkout

    parser = argparse.ArgumentParser(description=__doc__)
    add_before_after_arguments(parser, REPO / "bench" / "results")
    parser.add_argument("--portraits", default="", help="Comma separated name filter.")
    parser.add_argument("--max-side", type=int, default=1024)
    args = parser.parse_args()
    use_checkout(args.code)
    import fgemotalk_cli.engines.warp.layers as layers_module
    from fgemotalk_cli.engines.warp.render import prepare_source
    from fgemotalk_cli.faces.detector import detect_source_face
    from fgemotalk_cli.media.images import load_image

    holes: list[np.ndarray] = []
    fill = layers_module.background_fill

    def recording_fill(image: np.ndarray, hole: np.ndarray, iod_px: float) -> np.ndarray:
        holes.append(hole.copy())
        return fill(image, hole, iod_px)

    layers_module.background_fill = recording_fill  # type: ignore[assignment]
    wanted = [w for w in args.portraits.split(",") if w]
    ratios = []
    for path in sorted((args.media / "portraits").glob("*")):
        if wanted and not any(w in path.stem for w in wanted):
            continue
        image = load_image(path, max_size=args.max_side)
        plate = prepare_source(image, detect_source_face(image)).layers.plate
        step, own = edge_step(plate, image, holes[-1])
        ratios.append(step / max(own, 1e-3))
        print(f"{path.stem:28s} step {step:5.1f}  own {own:5.1f}  ratio {ratios[-1]:.2f}",
              flush=True)
    print(f"mean ratio {np.mean(ratios):.2f} over {len(ratios)} portraits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
