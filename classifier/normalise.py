"""The one text normalisation shared by training and serving.

Training, the ONNX scorer and evaluation all call `normalise`, so a change here changes the
model's input: bump NORMALISATION_VERSION (recorded in every model card) and retrain.

Steps, in order:
1. Unicode NFKC (folds full-width letters, ligatures, mathematical alphanumerics and Arabic
   presentation forms to their base letters);
2. invisible characters removed (zero-width space, word joiner, BOM, soft hyphen, Arabic tatweel,
   Arabic diacritics); ZWNJ and ZWJ are kept next to Arabic-script letters, where Urdu spelling
   uses them, and removed elsewhere, where they only split words to evade filters;
3. hashtags split into their words before case is lost: ``#StopTheHate`` -> ``#Stop The Hate``;
4. case folding;
5. URLs -> ``http://url`` and handles ``@name`` -> ``@user``, as in the training data's DATASHEET
   (e-mail addresses are left alone);
6. evasions: look-alike Cyrillic/Greek letters inside Latin words folded to Latin, then NFKC
   again on non-ASCII text (case folding and that fold can leave a letter and its combining
   marks apart); digits and symbols standing for letters inside a word (``b1tch``, ``id10t``,
   ``sh!t``) folded to letters; a letter repeated three or more times folded to one
   (``stuuupid``, in any script), other characters repeated more than three times folded to
   three;
7. steps 5 and 3 once more, since the folds can lengthen a URL (``ht7p://``), a handle or a
   hashtag (``#sh!t2024``); case is gone by then, so hashtags split only between digits,
   scripts and other letters;
8. whitespace runs folded to one space, ends stripped (scikit-learn's char analyzer folds
   whitespace too, so both paths see the same characters).

`normalise` is idempotent (a property test and a test of every character that folding or NFKC
changes check it): text it has produced passes unchanged. Arabic-script text (Urdu) loses
only diacritics, tatweel and letters repeated three times or more: the look-alike and
digit folds rewrite Latin words only.

Must not import anything outside the standard library.
"""

from __future__ import annotations

import re
import unicodedata

NORMALISATION_VERSION = "3"

URL_MASK = "http://url"
HANDLE_MASK = "@user"

# Removed everywhere: they carry no meaning in any of our languages.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    "\u0640"  # tatweel (kashida), stretches Arabic letters
    "\u064b-\u065f\u0670\u06d6-\u06ed"  # Arabic diacritics (harakat, Quranic marks)
    "]"
)
_ARABIC_LETTER = "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff"
# ZWNJ/ZWJ between Arabic-script letters are spelling; anywhere else they split words.
_JOINER_OUTSIDE_ARABIC = re.compile(
    f"(?<![{_ARABIC_LETTER}])[\u200c\u200d]|[\u200c\u200d](?![{_ARABIC_LETTER}])"
)
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
# A handle starts after a non-word character (so e-mail addresses stay whole).
_HANDLE = re.compile(r"(?<![\w.@])@\w+")
_HASHTAG = re.compile(r"#(\w+)")
# ASCII hashtags (nearly all of them) and Arabic-script ones split by a regex; others by
# _split_unicode_word. The kinds of character a hashtag splits between:
_DIGIT, _ARABIC, _CASED, _OTHER = "digit", "arabic", "cased", "other"
_ASCII_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_IS_ARABIC_LETTER = re.compile(f"[{_ARABIC_LETTER}]").match  # checked after digits
_ARABIC_OR_DIGITS = re.compile(f"[\\d{_ARABIC_LETTER}]+").fullmatch
_ARABIC_OR_DIGIT_PART = re.compile(f"\\d+|(?:(?!\\d)[{_ARABIC_LETTER}])+")

# Cyrillic and Greek letters that render like Latin ones (after case folding).
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "һ": "h", "і": "i",
        "ї": "i", "ј": "j", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q",
        "ѕ": "s", "т": "t", "у": "y", "х": "x", "ѡ": "w", "ԝ": "w", "ү": "y", "ɡ": "g",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ѵ": "v",
    }
)  # fmt: skip
_CYRILLIC_GREEK = "\u0370-\u03ff\u0400-\u052f\u0261"
_LATIN = re.compile("[a-z\u00e0-\u024f]")
# Combining marks count as part of the word: case folding leaves some Greek letters as a base
# letter and its marks (ΐ -> ι + marks).
_WORD_CHAR = "[\\w\u0300-\u036f]"
# A word holding a Cyrillic or Greek letter; folded only if it holds a Latin letter too.
_WORD_WITH_CONFUSABLE = re.compile(f"{_WORD_CHAR}*[{_CYRILLIC_GREEK}]{_WORD_CHAR}*")
_ANY_CONFUSABLE = re.compile(f"[{_CYRILLIC_GREEK}]")

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
     "$": "s", "!": "i", "|": "l"}
)  # fmt: skip
# A run of look-alike digits/symbols with a Latin letter on both sides: b1tch, id10t, sh!t.
# The run holds no space, so it always lies inside one word.
_LEET_RUN = re.compile(r"(?<=[a-z])[01345789$!|]+(?=[a-z])")
_REPEATED = re.compile(r"(.)\1\1+")


