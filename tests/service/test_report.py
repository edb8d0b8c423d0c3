"""The enforcement report on a log built by hand through the real use cases, with every
expected figure worked out here; rollups rebuilt from the events equal the incremental ones."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from fastapi.testclient import TestClient

from service import rollups, wiring
from service.domain import AppealVerdict, Role, Verdict
from service.errors import InvalidRequestError
from service.keys import KeyStore
from service.moderation import Moderation
from service.report import enforcement_report, parse_period
from service.report_html import render
from tests.service.conftest import MISINFORMATION, SPAM, START, Clock, upload

UTC = dt.UTC


def at(clock: Clock, text: str) -> None:
    clock.now = dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def uploaded(video_id: str, region: str, when: str, **fields: object) -> object:
    return upload(video_id, region=region, uploaded_at=f"{when}:00+00:00", **fields)


def build_log(parts: wiring.Parts, moderation: Moderation, clock: Clock) -> None:
    """Q4 2022 .. Q2 2023. Expected Q1 2023 figures are in the tests below."""
    at(clock, "2022-12-31T10:00")  # v5: removed by the model in Q4, restored in Q1
    moderation.score([uploaded("v5", "PK", "2022-12-31T10:00", **SPAM)])
    at(clock, "2023-01-10T09:00")
    appeal = parts.appeals.submit("v5", "my shop", "pipeline")
    assert parts.appeals.claim("senior", []) is not None
    parts.appeals.decide(appeal.item_id, "senior", AppealVerdict.RESTORE, None)
    at(clock, "2023-01-15T10:00")  # v7: live, reported, removed by a person within 24 h
    moderation.score([uploaded("v7", "PK", "2023-01-15T10:00")])
    at(clock, "2023-01-16T08:00")
    moderation.record_report("v7", "u1", "bullying", "pipeline")
    at(clock, "2023-01-16T09:00")
    view = parts.review.claim("mod", [])
    assert view is not None
    parts.review.decide(view.item.item_id, "mod", Verdict.REMOVE, "harassment", None)
    at(clock, "2023-02-01T10:00")  # v1: removed by the model at upload
    moderation.score([uploaded("v1", "PK", "2023-02-01T10:00", **SPAM)])
    at(clock, "2023-02-02T10:00")  # v2: review, 100 views, a report, removed 2 days later
    moderation.score([uploaded("v2", "PK", "2023-02-02T10:00", **MISINFORMATION)])
    at(clock, "2023-02-02T12:00")
    moderation.record_views("v2", 100, "pipeline")
    at(clock, "2023-02-02T13:00")
    moderation.record_report("v2", "u2", "fake cure", "pipeline")
    at(clock, "2023-02-03T10:00")  # v3: allowed
    moderation.score([uploaded("v3", "PK", "2023-02-03T10:00")])
    at(clock, "2023-02-04T11:00")
    view = parts.review.claim("mod", [])
    assert view is not None
    assert view.item.video_id == "v2"
    parts.review.decide(view.item.item_id, "mod", Verdict.REMOVE, "misinformation", None)
    at(clock, "2023-03-31T23:00")  # v4: India, the quarter's last hour
    moderation.score([uploaded("v4", "IN", "2023-03-31T23:00", **SPAM)])
    at(clock, "2023-04-01T00:30")  # v6: next quarter
    moderation.score([uploaded("v6", "PK", "2023-04-01T00:30")])


@pytest.fixture
def built(parts: wiring.Parts, moderation: Moderation, clock: Clock) -> wiring.Parts:
    build_log(parts, moderation, clock)
    return parts


def counts(pair: object) -> dict[str, int]:
    return dict(pair[0].counts)  # type: ignore[index]


def test_the_quarter_in_total(built: wiring.Parts) -> None:
    report = enforcement_report(built.engine, parse_period("2023Q1"))
    assert report.previous.name == "2022Q4"
    now, before = report.total
    assert now.counts == {
        "uploads": 5,  # v1 v2 v3 v4 v7 (v5 was Q4, v6 is Q2)
        "removals": 4,  # v1 v4 by the model, v2 v7 by a person
        "removals_automated": 2,
        "removals_zero_views": 3,  # all but v2 (100 views)
        "removals_within_24h": 3,  # all but v2 (two days)
        "removals_proactive": 2,  # v1 v4; v2 and v7 were reported first
        "restorations": 1,  # v5, removed in Q4, restored in Q1
    }
    assert before.counts["uploads"] == 1
    assert before.counts["removals"] == 1
    assert now.rate("removal_rate") == (4, 5, 0.8)
    assert now.rate("automation_share") == (2, 4, 0.5)
    assert now.rate("proactive_share") == (2, 4, 0.5)
    assert before.rate("proactive_share") == (1, 1, 1.0)
    shown = report.to_json()
    assert shown["total"]["counts"]["removals"] == {"value": 4, "previous": 1, "change": 3}  # type: ignore[index]


def test_the_quarter_by_region_and_label(built: wiring.Parts) -> None:
    report = enforcement_report(built.engine, parse_period("2023Q1"))
    assert counts(report.by_region["PK"])["uploads"] == 4
    assert counts(report.by_region["PK"])["removals"] == 3
    assert counts(report.by_region["PK"])["restorations"] == 1
    assert counts(report.by_region["IN"])["removals"] == 1
    assert counts(report.by_label["spam"])["removals"] == 2
    assert counts(report.by_label["spam"])["restorations"] == 1
    assert "removals_zero_views" not in counts(report.by_label["misinformation"])  # 100 views
    assert counts(report.by_label["harassment"])["removals_within_24h"] == 1
    shares = report.to_json()["by_label"]
    assert shares["spam"]["share_of_removals"] == {  # type: ignore[index]
        "value": 0.5,
        "numerator": 2,
        "denominator": 4,
    }
    # one region, one label: uploads stay the scope's uploads (the rate's denominator)
    pk_spam = enforcement_report(built.engine, parse_period("2023Q1"), region="PK", label="spam")
    assert pk_spam.total[0].rate("removal_rate") == (1, 4, 0.25)
    # and the label's share is of every label's removals in the scope, not of its own
    assert pk_spam.to_json()["by_label"]["spam"]["share_of_removals"] == {  # type: ignore[index]
        "value": 1 / 3,
        "numerator": 1,
        "denominator": 3,
    }
    only_spam = enforcement_report(built.engine, parse_period("2023Q1"), label="spam")
    assert only_spam.to_json()["by_label"]["spam"]["share_of_removals"]["value"] == 0.5  # type: ignore[index]


def test_months_ranges_and_empty_periods(built: wiring.Parts) -> None:
    february = enforcement_report(built.engine, parse_period("2023-02"))
    assert february.previous.name == "2023-01"
    assert february.total[0].counts["removals"] == 2  # v1 and v2
    assert february.total[1].counts["removals"] == 1  # v7 in January
    march_end = enforcement_report(
        built.engine, parse_period(None, dt.date(2023, 3, 31), dt.date(2023, 4, 1))
    )
    assert march_end.total[0].counts["uploads"] == 2  # v4 on the 31st, v6 on April 1st
    assert march_end.previous.start == dt.date(2023, 3, 29)
    empty = enforcement_report(built.engine, parse_period("2024Q1"))
    assert empty.total[0].counts == {}
    assert empty.total[0].rate("removal_rate") == (0, 0, None)


@pytest.mark.parametrize(
    "period",
    # superscript digits are digits to str.isdigit but not to int(): once a 500
    ["2023Q5", "2023-13", "Q1", "2023/03", "0000Q1", "0000-01", "9999Q4", "9999-12", "¹²³⁴Q1"],
)
def test_bad_periods_are_refused(period: str) -> None:
    with pytest.raises(InvalidRequestError):
        parse_period(period)


def test_bad_date_ranges_are_refused() -> None:
    for start, end in [
        (dt.date(1, 1, 1), dt.date(1, 1, 2)),
        (dt.date(2023, 1, 1), dt.date(9999, 12, 31)),
        (dt.date(2023, 2, 1), dt.date(2023, 1, 1)),
    ]:
        with pytest.raises(InvalidRequestError):
            parse_period(None, start, end)


def test_rebuilt_rollups_equal_the_incremental_ones(built: wiring.Parts) -> None:
    incremental = rollups.snapshot(built.engine)
    assert incremental  # the log is not empty
    read = rollups.rebuild(built.engine)
    assert read == len(
        [
            e
            for v in ("v1", "v2", "v3", "v4", "v5", "v6", "v7")
            for e in built.decision_log.history(v)
        ]
    )
    assert rollups.snapshot(built.engine) == incremental


def test_csv_json_and_html_outputs(built: wiring.Parts) -> None:
    report = enforcement_report(built.engine, parse_period("2023Q1"), region="PK")
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    removal_rate = next(r for r in rows if r["scope"] == "total" and r["metric"] == "removal_rate")
    assert (removal_rate["numerator"], removal_rate["denominator"]) == ("3", "4")
    shares = {
        r["key"]: (r["value"], r["numerator"], r["denominator"])
        for r in rows
        if r["metric"] == "share_of_removals"
    }  # PK's three removals: spam (v1), harassment (v7), misinformation (v2)
    assert shares == {
        "harassment": ("0.333333", "1", "3"),
        "misinformation": ("0.333333", "1", "3"),
        "spam": ("0.333333", "1", "3"),
    }
    assert {r["scope"] for r in rows if r["metric"] == "share_of_removals"} == {"label"}
    page = render(report)
    assert page.count("<svg") == 3
    assert "http" not in page.replace("http-equiv", "")  # self-contained: nothing to fetch


def test_the_report_over_http(built: wiring.Parts, client: TestClient) -> None:
    store: KeyStore = client.app.state.keys  # type: ignore[attr-defined]
    _, analyst = store.create("analyst", [Role.ANALYST], [], dt.datetime.now(UTC))
    headers = {"Authorization": f"Bearer {analyst}"}
    body = client.get("/v1/reports/enforcement?period=2023Q1&region=PK", headers=headers).json()
    assert body["total"]["counts"]["uploads"]["value"] == 4
    as_csv = client.get(
        "/v1/reports/enforcement?from=2023-01-01&to=2023-03-31&format=csv", headers=headers
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    bad = client.get("/v1/reports/enforcement?period=2023Q9", headers=headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


# The DSA Transparency Database's schema, written out here independently of service/sor.py
# (https://transparency.dsa.ec.europa.eu/page/api-documentation).
SOR_REQUIRED = {
    "decision_ground",
    "category",
    "content_type",
    "content_date",
    "application_date",
    "territorial_scope",
    "decision_facts",
    "source_type",
    "automated_detection",
    "automated_decision",
    "puid",
}
SOR_VALUES: dict[str, set[str]] = {
    "decision_ground": {"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"},
    "source_type": {
        "SOURCE_ARTICLE_16",
        "SOURCE_TRUSTED_FLAGGER",
        "SOURCE_TYPE_OTHER_NOTIFICATION",
        "SOURCE_VOLUNTARY",
    },
    "automated_detection": {"Yes", "No"},
    "automated_decision": {
        "AUTOMATED_DECISION_FULLY",
        "AUTOMATED_DECISION_PARTIALLY",
        "AUTOMATED_DECISION_NOT_AUTOMATED",
    },
    "incompatible_content_illegal": {"Yes", "No"},
    "category": {
        "STATEMENT_CATEGORY_ANIMAL_WELFARE",
        "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
        "STATEMENT_CATEGORY_CYBER_VIOLENCE",
        "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
        "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
        "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
        "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT",
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
        "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
        "STATEMENT_CATEGORY_SELF_HARM",
        "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
        "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
        "STATEMENT_CATEGORY_VIOLENCE",
    },
}
SOR_LISTS: dict[str, set[str]] = {
    "decision_visibility": {
        "DECISION_VISIBILITY_CONTENT_REMOVED",
        "DECISION_VISIBILITY_CONTENT_DISABLED",
        "DECISION_VISIBILITY_CONTENT_DEMOTED",
        "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_LABELLED",
        "DECISION_VISIBILITY_OTHER",
    },
    "content_type": {
        "CONTENT_TYPE_APP",
        "CONTENT_TYPE_AUDIO",
        "CONTENT_TYPE_IMAGE",
        "CONTENT_TYPE_PRODUCT",
        "CONTENT_TYPE_SYNTHETIC_MEDIA",
        "CONTENT_TYPE_TEXT",
        "CONTENT_TYPE_VIDEO",
        "CONTENT_TYPE_OTHER",
    },
    "territorial_scope": {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IS",
        "IT",
        "LI",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    },
}


BY_MODEL = (
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "AUTOMATED_DECISION_FULLY",
    "SOURCE_VOLUNTARY",
    "Yes",
)


def check_statement(statement: dict[str, object]) -> None:
    assert set(statement) >= SOR_REQUIRED
    assert any(
        key in statement
        for key in (
            "decision_visibility",
            "decision_monetary",
            "decision_provision",
            "decision_account",
        )
    )
    for key, allowed in SOR_VALUES.items():
        if key in statement:
            assert statement[key] in allowed, (key, statement[key])
    for key, allowed in SOR_LISTS.items():
        values = statement[key]
        assert isinstance(values, list)
        assert values
        assert set(values) <= allowed, (key, values)
    if statement["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT":
        assert statement["incompatible_content_ground"]
        assert statement["incompatible_content_explanation"]
    for key in ("content_date", "application_date"):
        dt.date.fromisoformat(str(statement[key]))
    assert len(str(statement["puid"])) <= 500
    assert len(str(statement["decision_facts"])) <= 5000


def test_statements_of_reasons_one_per_removal(built: wiring.Parts, client: TestClient) -> None:
    from service.sor import SorExport, statements_of_reasons

    export = SorExport()
    statements = list(
        statements_of_reasons(built.engine, built.policy, parse_period("2023Q1"), export)
    )
    assert export.statements == len(statements) == 4  # v7, v1, v2, v4
    for statement in statements:
        check_statement(statement)
    assert len({s["puid"] for s in statements}) == 4
    assert all(len(s["territorial_scope"]) == 30 for s in statements)  # type: ignore[arg-type]
    how = [
        (s["category"], s["automated_decision"], s["source_type"], s["automated_detection"])
        for s in statements
    ]
    assert how == [
        (  # v7: a person, after a user report
            "STATEMENT_CATEGORY_CYBER_VIOLENCE",
            "AUTOMATED_DECISION_NOT_AUTOMATED",
            "SOURCE_TYPE_OTHER_NOTIFICATION",
            "No",
        ),
        (
            "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
            "AUTOMATED_DECISION_FULLY",
            "SOURCE_VOLUNTARY",
            "Yes",
        ),
        (  # v2: a person, after the model flagged it
            "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
            "AUTOMATED_DECISION_PARTIALLY",
            "SOURCE_VOLUNTARY",
            "Yes",
        ),
        (
            "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
            "AUTOMATED_DECISION_FULLY",
            "SOURCE_VOLUNTARY",
            "Yes",
        ),
    ]
    assert statements[1]["content_date"] == "2023-02-01"
    assert statements[0]["application_date"] == "2023-01-16"
    # the same over HTTP, as JSON lines
    store: KeyStore = client.app.state.keys  # type: ignore[attr-defined]
    _, analyst = store.create("analyst", [Role.ANALYST], [], dt.datetime.now(UTC))
    response = client.get(
        "/v1/reports/statements-of-reasons?period=2023Q1",
        headers={"Authorization": f"Bearer {analyst}"},
    )
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == statements


def test_concurrent_writers_across_regions_never_deadlock(
    parts: wiring.Parts, moderation: Moderation
) -> None:
    """Rollup rows are shared by every writer of a day and region: they are written last, in
    key order, so batches that touch regions in opposite orders cannot deadlock."""
    import threading

    errors: list[BaseException] = []

    def writer(n: int) -> None:
        regions = ("PK", "IN", "AE") if n % 2 else ("AE", "IN", "PK")
        try:
            for batch in range(15):
                moderation.score(  # videos are written in id order: here, in region order
                    [
                        upload(f"w{n}-{batch}-{order}{region}", region=region, **SPAM)
                        for order, region in enumerate(regions)
                    ]
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    today = parse_period(None, START.date(), START.date())
    assert enforcement_report(parts.engine, today).total[0].counts["removals"] == 6 * 15 * 3
