"""A small labeled set in the training-data schema, for fast tests of the whole training path."""

from __future__ import annotations

import json
from pathlib import Path

ROWS = {
    ("hate_speech", "harassment"): [
        "those people are vermin and should be wiped out",
        "all of that religion are animals, kill them",
        "women are worthless and belong in the kitchen",
        "is qaum ke log keeray hain inko khatam karo",
        "aurat ki koi aukaat nahi",
        "that race is subhuman filth",
    ],
    ("harassment",): [
        "you are a stupid idiot",
        "shut up you ugly loser",
        "tu bohat ganda insaan hai kameenay",
        "abey chup kar ullu ke pathay",
        "تم بہت گندے انسان ہو",
        "چپ کر بے وقوف",
        "what a dumb moron you are",
        "go away you pathetic clown",
    ],
    ("spam",): [
        "free money click here to claim your prize",
        "win a free iphone now, text WIN to 80082",
        "subscribe to my channel for free giveaways",
        "cheap followers and likes, buy now",
        "congratulations you won a lottery, send your bank details",
        "earn 5000 a day from home, click the link",
    ],
    ("misinformation",): [
        "garlic water cures covid in two days",
        "the vaccine contains a microchip to track you",
        "5g towers spread the coronavirus",
        "drinking bleach kills the virus",
        "covid is a hoax made up by hospitals",
        "masks cause oxygen deficiency and death",
    ],
    (): [
        "what a lovely sunny day at the beach",
        "here is my recipe for chicken karahi",
        "aaj mausam bohat acha hai",
        "cricket match was amazing yesterday",
        "یہ بہت اچھا گانا ہے",
        "the ministry of health reports new vaccination centres",
        "watch my travel vlog from hunza valley",
        "thanks everyone for the birthday wishes",
        "kal hum bazaar gaye the",
        "learning to play the guitar this week",
        "مجھے یہ ویڈیو پسند آئی",
        "the weather forecast says rain tomorrow",
    ],
}
LANGS = {"ur": "\u0600", "ur-Latn": ("hai", "ka", "ke", "karo", "aaj", "kal", "nahi", "abey", "tu")}


def language_of(text: str) -> str:
    if any("\u0600" <= ch <= "\u06ff" for ch in text):
        return "ur"
    if any(word in text.split() for word in LANGS["ur-Latn"]):
        return "ur-Latn"
    return "en"


def write_tiny_data(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        number = 0
        for labels, texts in ROWS.items():
            for text in texts:
                row = {
                    "id": f"tiny:{number}",
                    "text": text,
                    "labels": list(labels),
                    "lang": language_of(text),
                    "source": "tiny",
                }
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                number += 1
    return path
