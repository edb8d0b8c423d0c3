"""The ids the service mints (decisions, events, review items, notices, strikes): UUIDv7.

A UUIDv7 (RFC 9562, section 5.7) starts with the Unix time in milliseconds, so ids minted one
after another sort one after another. Each of these ids keys a unique B-tree index; with random
ids (UUIDv4) every insert landed on a random leaf page of that index, and a scoring round of
16 titles dirtied some 16 pages of each, all of which a commit writes out (SQLite's WAL, and
PostgreSQL's full-page writes after a checkpoint). With random ids SQLite wrote 19-26 KB a
title, more as the tables grew; with these, which append to the last page, a flat 11.6 KB
(BENCHMARKS.md, "Time-ordered ids").

Within one millisecond the order is random (RFC 9562's plain layout, no counter): nothing
orders by these ids (events have their sequence, items their created_at); they only need to
be unique and to land near each other. An id shows when it was minted, to the millisecond,
which every record it names says anyway (decided_at, occurred_at, created_at).
"""

from __future__ import annotations

import os
import time

# Shifts count from the least significant bit; RFC 9562 numbers bits from the most
# significant: its bits 0-47 are the time, 48-51 the version, 64-65 the variant.
_VERSION = 0x7 << 76  # version 7: RFC bits 48-51
_VARIANT = 0b10 << 62  # the variant 10: RFC bits 64-65
_RANDOM_A = 0xFFF  # 12 random bits after the version (rand_a)
_RANDOM_B = (1 << 62) - 1  # 62 random bits after the variant (rand_b)


def new_uuid() -> str:
    """A UUIDv7 in its canonical text form (8-4-4-4-12 lowercase hex)."""
    text = new_hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def new_hex() -> str:
    """A UUIDv7 as 32 lowercase hex digits, no dashes (the form the item ids carry)."""
    millis = time.time_ns() // 1_000_000
    noise = int.from_bytes(os.urandom(10))  # 80 bits, big-endian: 74 used
    value = (
        (millis & 0xFFFF_FFFF_FFFF) << 80
        | _VERSION
        | ((noise >> 64) & _RANDOM_A) << 64
        | _VARIANT
        | (noise & _RANDOM_B)
    )
    return f"{value:032x}"
