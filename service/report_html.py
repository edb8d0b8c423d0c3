"""The enforcement report as one self-contained HTML page (inline CSS and SVG charts, nothing
loaded from anywhere), for an analyst to mail around: `mizan report --format html`."""

from __future__ import annotations

import html

from service.audit_report import AuditFigures
from service.report import RATES, Report
from service.rollups import COUNTERS

TITLES = {
    "uploads": "Videos uploaded",
    "removals": "Videos removed",
    "removals_automated": "Removed by automation",
    "removals_zero_views": "Removed before any views",
    "removals_within_24h": "Removed within 24 hours",
    "removals_proactive": "Removed before any user report",
    "restorations": "Restored after appeal",
    "accounts_warned": "Accounts warned",
    "accounts_restricted": "Accounts restricted from uploading",
    "accounts_banned": "Accounts banned",
    "removal_rate": "Removal rate",
    "automation_share": "Share removed by automation",
    "zero_views_share": "Removed before any views",
    "within_24h_share": "Removed within 24 hours",
    "proactive_share": "Proactive removal rate",
}
CURRENT, PREVIOUS = "#1f6f8b", "#b8c4cc"


def _bars(rows: list[tuple[str, float, float]], percent: bool) -> str:
    """Horizontal grouped bars: this period (dark) and the previous one (light)."""
    top = max([max(a, b) for _, a, b in rows] + [1e-9])
    height, width, left = 26 * len(rows) + 10, 640, 230
    parts = [f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    for index, (name, now, before) in enumerate(rows):
        y = 8 + 26 * index
        label = html.escape(name)
        parts.append(f'<text x="0" y="{y + 14}" font-size="13">{label}</text>')
        for offset, value, colour in ((0, now, CURRENT), (11, before, PREVIOUS)):
            length = (width - left - 90) * value / top
            parts.append(
                f'<rect x="{left}" y="{y + offset}" width="{length:.1f}" height="10" '
                f'fill="{colour}"><title>{label}: {value:g}</title></rect>'
            )
        text = f"{now:.1%}" if percent else f"{now:,.0f}"
        parts.append(
            f'<text x="{left + (width - left - 90) * now / top + 6:.1f}" '
            f'y="{y + 9}" font-size="11">{text}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def body(report: Report) -> str:
    """The report's content (heading, table, three charts), for the page and the console."""
    now, before = report.total
    scope = " / ".join(x for x in (report.region, report.label) if x) or "all regions"
    rows = []
    for name in COUNTERS:
        value, previous = now.counts.get(name, 0), before.counts.get(name, 0)
        rows.append(
            f"<tr><th>{TITLES[name]}</th><td>{value:,}</td><td>{previous:,}</td>"
            f"<td>{value - previous:+,}</td><td></td></tr>"
        )
    for name in RATES:
        top, bottom, rate = now.rate(name)
        previous_rate = before.rate(name)[2]
        shown = "n/a" if rate is None else f"{rate:.2%}"
        was = "n/a" if previous_rate is None else f"{previous_rate:.2%}"
        rows.append(
            f"<tr><th>{TITLES[name]}</th><td>{shown}</td><td>{was}</td><td></td>"
            f"<td>{top:,} / {bottom:,}</td></tr>"
        )
    by_label = [
        (label, float(pair[0].counts.get("removals", 0)), float(pair[1].counts.get("removals", 0)))
        for label, pair in report.by_label.items()
    ]
    three = [
        (TITLES[name], now.rate(name)[2] or 0.0, before.rate(name)[2] or 0.0)
        for name in ("zero_views_share", "within_24h_share", "proactive_share")
    ]
    by_region = [
        (region, float(pair[0].counts.get("removals", 0)), float(pair[1].counts.get("removals", 0)))
        for region, pair in report.by_region.items()
    ]
    title = f"Community Guidelines enforcement, {report.period.name}"
    return f"""<h1>{html.escape(title)}</h1>
<p>{html.escape(scope)}: {report.period.start} to {report.period.end} (exclusive), against
{html.escape(report.previous.name)}. Days are UTC days.</p>
<p class="key"><span style="background:{CURRENT}"></span>{html.escape(report.period.name)}
<span style="background:{PREVIOUS}"></span>{html.escape(report.previous.name)}</p>
<table class="report"><tr><th></th><th>{html.escape(report.period.name)}</th>
<th>{html.escape(report.previous.name)}</th><th>change</th><th>of</th></tr>{"".join(rows)}</table>
<h2>Removals by policy</h2>{_bars(by_label, percent=False)}
<h2>The three rates</h2>{_bars(three, percent=True)}
<h2>Removals by region</h2>{_bars(by_region, percent=False)}
{audits_section(report.audits)}
{_drift(report)}
"""


def audits_section(audits: AuditFigures) -> str:
    """How often automation was right, per label, from the period's audits."""
    rows = []
    for title, figures in (
        ("automated removals confirmed", audits.removal_precision),
        ("allowed videos found violating", audits.allowed_violating),
    ):
        for label, measured in sorted(figures.items()):
            interval = measured.interval()
            share = "n/a" if measured.share is None else f"{measured.share:.1%}"
            ci = "" if interval is None else f"{interval[0]:.1%} to {interval[1]:.1%}"
            rows.append(
                f"<tr><th>{html.escape(title)}</th><td>{html.escape(label)}</td><td>{share}</td>"
                f"<td>{measured.hits:,} / {measured.audited:,}</td><td>{ci}</td></tr>"
            )
    if not rows:
        rows.append('<tr><td colspan="5">No audit was decided in this period.</td></tr>')
    return (
        '<h2>Audits of automation</h2><table class="report" id="audits"><tr><th></th>'
        "<th>label</th><th>measured</th><th>of audited</th><th>95% interval</th></tr>"
        f"{''.join(rows)}</table><p>{audits.open_audits:,} audits waiting.</p>"
    )


def _drift(report: Report) -> str:
    """Per day and model version: the mix of actions and each label's mean score."""
    if not report.drift:
        return ""
    labels = sorted({label for day in report.drift for label in day.histograms})
    head = "".join(f"<th>{html.escape(label)}</th>" for label in labels)
    rows = []
    for day in report.drift:
        shares = day.action_shares()
        means = day.mean_scores()
        cells = "".join(f"<td>{means.get(label, 0.0):.3f}</td>" for label in labels)
        rows.append(
            f"<tr><th>{day.day}</th><td>{html.escape(day.model_version)}</td>"
            f"<td>{day.decisions:,}</td><td>{shares.get('remove', 0.0):.1%}</td>"
            f"<td>{shares.get('review', 0.0):.1%}</td><td>{shares.get('allow', 0.0):.1%}</td>"
            f"{cells}</tr>"
        )
    return (
        "<h2>Drift: actions and mean scores per day and model</h2>"
        '<table class="report" id="drift"><tr><th>day</th><th>model</th><th>scored</th>'
        f"<th>removed</th><th>review</th><th>allowed</th>{head}</tr>{''.join(rows)}</table>"
    )


def render(report: Report) -> str:
    """The whole page: self-contained, for mailing around."""
    title = f"Community Guidelines enforcement, {report.period.name}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1b2631}}
table{{border-collapse:collapse;margin:1rem 0}}th,td{{padding:.3rem .8rem;text-align:right;
border-bottom:1px solid #dde3e8}}th{{text-align:left;font-weight:500}}
.key span{{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}}
</style></head><body>
{body(report)}</body></html>
"""
