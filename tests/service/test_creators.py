"""Creators: notices in the video's language (Urdu right to left, English as the fallback),
strikes that expire on an injected clock, thresholds that take each account action once,
restorations that take a strike back and lift what it caused, and the report's counts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from service import rollups, wiring
from service.domain import AppealVerdict, EventType, Role, Verdict
from service.errors import ConfigurationError
from service.guidelines import direction_of
from service.moderation import Moderation
from service.outbox import Outbox
from service.policy import Policy
from service.report import enforcement_report, parse_period
from service.settings import Settings
from service.tables import account_actions, events
from tests.service.conftest import MISINFORMATION, SPAM, Clock, KeyMaker, upload, video

DAY = 86_400


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shipped policy, with its account actions (the other tests leave them out)."""
    return settings.model_copy(update={"policy_file": Settings().policy_file})


URDU_SPAM = {**SPAM, "language": "ur"}


@pytest.mark.parametrize(
    ("tag", "chosen"),
    [
        ("ur", "ur"),
        ("ur-PK", "ur"),
        ("ur-Arab", "ur"),  # Urdu's usual script: the same as plain ur
        ("ur-Latn", "en"),  # Roman Urdu is not shown Urdu script
        ("en-GB", "en"),
        ("pa", "en"),  # not in the catalogue
        ("und", "en"),
        (None, "en"),
    ],
)
def test_notice_language_choice_and_fallback(tag: str | None, chosen: str) -> None:
    catalogue = Policy.load(Settings().policy_file).guidelines
    assert catalogue.match(tag) == chosen


def test_directions() -> None:
    assert [direction_of(t) for t in ("ur", "ar", "ur-Latn", "en", "pa-Arab")] == [
        "rtl",
        "rtl",
        "ltr",
        "ltr",
        "rtl",
    ]


def test_a_catalogue_missing_a_label_is_refused(tmp_path: Path) -> None:
    source = Settings().policy_file.read_text(encoding="utf-8")
    broken = source.replace("[guidelines.ur.labels.spam]", "[guidelines.ur.labels.spam_old]")
    path = tmp_path / "policy.toml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"guidelines\.ur lacks labels\.spam"):
        Policy.load(path)


def removal_notice(parts: wiring.Parts, video_id: str) -> dict[str, object]:
    state = parts.decision_log.current(video_id)
    assert state is not None
    [notice] = [n for n in parts.creators.notices_of(video_id) if n["kind"] == "removal"]
    return notice


def test_an_automated_removal_notifies_in_urdu(
    parts: wiring.Parts, moderation: Moderation, clock: Clock
) -> None:
    [scored] = moderation.score([upload("u1", **URDU_SPAM)])
    assert scored.decision.action.value == "remove"
    notice = removal_notice(parts, "u1")
    assert (notice["language"], notice["direction"]) == ("ur", "rtl")
    assert notice["decided_by"] == "machine"
    guideline = notice["guideline"]
    assert isinstance(guideline, dict)
    assert guideline["label"] == "spam"
    assert guideline["area"] == "اسپیم اور جعلی مقبولیت"
    evidence = notice["evidence"]
    assert isinstance(evidence, dict)
    deciding = scored.decision.evidence[0]  # the words, and where they were said
    assert (evidence["field"], evidence["text"], evidence["start_s"]) == (
        deciding.field,
        deciding.text,
        deciding.start_s,
    )
    assert "score" not in evidence
    deadline = clock.now + dt.timedelta(days=180)
    assert notice["appeal_deadline"] == deadline.isoformat()


def test_english_is_the_fallback_and_a_person_is_named(
    parts: wiring.Parts, moderation: Moderation
) -> None:
    moderation.score([upload("h1", **MISINFORMATION, language="ur-Latn")])
    view = parts.review.claim("amna", [])
    assert view is not None
    parts.review.decide(view.item.item_id, "amna", Verdict.REMOVE, "misinformation", None)
    notice = removal_notice(parts, "h1")
    assert (notice["language"], notice["direction"], notice["decided_by"]) == (
        "en",
        "ltr",
        "person",
    )
    assert notice["headline"] == (
        "Your video was removed because it breaks our Community Guidelines."
    )


