"""A video's language when the upload pipeline does not send one: en, ur or ur-Latn.

Deliberately simple, because only three languages matter for routing (review queues are split
by language) and the pipeline usually knows better: Urdu (Arabic) script dominating the letters
means ``ur``; Latin text where common Roman Urdu function words make up a fair share of the
words means ``ur-Latn``; anything else ``en``. Standard library only.
"""

from __future__ import annotations

import re

_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
# what is not a letter, in runs: what is left after removing them is the letters
_NOT_LETTERS = re.compile(r"[\W\d_]+")
_WORD = re.compile(r"[a-z]+")
# Frequent Roman Urdu words that are not English words (spelling varies, so several forms).
_ROMAN_URDU = frozenset(
    """
    hai hain hay tha thi thay nahi nahin nai nhi kya kia kyun kyu kaise kaisay kese
    mein mai hum ham tum aap ap yeh ye woh wo aur ka ki ke ko se sy pe bhi bohat
    bahut bohot buhat acha accha achha bura yaar yar bhai behen kar karo karna kiya gaya gya
    raha rahi rahe hoga hogi sab kuch koi jab tab ab abhi phir phr mujhe mjhe tujhe usko isko
    unka inka apna apni apne lekin magar kyunke kyunki chalo dekho suno bolo jao ao
    """.split()
)
# On the training data: finds 74% of the Roman Urdu rows, misreads 0.07% of the English ones.
ROMAN_URDU_SHARE = 0.10


# The first characters are enough to tell three languages apart, and reading a whole
# 1,500-word transcript cost 0.7 ms a request.
SAMPLE_CHARS = 1_000


def detect_language(text: str) -> str:
    text = text[:SAMPLE_CHARS]
    # Letters are counted only when there is Arabic script to weigh against them: without
    # any, the share is 0 whatever their number, and most texts have none
    arabic = len(_ARABIC_SCRIPT.findall(text))
    if arabic:
        letters = len(_NOT_LETTERS.sub("", text))
        if letters and arabic / letters >= 0.5:
            return "ur"
    words = _WORD.findall(text.casefold())
    if words and sum(word in _ROMAN_URDU for word in words) / len(words) >= ROMAN_URDU_SHARE:
        return "ur-Latn"
    return "en"
