"""The model-lifecycle side of the `mizan` command: list versions, promote or roll back,
set a shadow, and compare a shadow with the champion (service/cli.py wires them in)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from service.errors import InvalidRequestError
from service.settings import get_settings

ExitCode = int
CLI_ACTOR = "cli"


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def register(commands: Any) -> None:
    """Add `models` and `shadow-report` to the parser's subcommands."""
    models = commands.add_parser(
        "models", help="model versions: list, activate (promote or roll back), shadow"
    )
    actions = models.add_subparsers(required=True, metavar="action")
    actions.add_parser("list", help="versions, which serve, and the history").set_defaults(
        handler=list_models
    )
    activate = actions.add_parser(
        "activate", help="make a version the champion in every API process (no restart)"
    )
    activate.add_argument("version")
    activate.add_argument("--actor", default=CLI_ACTOR, help="who, for the log")
    activate.set_defaults(handler=activate_model)
    shadow = actions.add_parser(
        "shadow", help="score every video with a version too, without acting on it"
    )
    target = shadow.add_mutually_exclusive_group(required=True)
    target.add_argument("version", nargs="?", help="the challenger")
    target.add_argument("--off", action="store_true", help="stop scoring in shadow")
    shadow.add_argument("--actor", default=CLI_ACTOR, help="who, for the log")
    shadow.set_defaults(handler=set_shadow)

    report = commands.add_parser(
        "shadow-report", help="a challenger in shadow against the champion, on a period"
    )
    report.add_argument("--period", help="2023Q1 or 2023-03")
    report.add_argument("--from", dest="start", type=dt.date.fromisoformat, help="first day")
    report.add_argument("--to", dest="end", type=dt.date.fromisoformat, help="last day")
    report.add_argument("--challenger", help="the shadow version (default: the period's)")
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    report.set_defaults(handler=shadow_report)


def _registry() -> Any:
    from service.database import create_engine, migrate
    from service.model_registry import ModelRegistry
    from service.policy import Policy

    settings = get_settings()
    engine = create_engine(settings.effective_database_url())
    if settings.auto_migrate:
        migrate(engine)
    return ModelRegistry(
        engine, settings.models_dir, Policy.load(settings.policy_file), serving=False
    )


def list_models(args: argparse.Namespace) -> ExitCode:
    from service import model_registry
    from service.database import create_engine

    settings = get_settings()
    engine = create_engine(settings.effective_database_url())
    try:
        versions = model_registry.versions_in_force(engine, settings.models_dir)
        roles = {versions.champion: "champion", versions.shadow: "shadow"}
        for card in model_registry.available(settings.models_dir):
            mix = card.training.get("human_labels")
            human = (
                f"{mix.get('rows', 0)} human labels" if isinstance(mix, dict) else "no human labels"
            )
            _out(
                f"{card.version:<16} {roles.get(card.version, '-'):<9} {card.created_at}  "
                f"{card.training.get('rows', '?')} rows, {human}"
            )
        for activation in model_registry.history(engine, limit=10):
            _out(
                f"  {activation.activated_at.isoformat(timespec='seconds')} "
                f"{activation.role.value} -> {activation.version or '(off)'} "
                f"by {activation.actor}"
            )
    finally:
        engine.dispose()
    return 0


def activate_model(args: argparse.Namespace) -> ExitCode:
    versions = _registry().activate(args.version, args.actor)
    _out(
        f"champion {versions.champion} (shadow {versions.shadow or 'off'}); every API process "
        f"switches within {get_settings().model_refresh_s:g} s"
    )
    return 0


def set_shadow(args: argparse.Namespace) -> ExitCode:
    versions = _registry().set_shadow(None if args.off else args.version, args.actor)
    _out(f"champion {versions.champion}, shadow {versions.shadow or 'off'}")
    return 0


def shadow_report(args: argparse.Namespace) -> ExitCode:
    from service.database import create_engine
    from service.report import parse_period
    from service.shadow_report import challengers
    from service.shadow_report import shadow_report as compare

    period = parse_period(args.period, args.start, args.end)
    start = dt.datetime.combine(period.start, dt.time(), dt.UTC)
    end = dt.datetime.combine(period.end, dt.time(), dt.UTC)
    engine = create_engine(get_settings().effective_database_url())
    try:
        challenger = args.challenger
        if challenger is None:
            found = challengers(engine, start, end)
            if not found:
                raise InvalidRequestError(f"no shadow scores in {period.name}")
            challenger = found[0]
        comparison = compare(engine, start, end, challenger)
    finally:
        engine.dispose()
    if args.json:
        _out(json.dumps({"period": period.name, **comparison.to_json()}, indent=2))
    else:
        sys.stdout.write(f"{period.name}: " + comparison.to_text())
    return 0