def actions(parts: wiring.Parts, creator: str = "creator-1") -> list[tuple[str, bool]]:
    record = parts.creators.record(creator)
    return [(str(a["action"]), bool(a["in_force"])) for a in record.actions]


def test_thresholds_take_each_account_action_once(
    parts: wiring.Parts, moderation: Moderation, clock: Clock
) -> None:
    for n in range(4):
        moderation.score([upload(f"s{n}", **SPAM)])
        clock.advance(DAY)
    assert actions(parts) == [("warning", True), ("upload_restriction", True), ("ban", True)]
    clock.advance(7 * DAY)  # the restriction lasts 7 days; the fourth strike took nothing more
    assert actions(parts) == [("warning", True), ("upload_restriction", False), ("ban", True)]
    record = parts.creators.record("creator-1")
    assert len(record.active_strikes) == 4
    with parts.engine.connect() as connection:
        logged = connection.scalar(
            sa.select(sa.func.count())
            .select_from(events)
            .where(events.c.type == EventType.ACCOUNT_ACTIONED.value)
        )
    assert logged == 3
    restriction = next(a for a in record.actions if a["action"] == "upload_restriction")
    assert restriction["ends_at"] - restriction["started_at"] == dt.timedelta(days=7)


def test_removals_written_together_strike_one_by_one(
    parts: wiring.Parts, moderation: Moderation
) -> None:
    """Three removals of one creator in one write (a batch, or requests decided together):
    a strike each, each threshold's action taken once, each notice quoting its own video."""
    scored = moderation.score(
        [upload(f"b{n}", **{**SPAM, "title": f"FREE iPhone giveaway number {n}"}) for n in range(3)]
    )
    assert [s.decision.action.value for s in scored] == ["remove"] * 3
    assert actions(parts) == [("warning", True), ("upload_restriction", True), ("ban", True)]
    assert len(parts.creators.record("creator-1").active_strikes) == 3
    for n, result in enumerate(scored):
        evidence = removal_notice(parts, f"b{n}")["evidence"]
        assert isinstance(evidence, dict)
        deciding = next(e for e in result.decision.evidence if e.label == result.decision.label)
        assert evidence["text"] == deciding.text


def test_strikes_expire_with_the_clock(
    parts: wiring.Parts, moderation: Moderation, clock: Clock
) -> None:
    moderation.score([upload("e1", **SPAM)])
    clock.advance(60 * DAY)
    moderation.score([upload("e2", **SPAM)])  # two active: restriction
    clock.advance(31 * DAY)  # the first strike (91 days old) has expired
    assert len(parts.creators.record("creator-1").active_strikes) == 1
    moderation.score([upload("e3", **SPAM)])  # two active again, not three: no ban
    assert [a for a, _ in actions(parts)] == ["warning", "upload_restriction", "upload_restriction"]


def test_a_restoration_takes_the_strike_back_and_lifts_its_action(
    parts: wiring.Parts, moderation: Moderation, clock: Clock
) -> None:
    moderation.score([upload("r1", **SPAM)])
    assert actions(parts) == [("warning", True)]
    appeal = parts.appeals.submit("r1", "it is my own shop's real offer", "pipeline")
    assert parts.appeals.claim("senior", []) is not None
    parts.appeals.decide(appeal.item_id, "senior", AppealVerdict.RESTORE, None)
    record = parts.creators.record("creator-1")
    assert record.active_strikes == []
    assert actions(parts) == [("warning", False)]
    lifted = [e.type for e in parts.decision_log.history("r1")]
    assert EventType.ACCOUNT_ACTION_LIFTED in lifted
    kinds = [n["kind"] for n in parts.creators.notices_of("r1")]
    assert kinds == ["removal", "restoration"]
    # the next removal is a first strike again
    moderation.score([upload("r2", **SPAM)])
    assert actions(parts) == [("warning", False), ("warning", True)]


