"""Measured AU response: edit, re-detect the landmarks on the output, compare regions.

For every AU the warp engine drives and intensities 0..5, the landmarks MediaPipe finds on the
*rendered* image must move more and more inside the AU's own region, and little elsewhere.
The table (mean movement in inter-ocular distances, and the in/out ratio at intensity 5) is
printed and written to the review folder (tests/conftest.py: review_dir) as au_response.json
with a contact sheet per portrait.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fgemotalk_cli.engines.warp.au_geometry import SUPPORTED_WARP_AUS
from fgemotalk_cli.engines.warp.engine import edit_source
from fgemotalk_cli.faces.mesh_model import region_indices

pytestmark = [pytest.mark.media, pytest.mark.slow]

INTENSITIES = (0, 1, 2, 3, 4, 5)
# Each AU's own region, in fgemotalk_cli.faces.mesh_model.region_indices names.
AU_REGIONS: dict[int, tuple[str, ...]] = {
    1: ("left_brow", "right_brow"),
    2: ("left_brow", "right_brow"),
    4: ("left_brow", "right_brow"),
    5: ("left_eye_upper", "right_eye_upper"),
    6: ("cheeks", "left_eye_lower", "right_eye_lower"),
    7: ("left_eye_lower", "right_eye_lower"),
    9: ("nose", "upper_lip_outer"),
    10: ("upper_lip_outer", "upper_lip_inner"),
    12: ("lip_corners",),
    15: ("lip_corners",),
    17: ("lower_lip_outer", "chin"),
    20: ("lip_corners",),
    23: ("upper_lip_outer", "lower_lip_outer"),
    25: ("lower_lip_inner", "lower_lip_outer"),
    26: ("chin", "lower_lip_outer", "lower_lip_inner"),
    43: ("left_eye_upper", "right_eye_upper"),
    45: ("left_eye_upper", "right_eye_upper"),
}
# Detector noise on re-rendered images, in inter-ocular distances.
NOISE_IOD = 0.006


def _region(au: int) -> np.ndarray:
    regions = region_indices()
    return np.unique(np.concatenate([regions[name] for name in AU_REGIONS[au]]))


@pytest.fixture(scope="module")
def response(warp_cases, still_detector, review_dir) -> dict:
    table: dict = {}
    for case in warp_cases:
        geometry = case.source.geometry
        iod = geometry.frame.iod_px
        sheet_rows = []

        def detect(image: np.ndarray, name: str = case.name) -> np.ndarray:
            faces = still_detector.detect(image)
            assert faces, f"no face re-detected on an edit of {name}"
            return np.asarray(faces[0].points[:, :2], np.float64)

        baseline = detect(edit_source(case.source, {}))
        for au in SUPPORTED_WARP_AUS:
            model = np.linalg.norm(geometry.offsets({au: 5}), axis=1)
            inside = _region(au)
            outside = np.setdiff1d(np.flatnonzero(model < 0.02 * model.max()), inside)
            outside = outside[outside < 468]  # irises follow the gaze, not the AU
            rows, tiles = [], []
            for intensity in INTENSITIES:
                out = edit_source(case.source, {au: intensity})
                moved = np.linalg.norm(detect(out) - baseline, axis=1) / iod
                rows.append((float(moved[inside].mean()), float(moved[outside].mean())))
                if intensity in (0, 3, 5):
                    tiles.append(_tile(out, case, f"AU{au}={intensity}"))
            table[(case.name, au)] = rows
            sheet_rows.append(np.concatenate(tiles, axis=1))
        sheet = np.concatenate(sheet_rows, axis=0)
        cv2.imwrite(str(review_dir / f"au_sheet_{case.name}.png"), sheet[..., ::-1])
    _report(table, review_dir)
    return table


def _tile(image: np.ndarray, case, label: str) -> np.ndarray:
    x0, y0, x1, y1 = case.landmarks.bbox()
    pad = 0.15 * (x1 - x0)
    crop = image[max(int(y0 - pad), 0): int(y1 + pad), max(int(x0 - pad), 0): int(x1 + pad)]
    tile = cv2.resize(crop, (200, 240), interpolation=cv2.INTER_AREA)
    cv2.putText(tile, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1)
    return tile


def _report(table: dict, review_dir) -> None:
    lines = ["\nAU  portrait                    in-region movement (IOD) at 0..5    out@5   in/out"]
    summary = {}
    for (name, au), rows in sorted(table.items(), key=lambda item: (item[0][1], item[0][0])):
        inside = [r[0] for r in rows]
        ratio = rows[-1][0] / max(rows[-1][1], 1e-6)
        summary.setdefault(str(au), {})[name] = {
            "inside_iod": inside, "outside_iod": [r[1] for r in rows], "ratio_at_5": ratio}
        lines.append(f"{au:<3} {name:<27} " + " ".join(f"{v:.3f}" for v in inside)
                     + f"  {rows[-1][1]:.3f}  {ratio:5.1f}")
    print("\n".join(lines))
    (review_dir / "au_response.json").write_text(json.dumps(summary, indent=1))


@pytest.mark.parametrize("au", SUPPORTED_WARP_AUS)
def test_region_movement_grows_with_intensity(response: dict, au: int) -> None:
    for (name, table_au), rows in response.items():
        if table_au != au:
            continue
        inside = np.array([r[0] for r in rows])
        rising = inside if au != 26 else inside[:-1]
        assert np.all(np.diff(rising) > -NOISE_IOD), (name, inside.round(4))
        assert inside[-1] > inside[0] + 2 * NOISE_IOD, (name, inside.round(4))
        if au == 26:
            # This detector (the legacy mesh) stops following a jaw drop past about 0.22 IOD
            # of chin and lower lip on the bearded portrait: fields of 1.02, 1.15, 1.25, 1.35
            # and 1.45 read 0.223, 0.226, 0.217, 0.193, 0.192 while the target chin moves
            # 0.33 -> 0.43 (the landmarker of the read-out still follows: jawOpen 4.4 at 1.8).
            # With the general table's 1.80 at 5 (the per-face median) it reads 0.193 at 5
            # against 0.216 at 4 there, and s42 0.258 against 0.259: the detector's plateau,
            # not a smaller jaw drop. The widest drop must still read as most of the widest
            # it follows.
            assert inside[-1] > 0.8 * inside[:-1].max(), (name, inside.round(4))


@pytest.mark.parametrize("au", SUPPORTED_WARP_AUS)
def test_movement_stays_in_the_region(response: dict, au: int) -> None:
    for (name, table_au), rows in response.items():
        if table_au != au:
            continue
        inside, outside = rows[-1]
        assert outside < 0.35 * inside + NOISE_IOD, (name, inside, outside)
