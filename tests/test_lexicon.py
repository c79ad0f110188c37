from __future__ import annotations

from fgemotalk_cli.speech.lexicon import letter_to_sound, number_to_words, transcript_words


def test_transcript_words_normalise_case_punctuation_and_numbers() -> None:
    text = "Don't panic: 1,250 cats ate 3.5 pies — café-style!"
    assert transcript_words(text) == [
        "don't", "panic", "one", "thousand", "two", "hundred", "fifty", "cats", "ate",
        "three", "point", "five", "pies", "cafe", "style",
    ]  # fmt: skip


def test_number_to_words() -> None:
    assert number_to_words(0) == ["zero"]
    assert number_to_words(2024) == ["two", "thousand", "twenty", "four"]
    assert number_to_words(3_000_017) == ["three", "million", "seventeen"]


def test_letter_to_sound_gives_arpabet() -> None:
    assert letter_to_sound("zorblax") == "Z AO R B L AE K S"
    assert letter_to_sound("shipping") == "SH IH P IH NG"
    assert letter_to_sound("'") == ""
