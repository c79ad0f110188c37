"""The rasteriser against the per-triangle loop it replaced, on real portraits and edits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fgemotalk_cli.engines.warp import render
from fgemotalk_cli.engines.warp.engine import target_from_controls
from fgemotalk_cli.engines.warp.raster import rasterise_map

# Edits that fold lids and lips (closed eyes, open jaw, a strong smile) and turn the head.
EDITS = ({}, {12: 4.0, 6: 2.0}, {26: 4.0, 1: 3.0}, {45: 5.0, 4: 3.0})


def reference_sample_map(corners, affines, order, shape, x_first, y_first, step):
    """The implementation before issue 12, kept verbatim as the reference."""
    fixed = np.round(corners * (1 << 4)).astype(np.int32)
    none = len(affines)
    ids = np.full(shape, none, np.int32)
    for index in order.tolist():
        cv2.fillConvexPoly(ids, fixed[index], index, cv2.LINE_8, 4)
    table = np.concatenate([affines, np.array([[1, 0, 0, 0, 1, 0]], np.float32)])[ids]
    xs = (x_first + np.arange(shape[1], dtype=np.float32) * step)[None, :]
    ys = (y_first + np.arange(shape[0], dtype=np.float32) * step)[:, None]
    out = np.stack([table[..., 0] * xs + table[..., 1] * ys + table[..., 2],
                    table[..., 3] * xs + table[..., 4] * ys + table[..., 5]], axis=-1)
    return out.astype(np.float32), ids != none


@pytest.fixture
def captured_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Every rasteriser call a real render makes (the coarse map and the detail boxes)."""
    calls: list[tuple] = []

    def capture(*args):
        calls.append(args)
        return rasterise_map(*args)

    monkeypatch.setattr(render, "rasterise_map", capture)
    return calls


def test_maps_match_the_per_triangle_reference(warp_cases, captured_calls) -> None:
    compared = 0
    for case in warp_cases:
        for aus in EDITS:
            captured_calls.clear()
            render.render_warp(case.source, target_from_controls(
                case.source, aus, head_degrees=(10.0, 5.0, 3.0)))
            assert captured_calls, "the render made no rasteriser call"
            for args in captured_calls:
                expected, expected_covered = reference_sample_map(*args)
                actual, covered = rasterise_map(*args)
                np.testing.assert_array_equal(covered, expected_covered)
                # Same triangle per sample; only float rounding of the affine may differ.
                assert np.abs(actual - expected).max() < 1e-3, (case.name, aus)
                compared += actual.shape[0] * actual.shape[1]
    assert compared > 100_000
