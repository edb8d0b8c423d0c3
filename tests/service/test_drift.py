"""Drift: each scoring adds to its day's score histogram per label and its action count, per
model version, in the scoring transaction; the report and /metrics show them."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from service import drift, wiring
from service.moderation import Moderation
from service.report import enforcement_report, parse_period
from tests.service.conftest import MISINFORMATION, SPAM, Clock, KeyMaker, upload, video


def test_daily_histograms_and_actions_match_the_decisions(
    parts: wiring.Parts, moderation: Moderation, clock: Clock
) -> None:
    contents = [SPAM, {}, MISINFORMATION, {}]
    first = moderation.score([upload(f"d{n}", **contents[n % 4]) for n in range(8)])
    clock.advance(86_400)  # the next UTC day
    second = moderation.score([upload("e1", **SPAM)])
    moderation.score([upload("d0", **SPAM)])  # a replay: not counted again
    days = drift.daily(parts.engine, dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    assert [(d.day, d.model_version) for d in days] == [
        (dt.date(2026, 11, 25), "1.0.2"),
        (dt.date(2026, 11, 26), "1.0.2"),
    ]
    expected = {
        action: sum(s.decision.action.value == action for s in first)
        for action in ("remove", "review", "allow")
    }
    assert days[0].actions == expected
    assert days[1].actions == {"remove": 1}
    for label, counts in days[0].histograms.items():
        assert sum(counts) == 8
        buckets = [drift.bucket(s.decision.scores[label]) for s in first]
        assert list(counts) == [buckets.count(i) for i in range(10)]
    spam_score = second[0].decision.scores["spam"]
    assert days[1].histograms["spam"][drift.bucket(spam_score)] == 1
    assert days[0].action_shares()["remove"] == expected["remove"] / 8

    report = enforcement_report(parts.engine, parse_period("2026Q4")).to_json()
    assert [d["day"] for d in report["drift"]] == ["2026-11-25", "2026-11-26"]  # type: ignore[index]
    csv_rows = enforcement_report(parts.engine, parse_period("2026Q4")).to_csv().splitlines()
    assert any(",drift,2026-11-26/1.0.2,share_remove,1.000000," in row for row in csv_rows)


def test_bucket_edges() -> None:
    assert [drift.bucket(x) for x in (0.0, 0.0999, 0.1, 0.5, 0.95, 1.0)] == [0, 0, 1, 5, 9, 9]


def test_metrics_carry_score_histograms(client: TestClient, make_key: KeyMaker) -> None:
    from service.domain import Role

    client.post("/v1/videos/score", json=video("m1", **SPAM), headers=make_key(Role.UPLOADER))
    text = client.get("/metrics").text
    assert 'mizan_model_score_bucket{label="spam",le="1.0",model_version="1.0.2"}' in text
