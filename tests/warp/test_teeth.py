"""The procedural teeth: a row of crowns with notched biting edges, not a pale bar."""

from __future__ import annotations

import numpy as np

from fgemotalk_cli.engines.warp.teeth import procedural_interior
from tests.warp.synthetic_mouth import COLOURS, LUMA, synthetic_mouth


def test_upper_teeth_have_a_notch_between_the_central_incisors() -> None:
    luma = procedural_interior(synthetic_mouth(110, 40), (200, 200), COLOURS, 100.0) @ LUMA
    # How far down each column the enamel reaches (the bright rows under the upper lip at
    # y = 100; the incisors show about 8.5 px).
    reach = np.clip((luma[98:116, 80:121] - 100.0) / 20.0, 0.0, 1.0).sum(axis=0)
    midline, incisors = reach[20], 0.5 * (reach[15] + reach[25])
    assert incisors > 8.0  # the crowns themselves reach their full length
    # Between the two crowns their rounded corners leave a notch (the embrasure), part of
    # what makes a row of teeth read as teeth: a flat bar had about 1.4 px there.
    assert incisors - midline > 2.5
