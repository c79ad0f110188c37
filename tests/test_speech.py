"""Mouth tracks from espeak-ng English, real English and German clips, and silence."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.speech import mouth as speech
from fgemotalk_cli.speech.mouth import MouthTrack, head_motion_track, mouth_track
from fgemotalk_cli.speech.phonemes import PhonemeDecoding
from fgemotalk_cli.speech.segments import PhoneSegment
from fgemotalk_cli.speech.visemes import CONTROL_NAMES, REST
from tests.espeak import Synthesis, synthesize

BILABIALS = "Bob made a pie for my mom, but Pam baked a bigger apple pie."
FPS = Fraction(25)
PAD_S = 1.0
VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "EY", "OW", "OY"}


@pytest.fixture(scope="module")
def bilabial_speech() -> Synthesis:
    return synthesize(BILABIALS)


def padded(synthesis: Synthesis, noise_dbfs: float | None = None) -> np.ndarray:
    """The speech with PAD_S of silence (digital, or faint white noise) on each side."""
    pad = np.zeros(int(PAD_S * synthesis.sample_rate), dtype=np.float32)
    wave = np.concatenate([pad, synthesis.wave, pad])
    if noise_dbfs is not None:
        noise = np.random.default_rng(0).standard_normal(len(wave)) * 10 ** (noise_dbfs / 20)
        wave = wave + noise.astype(np.float32)
    return wave


def frames_for(wave: np.ndarray, sample_rate: int) -> int:
    return int(len(wave) / sample_rate * FPS)


def frame_at(seconds: float) -> int:
    return int(seconds * FPS)  # the frame whose display interval holds this time


def test_bilabials_close_where_the_alignment_puts_them(bilabial_speech: Synthesis) -> None:
    wave, rate = padded(bilabial_speech), bilabial_speech.sample_rate
    track = mouth_track(wave, rate, FPS, frames_for(wave, rate), transcript=BILABIALS)
    assert track.method == "alignment" and not track.warnings
    bilabials = [p for p in track.phones if p.phone in {"P", "B", "M"}]
    assert len(bilabials) >= 12
    for phone in bilabials:
        frame = frame_at((phone.start_s + phone.end_s) / 2)
        assert track.closure[frame] >= 0.99, phone
        assert track.jaw_open[frame] <= 0.1, phone
    vowel_frames = [frame_at((p.start_s + p.end_s) / 2) for p in track.phones if p.phone in VOWELS]
    assert np.mean(track.jaw_open[vowel_frames]) > 0.35
    assert np.mean(track.closure[vowel_frames]) < 0.4


@pytest.mark.parametrize("noise_dbfs", [None, -60.0])
@pytest.mark.parametrize("transcript", [BILABIALS, None])
def test_silence_keeps_the_mouth_closed_and_still(
    bilabial_speech: Synthesis, noise_dbfs: float | None, transcript: str | None
) -> None:
    wave, rate = padded(bilabial_speech, noise_dbfs), bilabial_speech.sample_rate
    track = mouth_track(wave, rate, FPS, frames_for(wave, rate), transcript=transcript)
    controls = track.controls()
    quiet = int((PAD_S - 0.2) * FPS)  # the gate opens a little before the first sound
    for silent in (controls[:quiet], controls[-quiet:]):
        np.testing.assert_array_equal(silent, np.tile(REST, (quiet, 1)).astype(np.float32))
    assert track.jaw_open.max() > 0.5  # and the speech itself does move it


def test_track_layout_and_frames_past_the_audio(bilabial_speech: Synthesis) -> None:
    wave, rate = padded(bilabial_speech), bilabial_speech.sample_rate
    fps = Fraction(30000, 1001)
    n_frames = int(len(wave) / rate * fps) + 12
    track = mouth_track(wave, rate, fps, n_frames, transcript=BILABIALS)
    assert isinstance(track, MouthTrack) and track.fps == fps
    assert track.controls().shape == (n_frames, len(CONTROL_NAMES))
    for name in (*CONTROL_NAMES, "energy"):
        values = getattr(track, name)
        assert values.shape == (n_frames,) and values.dtype == np.float32
    assert track.lip_width.min() >= -1 and track.lip_width.max() <= 1
    np.testing.assert_array_equal(track.controls()[-10:], np.tile(REST, (10, 1)))
    assert not track.energy[-10:].any() and track.energy.max() == 1.0


def test_unheard_english_falls_back_to_energy(
    monkeypatch: pytest.MonkeyPatch, bilabial_speech: Synthesis
) -> None:
    def decode_nothing(wave16k: np.ndarray, transcript: str | None) -> PhonemeDecoding:
        seconds = len(wave16k) / 16000
        silence = (PhoneSegment("SIL", 0.0, seconds),)
        return PhonemeDecoding(silence, (), "allphone", (), 0.05, seconds, 0.0)

    monkeypatch.setattr(speech, "decode_phonemes", decode_nothing)
    wave, rate = padded(bilabial_speech), bilabial_speech.sample_rate
    track = mouth_track(wave, rate, FPS, frames_for(wave, rate))
    assert track.method == "energy"
    assert any("energy" in warning for warning in track.warnings)
    assert track.jaw_open.max() > 0.3


@pytest.mark.parametrize(
    "arguments",
    [
        dict(fps=Fraction(0)),
        dict(n_frames=-1),
        dict(wave=np.full(1000, np.nan, dtype=np.float32)),
        dict(wave=np.zeros((10, 10, 2), dtype=np.float32)),
        dict(sample_rate=0),
    ],
)
def test_unusable_arguments_raise_input_error(arguments: dict) -> None:
    call = dict(wave=np.zeros(16000, np.float32), sample_rate=16000, fps=FPS, n_frames=25)
    with pytest.raises(InputError):
        mouth_track(**{**call, **arguments})


def read_clip(shared_media, name: str) -> tuple[np.ndarray, int]:  # noqa: ANN001
    import soundfile

    return soundfile.read(shared_media / "audio" / name, dtype="float32")


@pytest.mark.media
def test_english_clip_without_transcript_moves_the_jaw_with_energy(shared_media) -> None:  # noqa: ANN001
    wave, rate = read_clip(shared_media, "sadtalker_RD_Radio31_000.wav")
    track = mouth_track(wave, rate, FPS, frames_for(wave, rate))
    assert track.method == "allphone" and not track.warnings
    speaking = [p for p in track.phones if p.phone != "SIL"]
    assert 8 <= len(speaking) / (len(wave) / rate) <= 20
    assert np.corrcoef(track.jaw_open, track.energy)[0, 1] > 0.3
    assert np.ptp(track.lip_width) > 0.5 and track.rounding.max() > 0.3


@pytest.mark.media
def test_german_clip_gets_energy_driven_motion(shared_media) -> None:  # noqa: ANN001
    wave, rate = read_clip(shared_media, "sadtalker_deyu.wav")  # 48 kHz, 24-bit, stereo
    assert rate == 48000 and wave.ndim == 2
    track = mouth_track(
        wave, rate, FPS, frames_for(wave, rate), transcript="Guten Tag", language="de"
    )
    assert track.method == "energy" and track.phones == ()
    assert any("transcript ignored" in warning for warning in track.warnings)
    assert np.corrcoef(track.jaw_open, track.energy)[0, 1] > 0.5
    assert track.lip_width.std() > 0.03
    quiet = track.energy < 0.01
    assert quiet.any() and (track.closure[quiet] > 0.9).mean() > 0.9
    assert track.closure[~quiet].max() > 0.5  # lips also close at dips inside speech
    head = head_motion_track(track.energy, FPS, amount=1.0, seed=0)
    assert head.shape == (track.n_frames, 3) and np.abs(head).max() <= 6.0



@pytest.mark.media
def test_jaw_opens_alike_whichever_path_drove_it(shared_media) -> None:  # noqa: ANN001
    """Recognised English phones and the energy path (German) open the jaw to the same
    common level over speech, and the widest frames stay within reach of it."""
    levels = []
    for name, language in (("sadtalker_RD_Radio31_000.wav", "en"), ("sadtalker_deyu.wav", "de")):
        wave, rate = read_clip(shared_media, name)
        track = mouth_track(wave, rate, FPS, frames_for(wave, rate), language=language)
        speaking = track.energy > 0.15
        levels.append(float(np.percentile(track.jaw_open[speaking], 90)))
        assert track.jaw_open.max() < 0.92
    assert all(0.45 < level < 0.65 for level in levels)
    assert abs(levels[0] - levels[1]) < 0.08
