"""Transcript text to dictionary words, and pronunciations for words the dictionary lacks.

Forced alignment needs every word of the transcript in the pronunciation dictionary
(CMUdict, shipped with pocketsphinx). Text is normalised here (case, punctuation, numbers),
and a word that is still missing gets a rough pronunciation from letter-to-sound rules.
The rules are crude, but the mouth only needs the right kind of sound (lips closed, rounded,
open) at about the right time, so a rough pronunciation animates far better than dropping
the word, which would shift every later word. [ours]
"""

from __future__ import annotations

import re
import unicodedata

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))

# Longest graphemes first: the rules are tried in this order at each position.
# fmt: off
_LETTER_SOUNDS: tuple[tuple[str, str], ...] = (
    ("ough", "AO"), ("augh", "AO"), ("eigh", "EY"), ("tch", "CH"), ("igh", "AY"),
    ("sch", "S K"), ("th", "TH"), ("sh", "SH"), ("ch", "CH"), ("ph", "F"), ("wh", "W"),
    ("ck", "K"), ("ng", "NG"), ("qu", "K W"), ("gh", "G"), ("kn", "N"), ("wr", "R"),
    ("ee", "IY"), ("ea", "IY"), ("oo", "UW"), ("ou", "AW"), ("ow", "OW"), ("oi", "OY"),
    ("oy", "OY"), ("ai", "EY"), ("ay", "EY"), ("au", "AO"), ("aw", "AO"), ("ie", "IY"),
    ("ei", "EY"), ("ey", "IY"), ("ue", "UW"), ("ew", "UW"), ("er", "ER"), ("ir", "ER"),
    ("ur", "ER"), ("ar", "AA R"), ("or", "AO R"),
    ("a", "AE"), ("b", "B"), ("c", "K"), ("d", "D"), ("e", "EH"), ("f", "F"), ("g", "G"),
    ("h", "HH"), ("i", "IH"), ("j", "JH"), ("k", "K"), ("l", "L"), ("m", "M"), ("n", "N"),
    ("o", "AA"), ("p", "P"), ("q", "K"), ("r", "R"), ("s", "S"), ("t", "T"), ("u", "AH"),
    ("v", "V"), ("w", "W"), ("x", "K S"), ("y", "IY"), ("z", "Z"),
)
# fmt: on
_VOWEL_LETTERS = set("aeiouy")


def number_to_words(number: int) -> list[str]:
    """Cardinal English words for a non-negative integer (``2024`` -> two thousand twenty four)."""
    if number < 20:
        return [_ONES[number]]
    if number < 100:
        tens, ones = divmod(number, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return [_ONES[hundreds], "hundred"] + (number_to_words(rest) if rest else [])
    for scale, name in _SCALES:
        if number >= scale:
            head, rest = divmod(number, scale)
            return number_to_words(head) + [name] + (number_to_words(rest) if rest else [])
    raise AssertionError("unreachable")


def _number_token_to_words(token: str) -> list[str]:
    whole, _, fraction = token.partition(".")
    if len(whole) > 12:
        # Serial numbers and the like are read digit by digit.
        words = [_ONES[int(digit)] for digit in whole]
    else:
        words = number_to_words(int(whole))
    if fraction:
        words += ["point"] + [_ONES[int(digit)] for digit in fraction]
    return words


def _ascii_letters(word: str) -> str:
    """Drop accents (é -> e) and anything that is not a-z or an apostrophe."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if c.isascii() and (c.isalpha() or c == "'")).lower()


def transcript_words(text: str) -> list[str]:
    """Split a transcript into lower-case dictionary tokens, with numbers spelled out.

    Punctuation goes, apostrophes inside words stay (``don't``), hyphenated words split,
    ``1,000`` and ``3.5`` become words.
    """
    text = text.replace("\u2019", "'")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    words: list[str] = []
    for token in re.findall(r"\d+(?:\.\d+)?|[^\W\d_]+(?:'[^\W\d_]+)*", text):
        if token[0].isdigit():
            words += _number_token_to_words(token)
            continue
        letters = _ascii_letters(token).strip("'")
        if letters:
            words.append(letters)
    return words


def letter_to_sound(word: str) -> str:
    """A rough ARPAbet pronunciation (space separated, no stress marks) from spelling."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    # A final e after a consonant is silent ("make", "bike").
    if len(letters) > 3 and letters.endswith("e") and letters[-2] not in _VOWEL_LETTERS:
        letters = letters[:-1]
    # Doubled consonants sound once ("apple" -> one P).
    letters = re.sub(r"([b-df-hj-np-tv-z])\1", r"\1", letters)
    phones: list[str] = []
    position = 0
    while position < len(letters):
        for grapheme, sound in _LETTER_SOUNDS:
            if letters.startswith(grapheme, position):
                phones += sound.split()
                position += len(grapheme)
                break
        else:
            position += 1
    return " ".join(phones)
