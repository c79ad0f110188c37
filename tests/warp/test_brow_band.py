"""The brow moves as a band (AU 1, 2, 4): its hair keeps its thickness, the lid skin stretches."""

from __future__ import annotations

import numpy as np
import pytest

from fgemotalk_cli.engines.warp import layout as L
from fgemotalk_cli.engines.warp.au_fields import BROW_FRINGE

pytestmark = pytest.mark.media


def _under_the_brow(face: np.ndarray, eye: int) -> tuple[np.ndarray, np.ndarray]:
    """Each mesh point between the brow's lower line and the upper lid, under the brow: its
    index and its share of the way down from the brow (0) to the lid (1)."""
    _, upper, _, _ = L.EYES[eye]
    brow = L.RIGHT_BROW_LOWER if eye == 0 else L.LEFT_BROW_LOWER
    u, v = face[:, 0], face[:, 1]
    brow_v = L.polyline_at(u[list(brow)], v[list(brow)], u)
    lid_v = L.polyline_at(u[list(upper)], v[list(upper)], u)
    t = (v - brow_v) / np.maximum(lid_v - brow_v, 1e-6)
    inside = (u > u[list(brow)].min()) & (u < u[list(brow)].max()) & (t > 0.02) & (t < 0.95)
    return np.nonzero(inside)[0], t


@pytest.mark.parametrize("au", [1, 2, 4])
def test_the_brows_lower_fringe_moves_with_the_brow(warp_cases, au: int) -> None:
    """Just below the landmarks' lower brow line (which runs inside the hair) the skin moves
    as far as the brow line above it does; the stretch is taken up lower, towards the lid."""
    geometry = warp_cases[0].source.geometry
    face = geometry.face
    motion = geometry.au_fields[au][:, 1]
    fringe_shares, lid_shares = [], []
    for eye in (0, 1):
        brow = list(L.RIGHT_BROW_LOWER if eye == 0 else L.LEFT_BROW_LOWER)
        order = np.argsort(face[brow, 0])
        points, t = _under_the_brow(face, eye)
        above = np.interp(face[points, 0], face[brow, 0][order], motion[brow][order])
        moving = np.abs(above) > 0.2 * np.abs(motion[brow]).max()
        share = motion[points][moving] / above[moving]
        fringe_shares += list(share[t[points][moving] < BROW_FRINGE])
        lid_shares += list(share[t[points][moving] > 0.5])
    assert len(fringe_shares) >= 2 and len(lid_shares) >= 2
    assert np.median(fringe_shares) > 0.9
    assert np.median(lid_shares) < 0.8
