from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifier.normalise import normalise, split_hashtag


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello   WORLD\n\tagain ", "hello world again"),
        ("ＦＲＥＥ ｍｏｎｅｙ", "free money"),  # full-width letters (NFKC)
        ("𝐟𝐫𝐞𝐞 𝐦𝐨𝐧𝐞𝐲", "free money"),  # mathematical bold
        ("Straße", "strasse"),  # case folding, not just lower()
        (
            "visit https://scam.example/x?a=1 or www.scam.example now",
            "visit http://url or http://url now",
        ),
        ("thanks @Some_Body!", "thanks @user!"),
        ("write to a.b@example.com", "write to a.b@example.com"),  # e-mail left alone
        ("http://url and @user", "http://url and @user"),  # the data's own masks are stable
        # evasions
        ("you b1tch", "you bitch"),
        ("what an id10t", "what an idiot"),
        ("sh!t happens", "shit happens"),
        ("stuuuuupid", "stupid"),
        ("f\u200bu\u200bc\u200bk", "fuck"),  # zero-width spaces inside a word
        ("i\u2060diot", "idiot"),  # word joiner
        ("раураl", "paypal"),  # Cyrillic look-alikes in a Latin word
        ("ѕсаm аlеrt", "scam alert"),  # mostly look-alikes, one Latin letter each
        ("привет мир", "привет мир"),  # all-Cyrillic words are another script, left alone
        ("soooo good!!!!!!", "so good!!!"),
        ("😂😂😂😂😂😂", "😂😂😂"),
        # numbers are not letters
        ("covid19 cases 5000 in 2023", "covid19 cases 5000 in 2023"),
        ("#StopTheHate2023 today", "#stop the hate 2023 today"),
        ("#Stop\u200bThe\u200bHate", "#stop the hate"),  # invisibles cannot cut a hashtag short
        ("#àß", "#àss"),  # still one word when folded again (hypothesis found a split)
        ("aΐb", "a\u1e2fb"),  # Greek look-alike with marks, composed again after folding
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("یہ بہت اچھا ہے", "یہ بہت اچھا ہے"),  # Urdu untouched
        ("بَہُت", "بہت"),  # diacritics (harakat) dropped
        ("بہـــت", "بہت"),  # tatweel stretching dropped
        ("کیا\u200cبات", "کیا\u200cبات"),  # ZWNJ between Urdu letters is spelling: kept
        ("ﺑﮩﺖ", "بہت"),  # Arabic presentation forms -> base letters (NFKC)
        ("Pakistan زندہ باد 1947", "pakistan زندہ باد 1947"),  # code-mixed
    ],
)
def test_urdu_script_survives(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("#StopTheHate", "Stop The Hate"),
        ("#free_money", "free money"),
        ("#COVID19Vaccine", "COVID 19 Vaccine"),
        ("#پاکستان", "پاکستان"),
        ("GiveawayPK", "Giveaway PK"),
        ("HTMLParser", "HTML Parser"),
        # beyond ASCII: accented letters belong to their word, scripts and digits split
        ("#Café", "Café"),
        ("#StraßeFrei", "Straße Frei"),
        ("#TīmaRimaMiriona", "Tīma Rima Miriona"),
        ("#ÉCOLEÉtat", "ÉCOLE État"),
        ("#Pakistanپاکستان۲۰۲۳", "Pakistan پاکستان ۲۰۲۳"),
        ("#COVIDー19", "COVID ー 19"),
    ],
)
def test_split_hashtag(tag: str, expected: str) -> None:
    assert split_hashtag(tag) == expected


@given(st.text())
def test_normalise_never_raises_and_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@pytest.mark.parametrize(
    "raw",
    [
        "#àß",  # folding lengthens a letter (ß -> ss)
        "aΐΐΐ",  # folding decomposes a letter; the repeats are equal only once composed again
        "#sh!t2024",  # the digit fold lengthens a hashtag, which then splits before the digits
        "#a\u0345b1",  # folding turns a combining mark (not a word character) into a letter
        "#aі\u03011",  # a Cyrillic look-alike and a mark, composed by the second NFKC
        "ht7p://x.com",  # the digit fold makes a URL
        "һттрs://x.com",  # so do look-alikes
        "@ab!c",  # and a longer handle
    ],
)
def test_normalise_is_idempotent_where_folds_interact(raw: str) -> None:
    once = normalise(raw)
    assert normalise(once) == once


def _characters_that_change_or_join_words() -> list[str]:
    """Every word character and combining mark, everything NFKC or case folding changes, and
    the symbols the folds and masks look at."""
    is_word_character = re.compile(r"\w").fullmatch
    chosen = []
    for code in range(0x110000):
        char = chr(code)
        if (
            is_word_character(char)
            or unicodedata.category(char).startswith("M")
            or char.casefold() != char
            or unicodedata.normalize("NFKC", char) != char
        ):
            chosen.append(char)
    return chosen + list("!$|#@_.:/-")


def test_normalise_is_idempotent_for_every_character_that_folds() -> None:
    # Random text rarely meets the few letters that case folding lengthens (ß -> ss) or
    # decomposes (ΐ -> ι + marks), the marks it turns into letters, or the presentation forms
    # NFKC expands: try each in hashtags, words, runs of three, handles and URLs.
    templates = (
        "#a{}B1",
        "#A{0}{0}b",
        "#{0}{0}{0}B1",
        "x{0}{0}{0}y",
        "#{}الف",
        "@a{}b",
        "h{}tp://x",
    )
    failures = []
    for char in _characters_that_change_or_join_words():
        for template in templates:
            text = template.format(char)
            once = normalise(text)
            if normalise(once) != once:
                failures.append(text)
    assert failures == []


@given(st.text(alphabet=st.characters(codec="utf-8", categories=["Cs", "Co", "Cn", "L", "M"])))
def test_normalise_takes_surrogates_and_unassigned(text: str) -> None:
    assert isinstance(normalise(text), str)
