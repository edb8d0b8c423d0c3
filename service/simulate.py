"""`mizan simulate`: a whole period driven through the real use cases on an injected clock.

Uploads arrive per region and language; some break a guideline (the truth, which the model may
miss or mistake); views arrive over time; users report what the model let through; moderators
work the review queue after a delay and decide by the truth; creators appeal removals and
appeals reviewers restore the wrong ones. Nothing goes through HTTP, and the clock jumps from
one event to the next, so a quarter takes minutes, not months.

The simulator keeps its own tally of what it did and saw (uploads, removals with their views,
reports and upload time, restorations), independent of the decision log, so the enforcement
report computed from the log can be checked against it count for count.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import random
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier import OnnxScorer, Video
from service import wiring
from service.domain import Action, AppealVerdict, Upload, Verdict
from service.model_registry import fixed_lineup
from service.moderation import Moderation
from service.report import Period, parse_period
from service.rollups import COUNTERS

# Texts per truth and language. What the model makes of them is up to the model: some
# violations slip through (users report them), some benign texts are flagged (people approve).
POOLS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "benign": {
        "en": (
            "today we make chicken karahi with fresh tomatoes",
            "my trip to Hunza valley, beautiful mountains and lakes",
            "cricket highlights Pakistan vs Australia, the last over",
            "study tips for matric exams, how I prepare every day",
            "unboxing my new phone and first impressions",
        ),
        "ur-Latn": (
            "aaj hum biryani banayenge ghar pe",
            "mere gaon ki shaam, khet aur dariya",
            "naye saal ki mubarakbad sab doston ko",
            "ammi ke haath ka halwa, asaan recipe",
        ),
        "ur": (
            "آج ہم گھر پر بریانی بنائیں گے",
            "ہنزہ کی خوبصورت وادی کا سفر",
            "امتحان کی تیاری کے آسان طریقے",
        ),
    },
    "spam": {
        "en": (
            "FREE iPhone giveaway, click the link in bio to claim your prize",
            "text WIN to 80082 now to win cash prizes",
            "follow for follow, like for like, subscribe my channel fast",
            "earn 5000 rupees daily from home, whatsapp me now for details",
        ),
        "ur-Latn": (
            "free mobile jeeto abhi link pe click karo aur inaam pao",
            "follow for follow, like for like, subscribe my channel fast",
        ),
        "ur": ("مفت موبائل جیتیں، ابھی لنک پر کلک کریں",),
    },
    "harassment": {
        "en": ("you are a stupid ugly idiot, nobody likes you", "you bitch, you are so dumb"),
        "ur-Latn": (
            "tu bohat ganda kameena insaan hai chup kar",
            "kutte ki tarah bhonk raha hai tu, ullu ka pattha",
        ),
        "ur": ("تو بہت گندا کمینہ انسان ہے چپ کر",),
    },
    "hate_speech": {
        "en": ("kill all of them, they are vermin", "these people are a disease on society"),
        "ur-Latn": ("yeh log keere makore hain, in sab ko nikaal do",),
        "ur": ("یہ لوگ کیڑے مکوڑے ہیں، ان سب کو نکال دو",),
    },
    "misinformation": {
        "en": (
            "garlic water cures covid in two days, the vaccine has a microchip",
            "5g towers spread the coronavirus, do not get tested",
        ),
        "ur-Latn": ("lehsan ka pani covid ko do din mein khatam kar deta hai",),
        "ur": ("لہسن کا پانی دو دن میں کورونا ختم کر دیتا ہے",),
    },
}
HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    periods: tuple[tuple[Period, int], ...]  # (period, uploads)
    regions: Mapping[str, float]
    languages: Mapping[str, float]
    violations: Mapping[str, float]
    people: Mapping[str, float]
    views: Mapping[str, Any]

    @classmethod
    def load(cls, path: Path, scale: float = 1.0) -> Scenario:
        body = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls(
            name=str(body["name"]),
            seed=int(body["seed"]),
            periods=tuple(
                (parse_period(str(p["name"])), max(1, round(int(p["uploads"]) * scale)))
                for p in body["periods"]
            ),
            regions={k: float(v) for k, v in body["regions"].items()},
            languages={k: float(v) for k, v in body["languages"].items()},
            violations={k: float(v) for k, v in body["violations"].items()},
            people={k: float(v) for k, v in body["people"].items()},
            views=dict(body["views"]),
        )


@dataclass
class SimVideo:
    video_id: str
    region: str
    language: str
    truth: str  # "benign" or a label
    uploaded_at: dt.datetime
    views: int = 0
    reporters: int = 0
    removed: bool = False
    removal_label: str | None = None


@dataclass
class Tally:
    """The simulator's own account: what it uploaded and saw removed and restored."""

    uploads: list[tuple[dt.datetime, str]] = field(default_factory=list)
    removals: list[dict[str, Any]] = field(default_factory=list)
    restorations: list[tuple[dt.datetime, str, str]] = field(default_factory=list)

    def counts(
        self, period: Period, *, region: str | None = None, label: str | None = None
    ) -> dict[str, int]:
        """The report's counts for a period, from the tally alone."""

        def inside(when: dt.datetime) -> bool:
            return period.start <= when.astimezone(dt.UTC).date() < period.end

        out: Counter[str] = Counter()
        out["uploads"] = sum(
            1 for when, where in self.uploads if inside(when) and region in (None, where)
        )
        for removal in self.removals:
            if not inside(removal["at"]) or region not in (None, removal["region"]):
                continue
            if label not in (None, removal["label"]):
                continue
            out["removals"] += 1
            out["removals_automated"] += removal["automated"]
            out["removals_zero_views"] += removal["views"] == 0
            out["removals_within_24h"] += removal["at"] - removal["uploaded_at"] <= 24 * HOUR
            out["removals_proactive"] += removal["reports"] == 0
        out["restorations"] = sum(
            1
            for when, where, what in self.restorations
            if inside(when) and region in (None, where) and label in (None, what)
        )
        return {name: out[name] for name in COUNTERS if out[name]}


