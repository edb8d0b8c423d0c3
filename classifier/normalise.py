"""The one text normalisation shared by training and serving.

Training, the ONNX scorer and evaluation all call `normalise`, so a change here changes the
model's input: bump NORMALISATION_VERSION (recorded in every model card) and retrain.

Steps, in order:
0. hashtags split into their words before case is lost: ``#StopTheHate`` -> ``#stop the hate``;
1. Unicode NFKC (folds full-width letters, ligatures, mathematical alphanumerics and Arabic
   presentation forms to their base letters);
2. invisible characters removed (zero-width space, word joiner, BOM, soft hyphen, Arabic tatweel,
   Arabic diacritics); ZWNJ and ZWJ are kept next to Arabic-script letters, where Urdu spelling
   uses them, and removed elsewhere, where they only split words to evade filters;
3. case folding;
4. URLs -> ``http://url`` and handles ``@name`` -> ``@user``, as in the training data's DATASHEET
   (e-mail addresses are left alone);
5. evasions: look-alike Cyrillic/Greek letters inside Latin words folded to Latin; digits and
   symbols standing for letters inside a word (``b1tch``, ``id10t``, ``sh!t``) folded to letters;
   a letter repeated three or more times folded to one (``stuuupid``), other characters repeated
   more than three times folded to three;
6. whitespace runs folded to one space, ends stripped (scikit-learn's char analyzer folds
   whitespace too, so both paths see the same characters).

Arabic-script text (Urdu) passes through steps 4-5 untouched apart from diacritics and tatweel:
the evasion folds only ever rewrite Latin words.

Must not import anything outside the standard library.
"""

from __future__ import annotations

import re
import unicodedata

NORMALISATION_VERSION = "1"

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
_WHITESPACE = re.compile(r"\s+")
_HASHTAG = re.compile(r"#(\w+)")
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_a-zA-Z]+")

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
_CYRILLIC_GREEK = re.compile("[\u0370-\u03ff\u0400-\u052f\u0261]")
_LATIN = re.compile("[a-z\u00e0-\u024f]")
# A "word" for the evasion folds: letters, digits and the symbols used as letters ('@' is
# not one of them: it would break e-mail addresses).
_WORDLIKE = re.compile(r"[\w$!|]+")

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
     "$": "s", "!": "i", "|": "l"}
)  # fmt: skip
# A run of look-alike digits/symbols with a Latin letter on both sides: b1tch, id10t, sh!t.
_LEET_RUN = re.compile(r"(?<=[a-z])[01345789$!|]+(?=[a-z])")
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1{2,}")
_REPEATED_OTHER = re.compile(r"(.)\1{3,}")


def normalise(text: str) -> str:
    """Map raw text to the form the model was trained on (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    text = _HASHTAG.sub(lambda tag: "#" + split_hashtag(tag.group(1)), text)
    text = _INVISIBLE.sub("", text)
    text = _JOINER_OUTSIDE_ARABIC.sub("", text)
    text = text.casefold()
    text = _URL.sub(URL_MASK, text)
    text = _HANDLE.sub(HANDLE_MASK, text)
    text = _WORDLIKE.sub(_fold_word, text)
    text = _REPEATED_LETTER.sub(r"\1", text)
    text = _REPEATED_OTHER.sub(r"\1\1\1", text)
    return _WHITESPACE.sub(" ", text).strip()


def split_hashtag(tag: str) -> str:
    """``#StopTheHate2023`` -> ``Stop The Hate 2023``: CamelCase, digits and underscores split."""
    body = tag.lstrip("#").replace("_", " ")
    return " ".join(part for word in body.split() for part in _CAMEL_PART.findall(word) or [word])


def _fold_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if not _LATIN.search(word):
        return word  # pure Urdu, digits or another script: nothing to fold
    if _CYRILLIC_GREEK.search(word):
        word = word.translate(_CONFUSABLES)
    return _LEET_RUN.sub(lambda run: run.group(0).translate(_LEET), word)