def normalise(text: str) -> str:
    """Map raw text to the form the model was trained on (see the module docstring)."""
    # Each step is one C-level regex pass; the cheap `in` checks skip passes that cannot
    # match (most texts have no joiner, URL, handle, hashtag or look-alike letter), and
    # callbacks run only on the matches, never once per word: that would triple the cost.
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    if "\u200c" in text or "\u200d" in text:
        text = _JOINER_OUTSIDE_ARABIC.sub("", text)
    text = _split_hashtags(text)  # after the invisibles go, which would cut a hashtag short
    text = _mask(text.casefold())
    if _ANY_CONFUSABLE.search(text):
        text = _WORD_WITH_CONFUSABLE.sub(_fold_confusables, text)
    if not text.isascii():
        # Case folding and the look-alike fold can leave a letter and its combining marks
        # apart (ΐ -> ι + marks -> i + marks) that NFKC would compose on the next pass; done
        # before the repeat fold, which must see the composed letters.
        text = unicodedata.normalize("NFKC", text)
    text = _LEET_RUN.sub(_fold_leet, text)
    text = _REPEATED.sub(_fold_repeat, text)
    # The folds can make a URL (ht7p://) or a handle or hashtag longer (@ab!c, #sh!t2024):
    # mask and split once more, as the next pass would (case is gone: only digits and
    # scripts split now).
    text = _split_hashtags(_mask(text))
    return " ".join(text.split())  # str.split() and re's \s agree on what is whitespace


def _split_hashtags(text: str) -> str:
    if "#" not in text:
        return text
    return _HASHTAG.sub(lambda tag: "#" + split_hashtag(tag.group(1)), text)


def _mask(text: str) -> str:
    if "http" in text or "www." in text:
        text = _URL.sub(URL_MASK, text)
    if "@" in text:
        text = _HANDLE.sub(HANDLE_MASK, text)
    return text


def split_hashtag(tag: str) -> str:
    """``#StopTheHate2023`` -> ``Stop The Hate 2023``: CamelCase, digits and underscores split.

    Splitting must give the same parts again once case is folded, or `normalise` would not be
    idempotent: ``#Café`` stays one word (it used to split as ``Caf é``), and ``#àß``, folded to
    ``àss``, is still one word the second time.
    """
    parts: list[str] = []
    for word in tag.lstrip("#").replace("_", " ").split():
        if word.isascii():
            parts.extend(_ASCII_CAMEL_PART.findall(word) or [word])
        elif _ARABIC_OR_DIGITS(word):  # most Urdu hashtags: no case to look at
            parts.extend(_ARABIC_OR_DIGIT_PART.findall(word))
        else:
            parts.extend(_split_unicode_word(word))
    return " ".join(parts)


def _split_unicode_word(word: str) -> list[str]:
    """Split where the kind of character changes (digit, Arabic letter, cased letter, other
    letter) and at CamelCase boundaries inside cased letters.

    "Upper case" here is an upper- or title-case letter that case folding changes, so text that
    `normalise` has already folded never splits at a CamelCase boundary again; case folding
    maps cased letters only to cased letters (after NFKC), so the kinds do not change either.
    """
    kinds = [_char_kind(char) for char in word]
    upper = [kind is _CASED and _is_upper(char) for kind, char in zip(kinds, word, strict=True)]
    parts: list[str] = []
    start = 0
    for i in range(1, len(word)):
        if kinds[i] is not kinds[i - 1]:
            boundary = True
        elif upper[i]:
            followed_by_lower = i + 1 < len(word) and kinds[i + 1] is _CASED and not upper[i + 1]
            # aB -> a B; ABc -> A Bc (HTMLParser -> HTML Parser); AB -> AB
            boundary = not upper[i - 1] or followed_by_lower
        else:
            boundary = False
        if boundary:
            parts.append(word[start:i])
            start = i
    parts.append(word[start:])
    return parts


def _char_kind(char: str) -> str:
    if char.isdecimal():
        return _DIGIT
    if _IS_ARABIC_LETTER(char):
        return _ARABIC
    if char.lower() != char or char.upper() != char or char.islower():
        return _CASED
    return _OTHER


def _is_upper(char: str) -> bool:
    # Upper or title case, and changed by folding: ß is lower case though folding changes it,
    # and an upper-case letter that folding leaves alone (there are a few) would still be
    # upper case on the next pass, and split there again.
    return (char.isupper() or char.istitle()) and char.casefold() != char


def _fold_confusables(match: re.Match[str]) -> str:
    word = match.group(0)
    return word.translate(_CONFUSABLES) if _LATIN.search(word) else word


def _fold_repeat(match: re.Match[str]) -> str:
    run = match.group(0)
    if run[0].isalpha():
        return run[0]  # stuuupid -> stupid
    return run[:3]  # !!!!!! -> !!!, 😂😂😂😂 -> 😂😂😂


def _fold_leet(run: re.Match[str]) -> str:
    return run.group(0).translate(_LEET)
