"""Phone timelines on espeak-ng speech (ground truth from espeak's word events) and real media."""

from __future__ import annotations

import difflib

import numpy as np
import pytest

from fgemotalk_cli.errors import InputError
from fgemotalk_cli.speech import sphinx
from fgemotalk_cli.speech.lexicon import transcript_words
from fgemotalk_cli.speech.phonemes import PhonemeDecoding, decode_phonemes, phoneme_timeline
from fgemotalk_cli.speech.segments import SAMPLE_RATE_HZ, SILENCE
from tests.espeak import Synthesis, synthesize

BILABIALS = "Bob made a pie for my mom, but Pam baked a bigger apple pie."
SENTENCES = (
    BILABIALS,
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please remember to buy milk, bread and fresh vegetables on your way home.",
    "Maybe the big blue balloon will float above the empty building tomorrow morning.",
)
PAD_S = 0.5


def speech_16k(synthesis: Synthesis, pad_s: float = PAD_S) -> np.ndarray:
    import soxr

    wave = soxr.resample(synthesis.wave, synthesis.sample_rate, SAMPLE_RATE_HZ)
    pad = np.zeros(int(pad_s * SAMPLE_RATE_HZ), dtype=np.float32)
    return np.concatenate([pad, wave.astype(np.float32), pad])


def word_start_errors(synthesis: Synthesis, decoding: PhonemeDecoding, offset_s: float) -> list:
    """|aligned - espeak| word start times, for words matched in order by their text."""
    truth = [
        (" ".join(transcript_words(text)), start + offset_s) for text, start in synthesis.words
    ]
    found = [(word.word, word.start_s) for word in decoding.words]
    matcher = difflib.SequenceMatcher(a=[w for w, _ in truth], b=[w for w, _ in found])
    return [
        abs(truth[i + k][1] - found[j + k][1])
        for i, j, size in matcher.get_matching_blocks()
        for k in range(size)
    ]


@pytest.fixture(scope="module")
def bilabial_speech() -> Synthesis:
    return synthesize(BILABIALS)


def test_aligned_word_starts_match_espeak() -> None:
    errors = []
    for sentence in SENTENCES:
        synthesis = synthesize(sentence)
        decoding = decode_phonemes(speech_16k(synthesis), sentence)
        assert decoding.method == "alignment" and not decoding.warnings
        errors += word_start_errors(synthesis, decoding, PAD_S)
    errors = np.array(errors)
    assert len(errors) >= 50
    assert np.median(errors) < 0.03
    assert np.mean(errors < 0.05) > 0.9
    assert errors.max() < 0.25


def test_alignment_is_ordered_and_covers_the_audio(bilabial_speech: Synthesis) -> None:
    wave = speech_16k(bilabial_speech)
    decoding = decode_phonemes(wave, BILABIALS)
    duration = len(wave) / SAMPLE_RATE_HZ
    assert [word.word for word in decoding.words] == transcript_words(BILABIALS)
    starts = [word.start_s for word in decoding.words]
    assert starts == sorted(starts)
    assert PAD_S - 0.1 < starts[0] and decoding.words[-1].end_s < duration - PAD_S + 0.1
    phones = decoding.phones
    assert phones[0].start_s == 0.0 and phones[-1].end_s == pytest.approx(duration)
    assert all(a.end_s == pytest.approx(b.start_s) for a, b in zip(phones, phones[1:]))
    assert {"B", "M", "P"} <= {phone.phone for phone in phones}


def test_long_audio_is_aligned_chunk_by_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    # Chunks of 4 s over 13 s of speech, cut mid-sentence: words must still all align.
    monkeypatch.setattr(sphinx, "_ALIGN_CHUNK_SECONDS", 4.0)
    monkeypatch.setattr(sphinx, "_CUT_SEARCH_SECONDS", 2.0)
    text = " ".join(SENTENCES[:3])
    synthesis = synthesize(text)
    decoding = decode_phonemes(speech_16k(synthesis, pad_s=0.0), text)
    assert not decoding.warnings
    assert [word.word for word in decoding.words] == transcript_words(text)
    assert np.median(word_start_errors(synthesis, decoding, 0.0)) < 0.03


def test_allphone_runs_chunk_by_chunk(
    monkeypatch: pytest.MonkeyPatch, bilabial_speech: Synthesis
) -> None:
    monkeypatch.setattr(sphinx, "_ALLPHONE_CHUNK_SECONDS", 2.0)
    monkeypatch.setattr(sphinx, "_CUT_SEARCH_SECONDS", 1.0)
    wave = speech_16k(bilabial_speech)
    decoding = decode_phonemes(wave)
    phones = decoding.phones
    assert decoding.method == "allphone"
    assert all(a.end_s == pytest.approx(b.start_s) for a, b in zip(phones, phones[1:]))
    assert phones[-1].end_s == pytest.approx(len(wave) / SAMPLE_RATE_HZ)
    assert sum(phone.phone != SILENCE for phone in phones) > 20


def test_unknown_words_are_spelled_out_with_a_warning() -> None:
    text = "Bob met Zorblax at the market."
    decoding = decode_phonemes(speech_16k(synthesize(text)), text)
    assert [word.word for word in decoding.words] == transcript_words(text)
    assert any("zorblax" in warning for warning in decoding.warnings)
    with pytest.warns(UserWarning, match="zorblax"):
        phoneme_timeline(speech_16k(synthesize(text)), text)


def test_transcript_without_words_falls_back_to_recognition(bilabial_speech: Synthesis) -> None:
    decoding = decode_phonemes(speech_16k(bilabial_speech), " ... ")
    assert decoding.method == "allphone" and decoding.warnings


def test_digital_silence_is_one_silent_phone() -> None:
    decoding = decode_phonemes(np.zeros(SAMPLE_RATE_HZ, dtype=np.float32), "hello")
    assert [(p.phone, p.start_s, p.end_s) for p in decoding.phones] == [(SILENCE, 0.0, 1.0)]


@pytest.mark.parametrize(
    "wave", [np.zeros((2, 100), np.float32), np.zeros(0, np.float32), np.zeros(100, np.int16)]
)
def test_unusable_audio_raises_input_error(wave: np.ndarray) -> None:
    with pytest.raises(InputError):
        decode_phonemes(wave)


@pytest.mark.media
def test_phone_rate_of_english_radio_clip(shared_media) -> None:  # noqa: ANN001
    import soundfile

    wave, rate = soundfile.read(shared_media / "audio" / "sadtalker_RD_Radio31_000.wav")
    assert rate == SAMPLE_RATE_HZ
    decoding = decode_phonemes(wave.mean(axis=1).astype(np.float32))
    phones_per_second = sum(p.phone != SILENCE for p in decoding.phones) / decoding.audio_seconds
    print(
        f"allphone: {phones_per_second:.1f} phones/s, {decoding.real_time_factor:.3f} x real time"
    )
    assert 8 <= phones_per_second <= 20
    assert decoding.speech_coverage > 0.8
    assert decoding.real_time_factor < 1.0  # loose: the CPU is shared
