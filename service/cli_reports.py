"""The reporting side of the `mizan` command: the enforcement report, DSA statements of
reasons, rollups, the simulator and the labels export (service/cli.py wires them in)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from service.settings import get_settings

ExitCode = int


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(f"mizan: {text}\n")


def export_labels(args: argparse.Namespace) -> ExitCode:
    from service.database import create_engine
    from service.labels import export

    engine = create_engine(get_settings().effective_database_url())
    try:
        if args.out:
            with args.out.open("w", encoding="utf-8") as sink:
                counts = export(engine, sink)
        else:
            counts = export(engine, sys.stdout)
    finally:
        engine.dispose()
    sys.stderr.write(
        f"{counts['examples']} examples: {counts['violations']} violations, "
        f"{counts['benign']} benign, of which {counts['false_positives']} restored automated "
        "removals (the model's known false positives)\n"
    )
    return 0


def report(args: argparse.Namespace) -> ExitCode:
    from service.database import create_engine
    from service.report import enforcement_report, parse_period
    from service.report_html import render

    engine = create_engine(get_settings().effective_database_url())
    try:
        period = parse_period(args.period, args.start, args.end)
        report = enforcement_report(engine, period, args.region, args.label)
    finally:
        engine.dispose()
    if args.format == "html":
        text = render(report)
    elif args.format == "csv":
        text = report.to_csv()
    else:
        text = json.dumps(report.to_json(), indent=2) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def export_sor(args: argparse.Namespace) -> ExitCode:
    from service.database import create_engine
    from service.policy import Policy
    from service.report import parse_period
    from service.sor import SorExport, statements_of_reasons

    settings = get_settings()
    period = parse_period(args.period, args.start, args.end)
    engine = create_engine(settings.effective_database_url())
    export = SorExport()
    sink = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    try:
        for statement in statements_of_reasons(
            engine, Policy.load(settings.policy_file), period, export
        ):
            sink.write(json.dumps(statement, ensure_ascii=False) + "\n")
    finally:
        engine.dispose()
        if args.out:
            sink.close()
    left_out = sum(export.left_out.values())
    sys.stderr.write(
        f"{export.statements} statements of reasons for {period.name}; {left_out} decisions "
        "left out (only decisions limited to regions outside the EEA would be)\n"
    )
    return 0


def simulate(args: argparse.Namespace) -> ExitCode:
    import time

    from service import wiring
    from service.model_registry import versions_in_force
    from service.models import load_version
    from service.report import enforcement_report
    from service.simulate import Scenario, SimClock, Simulation

    settings = get_settings()
    if not args.scenario.is_file():
        _err(f"no scenario file {args.scenario}")
        return 1
    scenario = Scenario.load(args.scenario, args.scale)
    first = scenario.periods[0][0]
    clock = SimClock(dt.datetime.combine(first.start, dt.time(), dt.UTC))
    parts = wiring.build(settings, clock=clock, migrate_schema=settings.auto_migrate)
    started = time.monotonic()
    try:
        champion = versions_in_force(parts.engine, settings.models_dir).champion
        scorer = load_version(settings.models_dir, champion)  # the version serving now
        simulation = Simulation(parts, scorer, scenario, clock)
        tally = simulation.run()
        uploads = sum(count for _, count in scenario.periods)
        _out(f"{scenario.name}: {uploads} uploads in {time.monotonic() - started:.0f} s")
        mismatches = 0
        for period, _ in scenario.periods:
            report = enforcement_report(parts.engine, period)
            logged = {k: v for k, v in report.total[0].counts.items() if v}
            counted = tally.counts(period)
            same = logged == counted
            mismatches += not same
            rates = ", ".join(
                f"{name} {report.total[0].rate(name)[2] or 0:.1%}"
                for name in (
                    "removal_rate",
                    "zero_views_share",
                    "within_24h_share",
                    "proactive_share",
                )
            )
            _out(f"{period.name}: {logged}")
            _out(f"  {rates}; the simulator's own tally {'agrees' if same else 'DIFFERS'}")
            if not same:
                _out(f"  tally: {counted}")
    finally:
        parts.close()
    return 1 if mismatches else 0


def rollups_rebuild(args: argparse.Namespace) -> ExitCode:
    from service.database import create_engine
    from service.rollups import rebuild

    engine = create_engine(get_settings().effective_database_url())
    try:
        read = rebuild(engine)
    finally:
        engine.dispose()
    _out(f"rollups rebuilt from {read} events")
    return 0
