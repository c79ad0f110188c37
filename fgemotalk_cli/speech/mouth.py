"""Speech audio to per-video-frame mouth controls (the lip part of ``fgemotalk speak``).

English speech goes through phones (`phonemes.py`: forced alignment with a transcript,
phone recognition without) and visemes with coarticulation (`visemes.py`). Other languages,
and English the recogniser could not follow, drive the mouth from the signal itself: jaw from
a band-limited loudness envelope, lip width from spectral tilt, lips closed at sharp dips.

Both paths pass through an energy gate: where there is no speech the mouth is at rest
(closed) and constant, so it never quivers on background noise or breaths. [ours]
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.speech.filters import (
    binary_closing,
    binary_dilation,
    binary_opening,
    running_maximum,
    zero_phase_lowpass,
)
from fgemotalk_cli.speech.gestures import blink_track, head_motion_track
from fgemotalk_cli.speech.phonemes import decode_phonemes, phoneme_timeline
from fgemotalk_cli.speech.segments import SAMPLE_RATE_HZ, PhoneSegment, frame_rms
from fgemotalk_cli.speech.visemes import (
    CLOSURE,
    CONTROL_NAMES,
    JAW,
    REST,
    ROUNDING,
    TEETH,
    WIDTH,
    MouthShape,
    mouth_controls,
)

__all__ = [
    "MouthTrack",
    "PhoneSegment",
    "blink_track",
    "head_motion_track",
    "mouth_track",
    "phoneme_timeline",
]

_RATE_HZ = 100  # analysis frames per second
_HOP = SAMPLE_RATE_HZ // _RATE_HZ
_WINDOW = 400  # 25 ms
_JAW_BAND_HZ = (300.0, 3000.0)  # formant region: follows vowels, ignores hum and hiss
_LOW_BAND_HZ = (300.0, 1000.0)
_HIGH_BAND_HZ = (2000.0, 4000.0)
_GATE_BELOW_LEVEL_DB = 35.0
_GATE_ABOVE_FLOOR_DB = 6.0
_GATE_BRIDGE_S = 0.25  # pauses shorter than this (stop closures, breaths) keep the gate open
_GATE_PRE_ROLL_S = 0.08  # lips move before the sound starts
_GATE_HOLD_S = 0.10
_GATE_RAMP_S = 0.07
_MIN_SPEECH_COVERAGE = 0.5  # allphone below this did not hear English: use the energy path
# Every track's jaw is scaled so that its speech frames' 90th percentile reaches this (the
# warp engine turns it into 0.22 IOD of lip gap, what real talking faces reach: see
# engines/warp/articulation.py), within these bounds: phones and loudness set the rhythm
# and the contrasts, not how wide a whole clip opens (which a recording's level and the
# path taken, phones or energy, would otherwise decide).
_JAW_SPEECH_P90 = 0.55
_JAW_GAIN_RANGE = (0.6, 1.8)
_JAW_EASE = 0.35  # above the common level the jaw saturates towards it plus this


@dataclass(frozen=True)
class MouthTrack:
    """Per-frame mouth controls (see `visemes.CONTROL_NAMES`) and normalised RMS energy.

    ``method`` says what drove the mouth: ``"alignment"`` (transcript), ``"allphone"``
    (recognised phones) or ``"energy"`` (signal only).
    """

    fps: Fraction
    jaw_open: np.ndarray
    lip_width: np.ndarray
    rounding: np.ndarray
    closure: np.ndarray
    lip_to_teeth: np.ndarray
    energy: np.ndarray
    method: Literal["alignment", "allphone", "energy"]
    phones: tuple[PhoneSegment, ...]
    warnings: tuple[str, ...]

    @property
    def n_frames(self) -> int:
        return len(self.energy)

    def shape_at(self, frame: int) -> MouthShape:
        """The mouth shape of one video frame."""
        return MouthShape(**{name: float(getattr(self, name)[frame]) for name in CONTROL_NAMES})

    def controls(self) -> np.ndarray:
        """The five controls as one (n_frames, 5) array in `CONTROL_NAMES` order."""
        return np.stack([getattr(self, name) for name in CONTROL_NAMES], axis=1)


@dataclass(frozen=True)
class _Analysis:
    """100 Hz features of the 16 kHz wave; frame i is centred at (i + 0.5) / 100 s."""

    rms: np.ndarray
    jaw_band_db: np.ndarray
    tilt_db: np.ndarray
    gate: np.ndarray
    level_db: float
    threshold_db: float

    @property
    def times_s(self) -> np.ndarray:
        return (np.arange(len(self.rms)) + 0.5) / _RATE_HZ

    def loudness(self) -> np.ndarray:
        """Band loudness mapped from the gate threshold (0) to the speech level (1)."""
        span = max(self.level_db - self.threshold_db, 1.0)
        return np.clip((self.jaw_band_db - self.threshold_db) / span, 0.0, 1.0)


def mouth_track(
    wave: np.ndarray,
    sample_rate: int,
    fps: Fraction,
    n_frames: int,
    transcript: str | None = None,
    language: str = "en",
) -> MouthTrack:
    """Mouth controls for ``n_frames`` video frames at ``fps`` from speech audio.

    Frame k is sampled at the middle of its display interval, (k + 0.5) / fps. Frames past
    the end of the audio get a closed mouth. ``language`` is an ISO code; anything but
    English uses the energy path and ignores the transcript.
    """
    fps = _checked_fps(fps)
    if n_frames < 0:
        raise InputError(f"n_frames must be >= 0, got {n_frames}")
    wave16k = _mono_16k(wave, sample_rate)
    analysis = _analyse(wave16k)
    frame_times = (np.arange(n_frames) + 0.5) / float(fps)
    warnings: list[str] = []
    phones: tuple[PhoneSegment, ...] = ()
    method: Literal["alignment", "allphone", "energy"] = "energy"
    if _is_english(language):
        decoding = decode_phonemes(wave16k, transcript)
        warnings += decoding.warnings
        if decoding.method == "alignment" or decoding.speech_coverage >= _MIN_SPEECH_COVERAGE:
            method, phones = decoding.method, decoding.phones
        else:
            warnings.append(
                f"phone recognition labelled only {decoding.speech_coverage:.0%} of the speech; "
                "the mouth follows the audio energy instead"
            )
    elif transcript:
        warnings.append(f"transcript ignored: alignment needs English, language is {language!r}")
    if method == "energy":
        controls = _sample(_energy_controls(analysis), analysis, frame_times, REST)
    else:
        controls = mouth_controls(phones, frame_times)
        loudness = _sample(_lowpass(analysis.loudness(), 10.0), analysis, frame_times, 0.0)
        # Louder syllables open the jaw wider; the viseme gives the shape, loudness the scale.
        controls[:, JAW] *= 0.6 + 0.4 * loudness
    gate = _sample(analysis.gate, analysis, frame_times, 0.0)[:, None]
    controls[:, JAW] = _normalised_jaw(controls[:, JAW], gate[:, 0])
    controls = REST + gate * (controls - REST)
    controls[:, WIDTH] = np.clip(controls[:, WIDTH], -1.0, 1.0)
    unit = [JAW, ROUNDING, CLOSURE, TEETH]
    controls[:, unit] = np.clip(controls[:, unit], 0.0, 1.0)
    arrays = {name: controls[:, i].astype(np.float32) for i, name in enumerate(CONTROL_NAMES)}
    return MouthTrack(
        fps=fps,
        energy=_frame_energy(analysis, fps, n_frames),
        method=method,
        phones=phones,
        warnings=tuple(warnings),
        **arrays,
    )


def _normalised_jaw(jaw: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """The jaw scaled so that its 90th percentile over speech frames is the common level
    (unscaled when there is too little speech to tell), and eased above it: real speech
    opens past its 90th percentile only by about half as much again at its widest."""
    speech = gate > 0.5
    if speech.sum() >= 10:
        level = float(np.percentile(jaw[speech], 90))
        jaw = jaw * float(np.clip(_JAW_SPEECH_P90 / max(level, 1e-3), *_JAW_GAIN_RANGE))
    excess = np.maximum(jaw - _JAW_SPEECH_P90, 0.0)
    return np.minimum(jaw, _JAW_SPEECH_P90 + _JAW_EASE * np.tanh(excess / _JAW_EASE))


def _energy_controls(analysis: _Analysis) -> np.ndarray:
    """(n, 5) controls at 100 Hz from loudness and spectral tilt alone."""
    # Syllables come at 4-8 Hz; an 8 Hz low-pass keeps them and drops the frame-level jitter.
    loud = _lowpass(analysis.loudness(), 8.0).clip(0.0, 1.0)
    # Lead the sound by 30 ms: the jaw opens before a vowel becomes loud.
    lead = 3
    loud = np.concatenate([loud[lead:], np.zeros(lead)])
    # A dip of 9 dB or more below the loudest point within ±120 ms is most often a stop
    # consonant (or a nasal): close the lips, fully from 18 dB.
    envelope = _lowpass(analysis.jaw_band_db, 15.0)
    depth = running_maximum(envelope, 25) - envelope
    closure = _lowpass(np.clip((depth - 9.0) / 9.0, 0.0, 1.0), 15.0).clip(0.0, 1.0)
    controls = np.zeros((len(loud), len(CONTROL_NAMES)))
    controls[:, JAW] = 0.8 * loud**0.8 * (1.0 - closure)
    controls[:, CLOSURE] = closure
    speech = analysis.gate > 0.5
    if speech.sum() > 10:
        # More energy high up (front vowels, sibilants) spreads the lips; less rounds them.
        tilt = analysis.tilt_db
        median = np.median(tilt[speech])
        spread = 1.4826 * np.median(np.abs(tilt[speech] - median)) + 1e-3
        width = _lowpass(0.5 * np.tanh((tilt - median) / (1.5 * spread)), 6.0)
        controls[:, WIDTH] = width
        controls[:, ROUNDING] = np.clip(-1.2 * width, 0.0, 1.0)
    return controls


def _analyse(wave16k: np.ndarray) -> _Analysis:
    powers = _band_powers(wave16k, (_JAW_BAND_HZ, _LOW_BAND_HZ, _HIGH_BAND_HZ))
    jaw_band_db = 10 * np.log10(powers[0] + 1e-12)
    tilt_db = 10 * np.log10((powers[2] + 1e-10) / (powers[1] + 1e-10))
    n = len(jaw_band_db)
    rms = frame_rms(wave16k).astype(np.float64)
    level_db = float(np.percentile(jaw_band_db, 95)) if n else -120.0
    floor_db = float(np.percentile(jaw_band_db, 10)) if n else -120.0
    threshold_db = max(
        level_db - _GATE_BELOW_LEVEL_DB, min(floor_db + _GATE_ABOVE_FLOOR_DB, level_db - 20.0)
    )
    active = jaw_band_db > threshold_db
    if level_db < -100.0:  # digital silence
        active[:] = False
    return _Analysis(
        rms=rms,
        jaw_band_db=jaw_band_db,
        tilt_db=tilt_db,
        gate=_smooth_gate(active),
        level_db=level_db,
        threshold_db=threshold_db,
    )


def _band_powers(wave16k: np.ndarray, bands: tuple[tuple[float, float], ...]) -> list[np.ndarray]:
    """Power in each band per 10 ms frame (25 ms Hann window), in blocks of bounded size."""
    n = len(wave16k) // _HOP
    lead = (_WINDOW - _HOP) // 2  # frame i's window is centred on its 10 ms hop
    window = np.hanning(_WINDOW).astype(np.float32)
    freqs = np.fft.rfftfreq(512, 1 / SAMPLE_RATE_HZ)
    masks = [(freqs >= low) & (freqs < high) for low, high in bands]
    powers = [np.zeros(n) for _ in bands]
    block = 500  # 5 s per FFT batch: the spectra of a long clip are never all in memory
    for first in range(0, n, block):
        last = min(first + block, n)
        # The zero-padded signal's samples [first * hop, last * hop + window), padded per
        # block so that no padded copy of the whole clip is made.
        start, stop = first * _HOP - lead, last * _HOP + _WINDOW - lead
        segment = np.zeros(stop - start, dtype=wave16k.dtype)
        inside = wave16k[max(start, 0): min(stop, len(wave16k))]
        segment[max(-start, 0): max(-start, 0) + len(inside)] = inside
        frames = np.lib.stride_tricks.sliding_window_view(segment, _WINDOW)[::_HOP][: last - first]
        spectrum = np.abs(np.fft.rfft(frames * window, 512)) ** 2
        for power, mask in zip(powers, masks):
            power[first:last] = spectrum[:, mask].sum(axis=1) / _WINDOW
    return powers


def _smooth_gate(active: np.ndarray) -> np.ndarray:
    """0..1 speech gate: clicks dropped, short pauses bridged, edges extended and ramped.

    Far from speech it is exactly 0, which is what keeps a silent mouth perfectly still.
    """
    if not active.any():
        return np.zeros(len(active))
    active = binary_opening(active, np.ones(3, dtype=bool))
    bridge = int(_GATE_BRIDGE_S * _RATE_HZ)
    padded = np.pad(active, bridge)
    active = binary_closing(padded, np.ones(bridge, dtype=bool))[bridge:-bridge]
    pre, hold = int(_GATE_PRE_ROLL_S * _RATE_HZ), int(_GATE_HOLD_S * _RATE_HZ)
    # An asymmetric element: a frame turns on if speech starts within `pre` after it, or
    # ended within `hold` before it.
    structure = np.zeros(2 * max(pre, hold) + 1, dtype=bool)
    centre = max(pre, hold)
    structure[centre - hold : centre + pre + 1] = True
    active = binary_dilation(active, structure[::-1])
    ramp = np.hanning(int(_GATE_RAMP_S * _RATE_HZ) + 2)[1:-1]
    gate = np.convolve(active.astype(np.float64), ramp / ramp.sum(), mode="same")
    gate[gate < 1e-9] = 0.0
    gate[gate > 1 - 1e-9] = 1.0
    return gate


def _lowpass(values: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth low-pass of a 100 Hz series."""
    if len(values) < 16:
        return values.astype(np.float64)
    return zero_phase_lowpass(values, cutoff_hz, _RATE_HZ)


