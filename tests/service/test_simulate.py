"""A simulated quarter through the real use cases: the report from the log equals the
simulator's own tally, count for count, in total, per region and per label."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from redis import Redis

from classifier import OnnxScorer
from service import rollups, wiring
from service.report import enforcement_report
from service.settings import PROJECT_ROOT, Settings
from service.simulate import Scenario, SimClock, Simulation

# Many violations and reports on few uploads, so every path is taken in a short run.
BUSY = """
name = "busy test quarter"
seed = 7
[[periods]]
name = "2022Q4"
uploads = 120
[[periods]]
name = "2023Q1"
uploads = 160
[regions]
PK = 0.7
AE = 0.3
[languages]
ur-Latn = 0.5
en = 0.3
ur = 0.2
[violations]
spam = 0.12
harassment = 0.1
hate_speech = 0.05
misinformation = 0.08
[people]
moderator_delay_hours = 20.0
moderators = 3
appeals_reviewers = 2
report_probability = 0.9
report_delay_hours = 12.0
false_report_probability = 0.05
appeal_probability = 0.5
appeal_delay_hours = 24.0
appeal_review_delay_hours = 24.0
restore_when_violating = 0.2
[views]
first_view_hours = 6.0
counts = [0, 30, 800]
spacing_hours = 8.0
"""


def test_a_simulated_quarter_reports_what_the_simulator_counted(
    settings: Settings, redis: Redis, scorer: OnnxScorer, tmp_path: Path
) -> None:
    path = tmp_path / "busy.toml"
    path.write_text(BUSY, encoding="utf-8")
    scenario = Scenario.load(path)
    clock = SimClock(dt.datetime(2022, 10, 1, tzinfo=dt.UTC))
    parts = wiring.build(settings, clock=clock, migrate_schema=True)
    try:
        tally = Simulation(parts, scorer, scenario, clock).run()
        quarter = scenario.periods[1][0]
        report = enforcement_report(parts.engine, quarter)
        assert report.total[0].counts == tally.counts(quarter)
        assert report.total[1].counts == tally.counts(scenario.periods[0][0])
        for region, (now, _) in report.by_region.items():
            assert now.counts == tally.counts(quarter, region=region), region
        for label, (now, _) in report.by_label.items():
            expected = tally.counts(quarter, label=label)
            assert {k: v for k, v in now.counts.items() if k != "uploads"} == {
                k: v for k, v in expected.items() if k != "uploads"
            }, label
        counted = tally.counts(quarter)
        # every path of the report was exercised
        assert counted["removals"] > counted["removals_automated"] > 0
        assert 0 < counted["removals_proactive"] < counted["removals"]
        assert 0 < counted["removals_zero_views"] < counted["removals"]
        assert counted["restorations"] > 0
        before = rollups.snapshot(parts.engine)
        rollups.rebuild(parts.engine)
        assert rollups.snapshot(parts.engine) == before
    finally:
        parts.close()


def test_the_shipped_scenario_loads_and_scales() -> None:
    scenario = Scenario.load(PROJECT_ROOT / "scenarios" / "pk-2023q1.toml", scale=0.5)
    assert [(p.name, n) for p, n in scenario.periods] == [("2022Q4", 5390), ("2023Q1", 5000)]
    assert abs(sum(scenario.languages.values()) - 1.0) < 1e-9