class SimClock:
    """The injected clock: the simulation sets ``now`` to each event's time."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


class Simulation:
    def __init__(
        self, parts: wiring.Parts, scorer: OnnxScorer, scenario: Scenario, clock: SimClock
    ) -> None:
        """``parts`` must be built with ``clock`` (wiring.build(settings, clock=clock))."""
        self._parts = parts
        self._scenario = scenario
        self._clock = clock
        self._moderation = Moderation(
            parts.decision_log,
            fixed_lineup(scorer),
            parts.policy,
            clock=parts.clock,
            dispatch=parts.dispatcher.apply,
        )
        self._random = random.Random(scenario.seed)
        self._queue: list[tuple[dt.datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._videos: dict[str, SimVideo] = {}
        self.tally = Tally()

    # scheduling -----------------------------------------------------------------------------

    def _at(self, when: dt.datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (when, next(self._order), action))

    def _hours(self, mean: float) -> dt.timedelta:
        return dt.timedelta(hours=self._random.expovariate(1 / mean)) if mean > 0 else 0 * HOUR

    def _pick(self, shares: Mapping[str, float]) -> str:
        return self._random.choices(list(shares), weights=list(shares.values()))[0]

    def run(self) -> Tally:
        serial = 0
        for period, uploads in self._scenario.periods:
            start = dt.datetime.combine(period.start, dt.time(), dt.UTC)
            seconds = (period.end - period.start).total_seconds()
            for _ in range(uploads):
                serial += 1
                when = start + dt.timedelta(seconds=self._random.uniform(0, seconds))
                self._at(when, self._upload_action(serial, when))
        while self._queue:
            when, _, action = heapq.heappop(self._queue)
            self._clock.now = when
            action()
        return self.tally

    # what happens ---------------------------------------------------------------------------

    def _upload_action(self, serial: int, when: dt.datetime) -> Callable[[], None]:
        def upload() -> None:
            truth = "benign"
            roll = self._random.random()
            for label, share in self._scenario.violations.items():
                if roll < share:
                    truth = label
                    break
                roll -= share
            language = self._pick(self._scenario.languages)
            video = SimVideo(
                f"sim-{serial}", self._pick(self._scenario.regions), language, truth, when
            )
            self._videos[video.video_id] = video
            pool = POOLS[truth].get(language) or POOLS[truth]["en"]
            text = self._random.choice(pool)
            [scored] = self._moderation.score(
                [
                    Upload(
                        video.video_id,
                        f"creator-{serial % 997}",
                        video.region,
                        language,
                        when,
                        Video(title=f"clip {serial}", transcript=text),
                    )
                ]
            )
            self.tally.uploads.append((when, video.region))
            decision = scored.decision
            if decision.action is Action.REMOVE:
                self._removed(video, decision.label or "", automated=True)
                return
            if decision.action is Action.REVIEW:
                self._at(when + self._hours(self._people("moderator_delay_hours")), self._moderate)
            self._schedule_views(video)
            if truth != "benign" and decision.action is Action.ALLOW:
                if self._random.random() < self._people("report_probability"):
                    self._schedule_reports(video)
            elif truth == "benign" and self._random.random() < self._people(
                "false_report_probability"
            ):
                self._schedule_reports(video)

        return upload

    def _people(self, name: str) -> float:
        return float(self._scenario.people[name])

    def _schedule_views(self, video: SimVideo) -> None:
        views = self._scenario.views
        when = video.uploaded_at + self._hours(float(views["first_view_hours"]))
        for count in views["counts"]:
            self._at(when, self._views_action(video, int(count)))
            when += self._hours(float(views["spacing_hours"]))

    def _views_action(self, video: SimVideo, count: int) -> Callable[[], None]:
        def views() -> None:
            if video.removed or count <= video.views:
                return
            self._moderation.record_views(video.video_id, count, "simulator")
            video.views = count

        return views

    def _schedule_reports(self, video: SimVideo) -> None:
        when = video.uploaded_at + self._hours(self._people("report_delay_hours"))
        for reporter in range(self._random.randint(1, 3)):
            self._at(when + reporter * HOUR, self._report_action(video, reporter))

    def _report_action(self, video: SimVideo, reporter: int) -> Callable[[], None]:
        def report() -> None:
            if video.removed:
                return
            state, counted = self._moderation.record_report(
                video.video_id, f"user-{reporter}", "breaks the guidelines", "simulator"
            )
            if counted:
                video.reporters += 1
            if state.status.value == "pending_review" and video.reporters == 1:
                delay = self._hours(self._people("moderator_delay_hours"))
                self._at(self._clock() + delay, self._moderate)

        return report

    def _moderate(self) -> None:
        """A moderator takes the next item and decides it by the truth."""
        holder = f"moderator-{self._random.randrange(int(self._people('moderators')))}"
        view = self._parts.review.claim(holder, [])
        if view is None:
            return
        video = self._videos[view.item.video_id]
        if video.truth == "benign":
            self._parts.review.decide(view.item.item_id, holder, Verdict.APPROVE, None, None)
            return
        self._parts.review.decide(view.item.item_id, holder, Verdict.REMOVE, video.truth, None)
        self._removed(video, video.truth, automated=False)

    def _removed(self, video: SimVideo, label: str, *, automated: bool) -> None:
        video.removed = True
        video.removal_label = label
        now = self._clock()
        self.tally.removals.append(
            {
                "at": now,
                "region": video.region,
                "label": label,
                "automated": automated,
                "views": video.views,
                "uploaded_at": video.uploaded_at,
                "reports": video.reporters,
            }
        )
        if self._random.random() < self._people("appeal_probability"):
            self._at(now + self._hours(self._people("appeal_delay_hours")), self._appeal(video))

    def _appeal(self, video: SimVideo) -> Callable[[], None]:
        def appeal() -> None:
            self._parts.appeals.submit(video.video_id, "please look again", "simulator")
            delay = self._hours(self._people("appeal_review_delay_hours"))
            self._at(self._clock() + delay, self._review_appeal)

        return appeal

    def _review_appeal(self) -> None:
        holder = f"senior-{self._random.randrange(int(self._people('appeals_reviewers')))}"
        view = self._parts.appeals.claim(holder, [])
        if view is None:
            return
        video = self._videos[view.appeal.video_id]
        wrong = video.truth == "benign"  # a removal of something that broke no guideline
        lenient = self._random.random() < self._people("restore_when_violating")
        if wrong or lenient:
            self._parts.appeals.decide(view.appeal.item_id, holder, AppealVerdict.RESTORE, None)
            video.removed = False
            self.tally.restorations.append((self._clock(), video.region, view.appeal.label or ""))
        else:
            self._parts.appeals.decide(view.appeal.item_id, holder, AppealVerdict.UPHOLD, None)
