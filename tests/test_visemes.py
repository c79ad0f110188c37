from __future__ import annotations

import numpy as np
import pytest

from fgemotalk_cli.speech.segments import PhoneSegment
from fgemotalk_cli.speech.visemes import (
    CLOSURE,
    JAW,
    PHONE_VISEMES,
    REST,
    ROUNDING,
    TEETH,
    VISEMES,
    mouth_controls,
)

ARPABET = (
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V "
    "W Y Z ZH"
).split()
FPS = 25


def frame_times(seconds: float) -> np.ndarray:
    return (np.arange(int(seconds * FPS)) + 0.5) / FPS


def timeline(*phones: tuple[str, float]) -> list[PhoneSegment]:
    """Consecutive phones from (phone, duration) pairs."""
    segments, start = [], 0.0
    for phone, duration in phones:
        segments.append(PhoneSegment(phone, start, start + duration))
        start += duration
    return segments


def test_every_arpabet_phone_has_visemes_with_targets_in_range() -> None:
    assert set(ARPABET) <= set(PHONE_VISEMES)
    for viseme in VISEMES.values():
        jaw, width, rounding, closure, teeth = viseme.targets
        assert -1 <= width <= 1
        assert all(0 <= value <= 1 for value in (jaw, rounding, closure, teeth))


def test_silence_is_rest_exactly() -> None:
    controls = mouth_controls(timeline(("SIL", 2.0)), frame_times(2.0))
    np.testing.assert_allclose(controls, np.tile(REST, (len(controls), 1)), atol=1e-9)


def test_short_bilabial_between_open_vowels_still_closes() -> None:
    # A 30 ms B that no 25 fps frame centre falls in: its nearest frame must close anyway.
    phones = timeline(("SIL", 0.2), ("AA", 0.23), ("B", 0.03), ("AA", 0.24), ("SIL", 0.3))
    times = frame_times(1.0)
    assert not ((times >= 0.43) & (times < 0.46)).any()
    controls = mouth_controls(phones, times)
    nearest = int(np.argmin(np.abs(times - 0.445)))
    assert controls[nearest, CLOSURE] == 1.0
    assert controls[nearest, JAW] <= 0.05
    assert controls[:, JAW].max() > 0.6  # the vowels around it do open


def test_labiodental_touches_teeth() -> None:
    phones = timeline(("SIL", 0.2), ("IY", 0.2), ("F", 0.1), ("IY", 0.2), ("SIL", 0.3))
    controls = mouth_controls(phones, frame_times(1.0))
    assert controls[int(0.45 * FPS), TEETH] >= 0.9
    assert controls[int(0.3 * FPS), TEETH] < 0.5


def test_rounding_is_anticipated_during_the_consonant_before_oo() -> None:
    times = frame_times(1.0)
    before_oo = mouth_controls(timeline(("SIL", 0.3), ("S", 0.15), ("UW", 0.3)), times)
    before_ee = mouth_controls(timeline(("SIL", 0.3), ("S", 0.15), ("IY", 0.3)), times)
    during_s = int(0.4 * FPS)
    assert before_oo[during_s, ROUNDING] > 0.3
    assert before_ee[during_s, ROUNDING] < 0.05


@pytest.mark.parametrize("phone", ["XX", "AH0", "ih1"])
def test_unknown_or_stressed_symbols_do_not_fail(phone: str) -> None:
    controls = mouth_controls(timeline(("SIL", 0.2), (phone, 0.2)), frame_times(0.4))
    assert np.isfinite(controls).all()
