"""The ids the service mints: UUIDv7, time-ordered, unique."""

from __future__ import annotations

import re
import time
import uuid

from service.ids import new_hex, new_uuid


def test_an_id_is_a_version_7_uuid_in_canonical_form() -> None:
    text = new_uuid()
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", text
    )
    parsed = uuid.UUID(text)
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert str(parsed) == text


def test_the_hex_form_is_the_same_kind_of_id_without_dashes() -> None:
    text = new_hex()
    assert re.fullmatch(r"[0-9a-f]{32}", text)
    assert uuid.UUID(hex=text).version == 7


def test_an_id_carries_the_millisecond_it_was_minted() -> None:
    before = time.time_ns() // 1_000_000
    minted = uuid.UUID(new_uuid()).int >> 80
    after = time.time_ns() // 1_000_000
    assert before <= minted <= after


def test_ids_minted_in_later_milliseconds_sort_later() -> None:
    minted = []
    for _ in range(20):
        minted.append(new_uuid())
        time.sleep(0.002)
    assert minted == sorted(minted)
    hexes = []
    for _ in range(20):
        hexes.append(new_hex())
        time.sleep(0.002)
    assert hexes == sorted(hexes)


def test_ids_minted_in_the_same_millisecond_still_differ() -> None:
    minted = [new_uuid() for _ in range(50_000)]
    assert len(set(minted)) == len(minted)
