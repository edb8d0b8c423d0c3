"""The enforcement report as one self-contained HTML page (inline CSS and SVG charts, nothing
loaded from anywhere), for an analyst to mail around: `mizan report --format html`."""

from __future__ import annotations

import html

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
"""


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
