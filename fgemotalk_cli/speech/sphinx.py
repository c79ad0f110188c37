"""pocketsphinx driver for `phonemes.py`: phone recognition and chunked forced alignment.

Everything that knows pocketsphinx's API, model files and quirks lives here. [ours]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fgemotalk_cli.errors import EngineUnavailableError, WeightsError
from fgemotalk_cli.speech.lexicon import letter_to_sound
from fgemotalk_cli.speech.segments import (
    FRAMES_PER_SECOND,
    SILENCE,
    SPEECH_BELOW_LEVEL_DB,
    PhoneSegment,
    WordSegment,
)

_HOP = 160  # samples per 10 ms frame at 16 kHz
_ALLPHONE_CHUNK_SECONDS = 30.0
# Alignment chunks are longer: each boundary is a place where words can land on the wrong side.
_ALIGN_CHUNK_SECONDS = 60.0
_CUT_SEARCH_SECONDS = 5.0
_TARGET_LEVEL = 0.1  # loud-frame RMS after gain, about -20 dBFS
_DITHER_DB = -50.0  # noise floor added below the loud-frame level
_NON_WORDS = {"<s>", "</s>", "<sil>"}
_PAUSE_MIN_FRAMES = 12  # a quiet run this long inside a phone is a pause, not a stop closure
_CLOSURE_KEEP_FRAMES = 5


class SphinxSession:
    """Decoders and level statistics for one wave; decoders are built on first use."""

    def __init__(self, wave: np.ndarray, rms: np.ndarray, level: float) -> None:
        self.wave = wave
        self.rms = rms
        self.gain = min(_TARGET_LEVEL / level, 1000.0)
        self.speech_threshold = level * 10 ** (SPEECH_BELOW_LEVEL_DB / 20)
        self._decoders: dict[str, Any] = {}
        self._grammar_names: dict[str, Iterator[str]] = {}

    def decoder(self, kind: Literal["allphone", "align", "align_wide"]) -> Any:
        if kind not in self._decoders:
            self._decoders[kind] = _new_decoder(kind)
            self._grammar_names[kind] = itertools.cycle(["align_a", "align_b"])
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
        max_frames = int(_ALLPHONE_CHUNK_SECONDS * FRAMES_PER_SECOND)
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
                _seconds(start + segment.start_frame),
                _seconds(start + segment.end_frame + 1),
            )
            for segment in decoder.seg()
        ]

    def align(
        self, tokens: list[str], warnings: list[str]
    ) -> tuple[list[PhoneSegment], list[WordSegment]]:
        decoder = self.decoder("align")
        pronunciations = _pronunciations(decoder, tokens, warnings)
        max_frames = int(_ALIGN_CHUNK_SECONDS * FRAMES_PER_SECOND)
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
                    f"speech after the last transcript word at {_seconds(start):.1f} s; "
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
                    f"could not align the transcript to {_seconds(start):.1f}-"
                    f"{_seconds(end):.1f} s; phones there were recognised without it"
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
            names = self._grammar_names[kind]
            alignment = _align_with_grammar(decoder, names, pcm, words, min_words)
            if alignment is not None:
                return self._timeline(alignment, start)
        return None

    def _timeline(self, alignment: Any, start: int) -> tuple[list[PhoneSegment], list[WordSegment]]:
        """Phones and words of a pocketsphinx Alignment of the chunk starting at ``start``."""
        phones: list[PhoneSegment] = []
        words: list[WordSegment] = []
        for word in alignment:
            name = word.name.split("(")[0]
            # [phone, start frame, end frame] lists, which _release_pauses edits.
            entries = [
                [_phone_name(p.name), start + p.start, start + p.start + p.duration] for p in word
            ]
            if name in _NON_WORDS or name.startswith("[") or not entries:
                phones += [PhoneSegment(SILENCE, _seconds(a), _seconds(b)) for _, a, b in entries]
                continue
            self._release_pauses(entries)
            phones += [PhoneSegment(phone, _seconds(a), _seconds(b)) for phone, a, b in entries]
            spoken = [entry for entry in entries if entry[0] != SILENCE] or entries
            words.append(WordSegment(name, _seconds(spoken[0][1]), _seconds(spoken[-1][2])))
        return phones, words

    def _release_pauses(self, entries: list[list]) -> None:
        """Give a pause swallowed by a word's first or last phone back to silence.

        The aligner often stretches a stop over the pause next to it ("mom, but": the B
        starts in the pause after the comma), since a closure sounds like silence. A quiet
        run longer than a closure can be is cut back to a closure's length. Edits
        ``entries`` in place, adding SIL entries.
        """
        _, first, last = entries[0]
        quiet_until = self._quiet_run_end(first, last)
        if quiet_until is not None:
            entries[0][1] = quiet_until - _CLOSURE_KEEP_FRAMES
            entries.insert(0, [SILENCE, first, quiet_until - _CLOSURE_KEEP_FRAMES])
        _, first, last = entries[-1]
        quiet_from = self._quiet_run_end(last, first)
        if quiet_from is not None:
            entries[-1][2] = quiet_from + _CLOSURE_KEEP_FRAMES
            entries.append([SILENCE, quiet_from + _CLOSURE_KEEP_FRAMES, last])

    def _quiet_run_end(self, edge: int, other_edge: int) -> int | None:
        """Far end of a pause-long quiet run at ``edge`` of the frames between the two edges.

        Counts inwards from ``edge`` (which may be the later edge); the run may start up to
        two frames in, since the frame at a phone boundary still holds the previous sound.
        """
        step = 1 if other_edge > edge else -1
        frames = self.rms[min(edge, other_edge) : max(edge, other_edge)]
        quiet = (frames if step == 1 else frames[::-1]) <= self.speech_threshold
        for skip in range(3):
            run = _run_length(quiet[skip:])
            if run >= _PAUSE_MIN_FRAMES:
                return edge + step * (skip + run)
        return None

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


def _seconds(frame: int) -> float:
    return frame / FRAMES_PER_SECOND


def _run_length(flags: np.ndarray) -> int:
    """How many leading entries of ``flags`` are True."""
    return int(np.argmin(flags)) if not flags.all() else len(flags)


def _align_with_grammar(
    decoder: Any, names: Iterator[str], pcm: bytes, words: list[str], min_words: int
) -> Any:
    """Align the first ``min_words`` or more of ``words`` to a chunk: Alignment or None.

    When the chunk may end before the last word, a first pass through a grammar with exits
    after each of the allowed words finds how many words the chunk holds. The phone pass
    cannot start from such a grammar (pocketsphinx refuses the sub-word alignment set-up
    after an exit through a null transition), so the words found are aligned again through
    a plain linear grammar before it. Grammars are named from ``names``: pocketsphinx
    cannot replace the active search, so names must not repeat back to back.
    """
    try:
        if min_words < len(words):
            words = _words_spoken(decoder, next(names), pcm, words, min_words)
            if not words:
                return None
        _search_grammar(decoder, words, len(words), next(names))
        _decode(decoder, pcm)
        if decoder.hyp() is None:  # no path reached the end of the grammar
            return None
        decoder.set_alignment()
        _decode(decoder, pcm)
    except RuntimeError:
        # pocketsphinx reports a failed search only as a RuntimeError without detail; the
        # caller falls back to phone recognition and says so.
        return None
    return decoder.get_alignment()


def _words_spoken(
    decoder: Any, name: str, pcm: bytes, words: list[str], min_words: int
) -> list[str]:
    _search_grammar(decoder, words, min_words, name)
    _decode(decoder, pcm)
    if decoder.hyp() is None:
        return []
    return [
        name
        for segment in decoder.seg()
        # An exit through a null transition shows up as a segment without a word.
        if (name := segment.word.split("(")[0]) and name not in _NON_WORDS and name[0] != "["
    ]


def _search_grammar(decoder: Any, words: list[str], min_words: int, name: str) -> None:
    """Activate a linear grammar over ``words`` that may end after any word from ``min_words``."""
    final_state = len(words)
    # Word arcs carry their word; the arcs that end the utterance early carry none.
    transitions: list[tuple[int, int, float] | tuple[int, int, float, str]]
    transitions = [(i, i + 1, 1.0, word) for i, word in enumerate(words)]
    transitions += [(i, final_state, 1.0) for i in range(max(min_words, 1), final_state)]
    decoder.add_fsg(name, decoder.create_fsg(name, 0, final_state, transitions))
    decoder.activate_search(name)


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
    else:
        # Without bestpath the word pass keeps the Viterbi segmentation; the lattice's best
        # path can give a phone fewer frames than its HMM has states, and the phone pass
        # then fails on it.
        options = dict(dict=str(files["dict"]), lm=None, bestpath=False)
        if kind == "align_wide":
            options.update(beam=1e-80, pbeam=1e-80, wbeam=1e-60)
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


def _chunk_bounds(rms: np.ndarray, max_frames: int) -> list[tuple[int, int]]:
    """Cut [0, len) into chunks of at most ``max_frames``, each cut at the quietest frame."""
    search = int(_CUT_SEARCH_SECONDS * FRAMES_PER_SECOND)
    bounds: list[tuple[int, int]] = []
    start = 0
    while len(rms) - start > max_frames:
        window_start = start + max_frames - search
        cut = window_start + int(np.argmin(rms[window_start : start + max_frames]))
        bounds.append((start, cut))
        start = cut
    bounds.append((start, max(len(rms), start + 1)))
    return bounds