def _sample(
    values: np.ndarray, analysis: _Analysis, frame_times: np.ndarray, fill: float | np.ndarray
) -> np.ndarray:
    """Values at 100 Hz, linearly interpolated at video frame times; ``fill`` past the end."""
    times = analysis.times_s
    if values.ndim == 1:
        if len(times) == 0:
            return np.full(len(frame_times), float(fill))
        return np.interp(frame_times, times, values, right=float(fill))
    fills = np.broadcast_to(np.asarray(fill, dtype=np.float64), (values.shape[1],))
    return np.stack(
        [_sample(values[:, i], analysis, frame_times, fills[i]) for i in range(values.shape[1])],
        axis=1,
    )


def _frame_energy(analysis: _Analysis, fps: Fraction, n_frames: int) -> np.ndarray:
    """RMS over each video frame's interval, over the 95th-percentile RMS, clipped to 0..1."""
    if len(analysis.rms) == 0:
        return np.zeros(n_frames, dtype=np.float32)
    cumulative = np.concatenate([[0.0], np.cumsum(analysis.rms**2)])
    edges = np.arange(n_frames + 1) / float(fps) * _RATE_HZ
    summed = np.interp(edges, np.arange(len(cumulative)), cumulative)
    mean_square = np.diff(summed) / np.maximum(np.diff(np.minimum(edges, len(analysis.rms))), 1e-9)
    mean_square[edges[:-1] >= len(analysis.rms)] = 0.0
    level = max(float(np.percentile(analysis.rms, 95)), 1e-8)
    return np.clip(np.sqrt(np.maximum(mean_square, 0.0)) / level, 0.0, 1.0).astype(np.float32)


def _is_english(language: str) -> bool:
    """``en``, ``en-US``, ``en_GB``, ``eng``..."""
    return language.lower().replace("_", "-").split("-")[0] in ("en", "eng")


def _checked_fps(fps: Fraction | float | int) -> Fraction:
    fps = Fraction(fps)
    if fps <= 0:
        raise InputError(f"fps must be positive, got {fps}")
    return fps


def _mono_16k(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Float mono at 16 kHz from (n,) or (n, channels) floats or integers."""
    import soxr

    wave = np.asarray(wave)
    if np.issubdtype(wave.dtype, np.integer):
        wave = wave / float(np.iinfo(wave.dtype).max)
    wave = wave.astype(np.float32)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    if wave.ndim != 1 or len(wave) == 0:
        raise InputError(f"expected audio shaped (samples,) or (samples, channels): {wave.shape}")
    if sample_rate <= 0:
        raise InputError(f"sample rate must be positive, got {sample_rate}")
    if not np.isfinite(wave).all():
        raise InputError("the audio contains NaN or infinite samples")
    if sample_rate != SAMPLE_RATE_HZ:
        wave = soxr.resample(wave, sample_rate, SAMPLE_RATE_HZ).astype(np.float32)
    return wave
