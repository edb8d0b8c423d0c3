"""The Community Guidelines Enforcement Report (DESIGN.md section 8), from the daily rollups.

For a period (quarter ``2023Q1``, month ``2023-03``, or ``from``/``to`` dates), optionally one
region and one label: every metric in total, per region and per label, beside the previous
period of the same length, with each rate's numerator and denominator. Days are UTC days.

Definitions, as the report's readers know them:

- uploaded: videos scored for the first time in the period;
- removed: removals in the period, by the model or a person (a video removed, restored and
  removed again counts twice); removal rate = removed / uploaded;
- removed by automation: removals the model decided alone;
- restored: removed videos restored after appeal in the period;
- removed before any views / within 24 hours / proactively: the share of removals with zero
  views at removal, within 24 hours of upload, before any user report.

Per label, uploads are not split (an upload has no label): a label's removal rate is its
removals over all uploads of the scope, and its share of removals is shown beside it.

Beside the counts: the measured precision of automated removal per label, from the audits
decided in the period (service/audit_report.py), and, per day and model version, the score
distribution of each label and the share of each action (service/drift.py; all regions).
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from service import drift
from service.audit_report import AuditFigures, audit_figures, measure
from service.drift import DayOfModel
from service.errors import InvalidRequestError
from service.rollups import COUNTERS
from service.tables import rollups

RATES = {  # name: (numerator, denominator)
    "removal_rate": ("removals", "uploads"),
    "automation_share": ("removals_automated", "removals"),
    "zero_views_share": ("removals_zero_views", "removals"),
    "within_24h_share": ("removals_within_24h", "removals"),
    "proactive_share": ("removals_proactive", "removals"),
}


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    start: dt.date
    end: dt.date  # exclusive
    kind: str  # quarter, month, range

    def previous(self) -> Period:
        if self.kind == "quarter":
            year, quarter = self.start.year, (self.start.month - 1) // 3 + 1
            year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
            return parse_period(f"{year}Q{quarter}")
        if self.kind == "month":
            year, month = self.start.year, self.start.month
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
            return parse_period(f"{year}-{month:02d}")
        length = self.end - self.start
        start = self.start - length
        return Period(f"{start}..{self.start - dt.timedelta(days=1)}", start, self.start, "range")


FIRST_YEAR, LAST_YEAR = 1970, 9998  # a previous period and an end date must exist too


def parse_period(
    period: str | None = None, start: dt.date | None = None, end: dt.date | None = None
) -> Period:
    """``2023Q1``, ``2023-03``, or ``start``/``end`` (inclusive) dates."""
    # isdecimal, not isdigit: what int() and the patterns' \d take (not superscripts)
    years = [int(period[:4])] if period and period[:4].isdecimal() else []
    years += [day.year for day in (start, end) if day]
    if any(not FIRST_YEAR + 1 <= year <= LAST_YEAR for year in years):
        raise InvalidRequestError(f"periods lie within {FIRST_YEAR + 1} and {LAST_YEAR}")
    if period:
        quarter = re.fullmatch(r"(\d{4})Q([1-4])", period)
        if quarter:
            year, number = int(quarter.group(1)), int(quarter.group(2))
            first = dt.date(year, 3 * number - 2, 1)
            last_month = 3 * number
            after = (
                dt.date(year + 1, 1, 1) if last_month == 12 else dt.date(year, last_month + 1, 1)
            )
            return Period(period, first, after, "quarter")
        month = re.fullmatch(r"(\d{4})-(\d{2})", period)
        if month and 1 <= int(month.group(2)) <= 12:
            year, number = int(month.group(1)), int(month.group(2))
            days = calendar.monthrange(year, number)[1]
            first = dt.date(year, number, 1)
            return Period(period, first, first + dt.timedelta(days=days), "month")
        raise InvalidRequestError(f"period {period!r}: use 2023Q1, 2023-03, or from/to dates")
    if start and end:
        if end < start:
            raise InvalidRequestError("the period ends before it starts")
        if (end - start).days > 3_660:
            raise InvalidRequestError("a period of at most ten years")
        return Period(f"{start}..{end}", start, end + dt.timedelta(days=1), "range")
    raise InvalidRequestError("give a period (2023Q1, 2023-03) or both from and to")


@dataclass(frozen=True, slots=True)
class Metrics:
    counts: Mapping[str, int]

    def rate(self, name: str) -> tuple[int, int, float | None]:
        numerator, denominator = RATES[name]
        top, bottom = self.counts.get(numerator, 0), self.counts.get(denominator, 0)
        return top, bottom, (top / bottom if bottom else None)


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    previous: Period
    region: str | None
    label: str | None
    total: tuple[Metrics, Metrics]  # (this period, the previous one)
    by_region: Mapping[str, tuple[Metrics, Metrics]]
    by_label: Mapping[str, tuple[Metrics, Metrics]]
    # Removals of every label in the scope (the region, or all): a label's share of removals
    # is over these, also when the report is narrowed to that one label (then `total` is it)
    scope_removals: int
    # How often automation was right, from the audits decided in the period
    audits: AuditFigures = field(default_factory=lambda: measure(()))
    # Each day's score histograms and action counts per model version (all regions)
    drift: Sequence[DayOfModel] = ()

    def share_of_removals(self, metrics: Metrics) -> tuple[int, int, float | None]:
        """(removals, the scope's removals, their ratio) for one label's metrics."""
        removed, scope = metrics.counts.get("removals", 0), self.scope_removals
        return removed, scope, (removed / scope if scope else None)

    def to_json(self) -> dict[str, object]:
        def side(pair: tuple[Metrics, Metrics], of_label: bool) -> dict[str, object]:
            now, before = pair
            counts = {
                name: {
                    "value": now.counts.get(name, 0),
                    "previous": before.counts.get(name, 0),
                    "change": now.counts.get(name, 0) - before.counts.get(name, 0),
                }
                for name in COUNTERS
            }
            rates: dict[str, object] = {}
            for name in RATES:
                top, bottom, value = now.rate(name)
                rates[name] = {
                    "value": value,
                    "numerator": top,
                    "denominator": bottom,
                    "previous": before.rate(name)[2],
                }
            out: dict[str, object] = {"counts": counts, "rates": rates}
            if of_label:
                removed, scope, share = self.share_of_removals(now)
                out["share_of_removals"] = {
                    "value": share,
                    "numerator": removed,
                    "denominator": scope,
                }
            return out

        return {
            "period": _period_json(self.period),
            "previous_period": _period_json(self.previous),
            "region": self.region,
            "label": self.label,
            "total": side(self.total, False),
            "by_region": {key: side(pair, False) for key, pair in self.by_region.items()},
            "by_label": {key: side(pair, True) for key, pair in self.by_label.items()},
            "audits": self.audits.to_json(),
            "drift": [
                {
                    "day": day.day.isoformat(),
                    "model_version": day.model_version,
                    "decisions": day.decisions,
                    "action_shares": {k: round(v, 4) for k, v in day.action_shares().items()},
                    "mean_scores": {k: round(v, 4) for k, v in day.mean_scores().items()},
                    "score_histograms": {k: list(v) for k, v in sorted(day.histograms.items())},
                }
                for day in self.drift
            ],
        }

    def to_csv(self) -> str:
        """One row per (scope, key, metric): value, previous, change, numerator, denominator."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "period",
                "scope",
                "key",
                "metric",
                "value",
                "previous",
                "change",
                "numerator",
                "denominator",
            ]
        )
        scopes: list[tuple[str, str, tuple[Metrics, Metrics]]] = [("total", "all", self.total)]
        scopes += [("region", key, pair) for key, pair in self.by_region.items()]
        scopes += [("label", key, pair) for key, pair in self.by_label.items()]
        for scope, key, (now, before) in scopes:
            for name in COUNTERS:
                value, previous = now.counts.get(name, 0), before.counts.get(name, 0)
                writer.writerow(
                    [self.period.name, scope, key, name, value, previous, value - previous, "", ""]
                )
            for name in RATES:
                top, bottom, rate = now.rate(name)
                previous_rate = before.rate(name)[2]
                writer.writerow(
                    [
                        self.period.name,
                        scope,
                        key,
                        name,
                        "" if rate is None else f"{rate:.6f}",
                        "" if previous_rate is None else f"{previous_rate:.6f}",
                        "",
                        top,
                        bottom,
                    ]
                )
            if scope == "label":
                removed, in_scope, share = self.share_of_removals(now)
                shown = "" if share is None else f"{share:.6f}"
                row = ["share_of_removals", shown, "", "", removed, in_scope]
                writer.writerow([self.period.name, scope, key, *row])
        for name, figures in (
            ("automated_removal_precision", self.audits.removal_precision),
            ("allowed_found_violating", self.audits.allowed_violating),
        ):
            for key, measured in sorted(figures.items()):
                share = measured.share
                writer.writerow(
                    [
                        self.period.name,
                        "audit",
                        key,
                        name,
                        "" if share is None else f"{share:.6f}",
                        "",
                        "",
                        measured.hits,
                        measured.audited,
                    ]
                )
        for day in self.drift:
            key = f"{day.day.isoformat()}/{day.model_version}"
            for action, share in day.action_shares().items():
                numerator = day.actions[action]
                row = [f"share_{action}", f"{share:.6f}", "", "", numerator, day.decisions]
                writer.writerow([self.period.name, "drift", key, *row])
            for label, mean in day.mean_scores().items():
                row = [f"mean_score_{label}", f"{mean:.6f}", "", "", "", ""]
                writer.writerow([self.period.name, "drift", key, *row])
        return out.getvalue()