def test_an_upheld_appeal_keeps_the_strike(parts: wiring.Parts, moderation: Moderation) -> None:
    moderation.score([upload("k1", **URDU_SPAM)])
    appeal = parts.appeals.submit("k1", "please", "pipeline")
    assert parts.appeals.claim("senior", []) is not None
    parts.appeals.decide(appeal.item_id, "senior", AppealVerdict.UPHOLD, None)
    [upheld] = [n for n in parts.creators.notices_of("k1") if n["kind"] == "appeal_upheld"]
    assert upheld["language"] == "ur"
    assert upheld["appeal_deadline"] is None
    assert upheld["decided_by"] == "person"
    assert len(parts.creators.record("creator-1").active_strikes) == 1


def test_the_report_counts_accounts_actioned(
    parts: wiring.Parts, moderation: Moderation, clock: Clock
) -> None:
    for n in range(3):
        moderation.score([upload(f"p{n}", **SPAM)])
    moderation.score([upload("q1", **SPAM, creator_id="creator-2", region="IN")])
    report = enforcement_report(parts.engine, parse_period("2026Q4"))
    total = report.total[0].counts
    assert (total["accounts_warned"], total["accounts_restricted"], total["accounts_banned"]) == (
        2,
        1,
        1,
    )
    assert report.by_region["IN"][0].counts["accounts_warned"] == 1
    assert report.by_region["PK"][0].counts["accounts_banned"] == 1
    with parts.engine.connect() as connection:
        taken = connection.scalar(sa.select(sa.func.count()).select_from(account_actions))
    assert taken == 4
    kept = rollups.snapshot(parts.engine)  # counted as they happened = counted from the log
    rollups.rebuild(parts.engine)
    assert rollups.snapshot(parts.engine) == kept


def test_webhooks_carry_the_notice(settings: Settings, clock: Clock, scorer: object) -> None:
    from pydantic import SecretStr

    from service.model_registry import fixed_lineup

    configured = settings.model_copy(
        update={"webhook_url": "http://127.0.0.1:9/none", "webhook_secret": SecretStr("s" * 20)}
    )
    parts = wiring.build(configured, clock=clock, migrate_schema=True)
    try:
        moderation = Moderation(
            parts.decision_log,
            fixed_lineup(scorer),  # type: ignore[arg-type]
            parts.policy,
            clock=clock,
        )
        moderation.score([upload("w1", **URDU_SPAM)])
        outbox = Outbox(parts.engine)
        payloads = [outbox.get(event_id) for event_id in outbox.pending()]
        kinds = sorted(str(d.payload["type"]) for d in payloads if d is not None)
        assert kinds == ["account_action", "removed"]
        removed = next(d for d in payloads if d is not None and d.payload["type"] == "removed")
        notice = removed.payload["notice"]
        assert isinstance(notice, dict)
        assert notice["language"] == "ur"
    finally:
        parts.close()


def test_the_creator_api(client: TestClient, make_key: KeyMaker) -> None:
    uploader = make_key(Role.UPLOADER)
    client.post("/v1/videos/score", json=video("a1", **URDU_SPAM), headers=uploader)
    for role in (Role.UPLOADER, Role.MODERATOR):
        body = client.get("/v1/creators/creator-1", headers=make_key(role)).json()
        assert body["active_strikes"] == 1
        assert [s["active"] for s in body["strikes"]] == [True]
        assert body["actions"][0]["action"] == "warning"
        assert (body["banned"], body["upload_restricted_until"]) == (False, None)
        assert body["notices"][0]["language"] == "ur"
    assert client.get("/v1/creators/nobody", headers=uploader).status_code == 404
    assert client.get("/v1/creators/creator-1", headers=make_key(Role.ANALYST)).status_code == 403
    video_body = client.get("/v1/videos/a1", headers=uploader).json()
    assert video_body["notices"][0]["kind"] == "removal"
