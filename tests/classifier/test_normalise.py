from __future__ import annotations

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
    ],
)
def test_split_hashtag(tag: str, expected: str) -> None:
    assert split_hashtag(tag) == expected


@given(st.text())
def test_normalise_never_raises_and_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@given(st.text(alphabet=st.characters(codec="utf-8", categories=["Cs", "Co", "Cn", "L", "M"])))
def test_normalise_takes_surrogates_and_unassigned(text: str) -> None:
    assert isinstance(normalise(text), str)
