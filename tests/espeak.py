"""English test speech from espeak-ng, with espeak's own word and phoneme timings.

The command line (``espeak-ng -w out.wav "..."``) gives audio only; the library's synthesis
callback also reports when each word and phoneme starts, which is the ground truth the
alignment tests compare against. Audio and events come from one synthesis run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

import numpy as np
import pytest

_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: samples come back through the callback
_PHONEME_EVENTS = 1  # espeakINITIALIZE_PHONEME_EVENTS
_POSITION_CHARACTER = 1
_EVENT_END_OF_LIST, _EVENT_WORD, _EVENT_PHONEME = 0, 1, 7


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """espeak_EVENT from speak_lib.h."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Synthesis:
    wave: np.ndarray  # float32 mono
    sample_rate: int
    words: list[tuple[str, float]]  # (word as written, start in seconds)
    phonemes: list[tuple[str, float]]  # (espeak phoneme mnemonic, start in seconds)


def synthesize(text: str, voice: str = "en-us", words_per_minute: int = 160) -> Synthesis:
    """Speak ``text`` with espeak-ng (`make install` installs it; its absence is a failure)."""
    path = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    try:
        library = ctypes.CDLL(path)
    except OSError:
        pytest.fail("espeak-ng is not installed (apt-get install espeak-ng)")
    sample_rate = library.espeak_Initialize(_SYNCHRONOUS, 0, None, _PHONEME_EVENTS)
    chunks: list[np.ndarray] = []
    words: list[tuple[str, float]] = []
    phonemes: list[tuple[str, float]] = []
    encoded = text.encode()

    def on_audio(samples, count, events):  # noqa: ANN001 - ctypes callback
        if count > 0:
            chunks.append(np.ctypeslib.as_array(samples, (count,)).copy())
        index = 0
        while events[index].type != _EVENT_END_OF_LIST:
            event = events[index]
            seconds = event.audio_position / 1000
            if event.type == _EVENT_WORD:
                start = event.text_position - 1  # espeak counts characters from 1
                word = encoded[start : start + event.length].decode()
                words.append((word, seconds))
            elif event.type == _EVENT_PHONEME:
                phonemes.append((event.id.string.decode(), seconds))
            index += 1
        return 0

    callback = _Callback(on_audio)  # kept referenced until synthesis ends
    library.espeak_SetSynthCallback(callback)
    library.espeak_SetVoiceByName(voice.encode())
    library.espeak_SetParameter(1, words_per_minute, 0)  # espeakRATE, absolute
    library.espeak_Synth(encoded, len(encoded) + 1, 0, _POSITION_CHARACTER, 0, 0, None, None)
    library.espeak_Synchronize()
    wave = np.concatenate(chunks).astype(np.float32) / 32768.0
    return Synthesis(wave, sample_rate, words, phonemes)
