"""Phoneme timelines from speech: forced alignment with a transcript, phone recognition without.

Both run pocketsphinx 5 with the US-English acoustic model, dictionary (CMUdict) and phone
language model that ship inside its wheel, so nothing is downloaded. Without a transcript the
allphone search recognises phones directly (noisy, about one phone in three wrong, but the
timing and the broad classes are usable for lips). With a transcript the words are aligned
through a linear grammar and a second pass gives phone boundaries, which is far more accurate.

Long audio is cut at its quietest points into chunks of bounded length and each chunk is
decoded on its own, so memory does not grow with the length of the recording. [ours]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fgemotalk_cli.errors import EngineUnavailableError, InputError, WeightsError
from fgemotalk_cli.lexicon import letter_to_sound, transcript_words

SAMPLE_RATE_HZ = 16000
SILENCE = "SIL"
_FRAMES_PER_SECOND = 100  # pocketsphinx analyses 10 ms frames
_HOP = SAMPLE_RATE_HZ // _FRAMES_PER_SECOND
_ALLPHONE_CHUNK_SECONDS = 30.0
# Alignment chunks are longer: each boundary is a place where words can land on the wrong side.
_ALIGN_CHUNK_SECONDS = 60.0
_CUT_SEARCH_SECONDS = 5.0
_TARGET_LEVEL = 0.1  # loud-frame RMS after gain, about -20 dBFS
_DITHER_DB = -50.0  # noise floor added below the loud-frame level
_SPEECH_BELOW_LEVEL_DB = -30.0  # frames within this of the loud level count as speech
_NON_WORDS = {"<s>", "</s>", "<sil>"}


@dataclass(frozen=True)
class PhoneSegment:
    """One phone: ARPAbet without stress marks (``"B"``, ``"AA"``) or ``"SIL"``; times in seconds."""

    phone: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class WordSegment:
    word: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class PhonemeDecoding:
    """What `decode_phonemes` found, and how.

    ``method`` is ``"alignment"`` when a transcript was aligned (chunks where alignment failed
    fall back to phone recognition and say so in ``warnings``), else ``"allphone"``.
    ``speech_coverage`` is the share of loud 10 ms frames that got a phone other than silence:
    a low value means the recogniser did not hear English speech where there was sound.
    """

    phones: tuple[PhoneSegment, ...]
    words: tuple[WordSegment, ...]
    method: Literal["alignment", "allphone"]
    warnings: tuple[str, ...]
    speech_coverage: float
    audio_seconds: float
    decode_seconds: float

    @property
    def real_time_factor(self) -> float:
        """Decoding time over audio time (0.05 means 20x faster than real time)."""
        return self.decode_seconds / max(self.audio_seconds, 1e-9)


def phoneme_timeline(wave16k: np.ndarray, transcript: str | None = None) -> list[PhoneSegment]:
    """Phones of 16 kHz mono speech, covering the whole wave without gaps.

    A short form of `decode_phonemes` for callers that only want the phones; warnings
    (unknown words, failed alignment) are raised as Python warnings here.
    """
    import warnings

    decoding = decode_phonemes(wave16k, transcript)
    for message in decoding.warnings:
        warnings.warn(message, UserWarning, stacklevel=2)
    return list(decoding.phones)


def decode_phonemes(wave16k: np.ndarray, transcript: str | None = None) -> PhonemeDecoding:
    """Phone (and, with a transcript, word) timeline of 16 kHz mono speech."""
    wave = _checked_wave(wave16k)
    started = time.perf_counter()
    audio_seconds = len(wave) / SAMPLE_RATE_HZ
    rms = _frame_rms(wave)
    level = float(np.percentile(rms, 95)) if len(rms) else 0.0
    warnings: list[str] = []
    words: list[WordSegment] = []
    if level < 1e-5:
        # Digital silence: nothing to decode, and the decoder would only hallucinate noise.
        phones = [PhoneSegment(SILENCE, 0.0, audio_seconds)]
        method: Literal["alignment", "allphone"] = "alignment" if transcript else "allphone"
    else:
        session = _Session(wave, rms, level)
        tokens = transcript_words(transcript) if transcript else []
        if transcript is not None and not tokens:
            warnings.append("the transcript has no words; phones were recognised instead")
        if tokens:
            method = "alignment"
            phones, words = session.align(tokens, warnings)
        else:
            method = "allphone"
            phones = session.recognise_all()
    phones = _merged_silences(_covering(phones, audio_seconds))
    return PhonemeDecoding(
        phones=tuple(phones),
        words=tuple(words),
        method=method,
        warnings=tuple(warnings),
        speech_coverage=_speech_coverage(phones, rms, level),
        audio_seconds=audio_seconds,
        decode_seconds=time.perf_counter() - started,
    )


class _Session:
    """Decoders and level statistics for one wave; decoders are built on first use."""

    def __init__(self, wave: np.ndarray, rms: np.ndarray, level: float) -> None:
        self.wave = wave
        self.rms = rms
        self.gain = min(_TARGET_LEVEL / level, 1000.0)
        self.speech_threshold = level * 10 ** (_SPEECH_BELOW_LEVEL_DB / 20)
        self._decoders: dict[str, Any] = {}

    def decoder(self, kind: Literal["allphone", "align", "align_wide"]) -> Any:
        if kind not in self._decoders:
            self._decoders[kind] = _new_decoder(kind)
        return self._decoders[kind]

    def pcm(self, start_frame: int, end_frame: int) -> bytes:
        """16-bit PCM of a chunk, levelled and with a faint fixed noise floor.

        Exact digital zeros (TTS output, padded files) break the acoustic model's noise
        removal and it then hears almost everything as silence; a noise floor 50 dB under
        the speech level fixes that without audibly changing the speech.
        """
        chunk = self.wave[start_frame * _HOP : end_frame * _HOP] * self.gain
        rng = np.random.default_rng(start_frame)
        noise_rms = _TARGET_LEVEL * 10 ** (_DITHER_DB / 20)
        chunk = chunk + rng.standard_normal(len(chunk)).astype(np.float32) * noise_rms
        return (np.clip(chunk, -1.0, 1.0) * 32767).astype(np.int16).tobytes()

    def recognise_all(self) -> list[PhoneSegment]:
        max_frames = int(_ALLPHONE_CHUNK_SECONDS * _FRAMES_PER_SECOND)
        phones: list[PhoneSegment] = []
        for start, end in _chunk_bounds(self.rms, max_frames):
            phones += self.recognise(start, end)
        return phones

    def recognise(self, start: int, end: int) -> list[PhoneSegment]:
        decoder = self.decoder("allphone")
        _decode(decoder, self.pcm(start, end))
        return [
            PhoneSegment(
                _phone_name(segment.word),
                (start + segment.start_frame) / _FRAMES_PER_SECOND,
                (start + segment.end_frame + 1) / _FRAMES_PER_SECOND,
            )
            for segment in decoder.seg()
        ]

    def align(
        self, tokens: list[str], warnings: list[str]
    ) -> tuple[list[PhoneSegment], list[WordSegment]]:
        decoder = self.decoder("align")
        pronunciations = _pronunciations(decoder, tokens, warnings)
        max_frames = int(_ALIGN_CHUNK_SECONDS * _FRAMES_PER_SECOND)
        bounds = _chunk_bounds(self.rms, max_frames)
        expected_ends = self._expected_word_ends(bounds, pronunciations)
        phones: list[PhoneSegment] = []
        words: list[WordSegment] = []
        next_word = 0
        for index, (start, end) in enumerate(bounds):
            last = index == len(bounds) - 1
            if not (self.rms[start:end] > self.speech_threshold).any():
                continue  # a silent chunk; the gap is filled with silence later
            if next_word >= len(tokens):
                warnings.append(
                    f"speech after the last transcript word at {start / 100:.1f} s; "
                    "phones there were recognised without the transcript"
                )
                phones += self.recognise(start, end)
                continue
            slack = max(5, (expected_ends[index] - next_word) // 3)
            max_end = len(tokens) if last else min(len(tokens), expected_ends[index] + slack)
            max_end = max(max_end, next_word + 1)
            min_end = max_end if last else max(next_word + 1, expected_ends[index] - slack)
            aligned = self._align_chunk(start, end, tokens[next_word:max_end], min_end - next_word)
            if aligned is None:
                warnings.append(
                    f"could not align the transcript to {start / 100:.1f}-{end / 100:.1f} s; "
                    "phones there were recognised without it"
                )
                phones += self.recognise(start, end)
                next_word = min(max_end, max(expected_ends[index], next_word + 1))
                continue
            chunk_phones, chunk_words = aligned
            phones += chunk_phones
            words += chunk_words
            next_word += len(chunk_words)
        return phones, words

    def _align_chunk(
        self, start: int, end: int, words: list[str], min_words: int
    ) -> tuple[list[PhoneSegment], list[WordSegment]] | None:
        """Align ``words`` (at least ``min_words`` of them, in order) to a chunk, or None."""
        pcm = self.pcm(start, end)
        for kind in ("align", "align_wide"):
            # The wide beams cost time, so they are only a second try for hard audio.
            decoder = self.decoder(kind)
            if kind == "align_wide":
                for word in words:
                    if decoder.lookup_word(word) is None:
                        decoder.add_word(word, self.decoder("align").lookup_word(word), True)
            alignment = _align_with_grammar(decoder, pcm, words, min_words)
            if alignment is not None:
                break
        else:
            return None
        offset = start / _FRAMES_PER_SECOND
        phones = [
            PhoneSegment(
                _phone_name(entry.name),
                offset + entry.start / _FRAMES_PER_SECOND,
                offset + (entry.start + entry.duration) / _FRAMES_PER_SECOND,
            )
            for entry in alignment.phones()
        ]
        aligned_words = [
            WordSegment(
                name,
                offset + entry.start / _FRAMES_PER_SECOND,
                offset + (entry.start + entry.duration) / _FRAMES_PER_SECOND,
            )
            for entry in alignment.words()
            if (name := entry.name.split("(")[0]) not in _NON_WORDS and not name.startswith("[")
        ]
        return phones, aligned_words

    def _expected_word_ends(
        self, bounds: list[tuple[int, int]], pronunciations: list[str]
    ) -> list[int]:
        """For each chunk, the word index the transcript should have reached by its end.

        Assumes phones are spread evenly over the loud frames: good enough to cut the
        transcript near a chunk's end, and the grammar lets the decoder pick the exact word.
        """
        phone_counts = np.cumsum([len(p.split()) for p in pronunciations])
        loud = np.array([(self.rms[s:e] > self.speech_threshold).sum() for s, e in bounds])
        share = np.cumsum(loud) / max(int(loud.sum()), 1)
        targets = share * phone_counts[-1]
        return [int(np.searchsorted(phone_counts, target - 1e-9)) + 1 for target in targets]


def _align_with_grammar(decoder: Any, pcm: bytes, words: list[str], min_words: int) -> Any:
    """Word pass through a linear grammar that may stop after ``min_words``, then a phone pass."""
    final_state = len(words)
    transitions = [(i, i + 1, 1.0, word) for i, word in enumerate(words)]
    transitions += [(i, final_state, 1.0) for i in range(max(min_words, 1), final_state)]
    grammar = decoder.create_fsg("align", 0, final_state, transitions)
    decoder.add_fsg("align", grammar)
    decoder.activate_search("align")
    _decode(decoder, pcm)
    if decoder.hyp() is None:
        return None
    decoder.set_alignment()
    _decode(decoder, pcm)
    return decoder.get_alignment()


def _decode(decoder: Any, pcm: bytes) -> None:
    decoder.start_utt()
    # full_utt: normalise cepstra over the whole chunk, not a running estimate.
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def _new_decoder(kind: Literal["allphone", "align", "align_wide"]) -> Any:
    try:
        import pocketsphinx
    except ImportError as error:
        raise EngineUnavailableError(
            "speech decoding needs pocketsphinx 5: pip install 'pocketsphinx>=5'"
        ) from error
    model_dir = Path(pocketsphinx.get_model_path()) / "en-us"
    files = {
        "hmm": model_dir / "en-us",
        "dict": model_dir / "cmudict-en-us.dict",
        "allphone": model_dir / "en-us-phone.lm.bin",
    }
    missing = [str(path) for path in files.values() if not path.exists()]
    if missing:
        raise WeightsError(f"pocketsphinx's en-us model is incomplete, missing: {missing}")
    if kind == "allphone":
        # The phone LM weight and beams recommended for allphone search in pocketsphinx's docs.
        options = dict(allphone=str(files["allphone"]), lw=2.0, beam=1e-20, pbeam=1e-20)
    elif kind == "align":
        options = dict(dict=str(files["dict"]), lm=None)
    else:
        options = dict(dict=str(files["dict"]), lm=None, beam=1e-80, pbeam=1e-80, wbeam=1e-60)
    return pocketsphinx.Decoder(hmm=str(files["hmm"]), loglevel="FATAL", **options)


def _pronunciations(decoder: Any, tokens: list[str], warnings: list[str]) -> list[str]:
    """Dictionary pronunciation of each token; unknown words get spelling-rule ones."""
    pronunciations: list[str] = []
    guessed: list[str] = []
    for token in tokens:
        phones = decoder.lookup_word(token)
        if phones is None:
            phones = letter_to_sound(token) or "AH"
            decoder.add_word(token, phones, True)
            guessed.append(token)
        pronunciations.append(phones)
    if guessed:
        shown = ", ".join(sorted(set(guessed))[:10])
        warnings.append(
            f"{len(set(guessed))} transcript word(s) not in the dictionary, "
            f"pronounced from their spelling: {shown}"
        )
    return pronunciations


def _phone_name(name: str) -> str:
    """Allphone and alignment names to ARPAbet; fillers (+NSN+, +SPN+, ...) count as silence."""
    if name.startswith("+") or name.upper() in {"SIL", "<SIL>"}:
        return SILENCE
    return name.rstrip("012").upper()


def _checked_wave(wave16k: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave16k)
    if wave.ndim != 1:
        raise InputError(f"expected mono audio as a 1-D array, got shape {wave.shape}")
    if len(wave) == 0:
        raise InputError("the audio is empty")
    if not np.issubdtype(wave.dtype, np.floating):
        raise InputError(f"expected float samples in -1..1, got {wave.dtype}")
    return wave.astype(np.float32, copy=False)


def _frame_rms(wave: np.ndarray) -> np.ndarray:
    """RMS of each 10 ms frame, computed in blocks so no full-length temporary is made."""
    n_frames = len(wave) // _HOP
    rms = np.empty(n_frames, dtype=np.float32)
    block = 6000  # frames, one minute
    for first in range(0, n_frames, block):
        last = min(first + block, n_frames)
        frames = wave[first * _HOP : last * _HOP].reshape(-1, _HOP).astype(np.float64)
        rms[first:last] = np.sqrt(np.mean(frames**2, axis=1))
        if not np.isfinite(rms[first:last]).all():
            raise InputError("the audio contains NaN or infinite samples")
    return rms


def _chunk_bounds(rms: np.ndarray, max_frames: int) -> list[tuple[int, int]]:
    """Cut [0, len) into chunks of at most ``max_frames``, each cut at the quietest frame."""
    search = int(_CUT_SEARCH_SECONDS * _FRAMES_PER_SECOND)
    bounds: list[tuple[int, int]] = []
    start = 0
    while len(rms) - start > max_frames:
        window_start = start + max_frames - search
        cut = window_start + int(np.argmin(rms[window_start : start + max_frames]))
        bounds.append((start, cut))
        start = cut
    bounds.append((start, max(len(rms), start + 1)))
    return bounds


def _covering(phones: list[PhoneSegment], audio_seconds: float) -> list[PhoneSegment]:
    """Sorted phones with the gaps (and the tail after the last frame) filled with silence."""
    result: list[PhoneSegment] = []
    cursor = 0.0
    for phone in sorted(phones, key=lambda p: p.start_s):
        start = max(phone.start_s, cursor)
        end = min(phone.end_s, audio_seconds)
        if end <= start:
            continue
        if start - cursor > 1e-6:
            result.append(PhoneSegment(SILENCE, cursor, start))
        result.append(PhoneSegment(phone.phone, start, end))
        cursor = end
    if audio_seconds - cursor > 1e-6:
        result.append(PhoneSegment(SILENCE, cursor, audio_seconds))
    return result


def _merged_silences(phones: list[PhoneSegment]) -> list[PhoneSegment]:
    merged: list[PhoneSegment] = []
    for phone in phones:
        if merged and phone.phone == SILENCE and merged[-1].phone == SILENCE:
            merged[-1] = PhoneSegment(SILENCE, merged[-1].start_s, phone.end_s)
        else:
            merged.append(phone)
    return merged


def _speech_coverage(phones: list[PhoneSegment], rms: np.ndarray, level: float) -> float:
    loud = rms > level * 10 ** (_SPEECH_BELOW_LEVEL_DB / 20)
    if not loud.any():
        return 1.0
    labelled = np.zeros(len(rms), dtype=bool)
    for phone in phones:
        if phone.phone != SILENCE:
            labelled[int(phone.start_s * 100) : int(np.ceil(phone.end_s * 100))] = True
    return float((loud & labelled).sum() / loud.sum())