def _period_json(period: Period) -> dict[str, str]:
    last = period.end - dt.timedelta(days=1)
    return {"name": period.name, "from": period.start.isoformat(), "to": last.isoformat()}


def enforcement_report(
    engine: sa.Engine, period: Period, region: str | None = None, label: str | None = None
) -> Report:
    previous = period.previous()
    now_rows = _sums(engine, period, region)
    before_rows = _sums(engine, previous, region)

    def metrics(rows: Iterable[tuple[str, str, Counter[str]]], *, by: str, key: str) -> Metrics:
        total: Counter[str] = Counter()
        for row_region, row_label, counts in rows:
            if by == "region" and row_region != key:
                continue
            if label and row_label not in ("", label):
                continue  # uploads ("" label) always count: they are the rate's denominator
            if by == "label" and row_label not in ("", key):
                continue
            total.update(counts)
        return Metrics({name: value for name, value in total.items() if value})

    regions = sorted({r for r, _, _ in now_rows} | {r for r, _, _ in before_rows})
    labels = sorted(
        {lab for _, lab, _ in now_rows if lab} | {lab for _, lab, _ in before_rows if lab}
    )
    if label:
        labels = [label]
    return Report(
        period=period,
        previous=previous,
        region=region,
        label=label,
        total=(metrics(now_rows, by="", key=""), metrics(before_rows, by="", key="")),
        by_region={
            r: (metrics(now_rows, by="region", key=r), metrics(before_rows, by="region", key=r))
            for r in regions
        },
        by_label={
            lab: (
                metrics(now_rows, by="label", key=lab),
                metrics(before_rows, by="label", key=lab),
            )
            for lab in labels
        },
        scope_removals=sum(counts["removals"] for _, _, counts in now_rows),
        audits=audit_figures(
            engine,
            dt.datetime.combine(period.start, dt.time(), dt.UTC),
            dt.datetime.combine(period.end, dt.time(), dt.UTC),
            region,
        ),
        drift=drift.daily(engine, period.start, period.end),
    )


def _sums(
    engine: sa.Engine, period: Period, region: str | None
) -> list[tuple[str, str, Counter[str]]]:
    columns = [sa.func.sum(rollups.c[name]).label(name) for name in COUNTERS]
    query = (
        sa.select(rollups.c.region, rollups.c.label, *columns)
        .where(rollups.c.day >= period.start, rollups.c.day < period.end)
        .group_by(rollups.c.region, rollups.c.label)
    )
    if region:
        query = query.where(rollups.c.region == region)
    with engine.connect() as connection:
        return [
            (row.region, row.label, Counter({n: int(row._mapping[n] or 0) for n in COUNTERS}))
            for row in connection.execute(query)
        ]
