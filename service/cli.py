"""The ``mizan`` command: one entry point, one subcommand per job.

Exit codes: 0 ok, 1 failure, 2 usage (argparse's own).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from classifier import ClassifierError, OnnxScorer, video_from_json
from service import cli_models, cli_reports, logs
from service.domain import Role
from service.errors import ServiceError
from service.keys import KeyStore
from service.settings import PROJECT_ROOT, Settings, default_data_dir, get_settings

ExitCode = int
Handler = Callable[[argparse.Namespace], ExitCode]
SCORE_BATCH = 256


def main(argv: Sequence[str] | None = None) -> ExitCode:
    parser = _parser()
    args = parser.parse_args(argv)
    quiet = args.quiet or args.handler is _demo  # the demo's own output is the point
    try:
        level = logging.WARNING if quiet else logs.level_from_environment()
    except ValueError as exc:
        _err(str(exc))
        return 2
    logs.configure(level)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (ClassifierError, ServiceError) as exc:
        _err(str(exc))
        return 1


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(f"mizan: {text}\n")


def run() -> None:
    """Console-script entry point."""
    raise SystemExit(main())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mizan", description=__doc__.splitlines()[0])
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    commands = parser.add_subparsers(required=True, metavar="command")

    train = commands.add_parser("train", help="train, export and calibrate a model version")
    train.add_argument(
        "--data",
        type=Path,
        default=default_data_dir() / "train.jsonl",
        help="training JSONL (default: %(default)s)",
    )
    train.add_argument("--out", type=Path, default=Path("models"), help="models folder")
    train.add_argument("--version", required=True, help="version name, e.g. 1.0.0")
    train.add_argument("--seed", type=int, help="split and solver seed (default: 20231)")
    train.add_argument(
        "--validation-share",
        type=float,
        help="share of the file held out for calibration (default: 0.15)",
    )
    train.add_argument(
        "--min-df",
        type=int,
        default=None,
        help="minimum document frequency of an n-gram (default: 2 words, 3 chars)",
    )
    train.add_argument(
        "--human-labels",
        type=Path,
        action="append",
        default=[],
        help="a `mizan export-labels` file to add (repeatable); the card records the mix",
    )
    train.add_argument(
        "--human-weight",
        type=float,
        help="weight of a human-labeled row against an original one (default: 1)",
    )
    train.add_argument(
        "--activate",
        action="store_true",
        help="write it to models/ACTIVE, the champion until the first `mizan models activate` "
        "(the first version always is)",
    )
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="metrics per label and language on a file")
    evaluate.add_argument("--model", type=Path, required=True, help="models/<version>")
    evaluate.add_argument("--data", type=Path, required=True, help="labeled JSONL")
    evaluate.add_argument(
        "--split",
        choices=("all", "validation"),
        default="all",
        help="'validation': only the split the card's metrics come from",
    )
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.set_defaults(handler=_evaluate)

    serve = commands.add_parser("serve", help="run the API (uvicorn); settings from MIZAN_* env")
    serve.add_argument("--host", help="default 127.0.0.1 (MIZAN_HOST)")
    serve.add_argument("--port", type=int, help="default 8000 (MIZAN_PORT)")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (MIZAN_WORKERS)")
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser(
        "worker", help="run the RQ worker: webhooks, lease sweep, reconcile (MIZAN_REDIS_URL)"
    )
    worker.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    worker.add_argument("--no-cron", action="store_true", help="no periodic sweep/reconcile")
    worker.set_defaults(handler=_worker)

    reconcile = commands.add_parser(
        "reconcile", help="rebuild the review queues and webhook jobs in Redis from the log"
    )
    reconcile.set_defaults(handler=_reconcile)

    export_labels = commands.add_parser(
        "export-labels",
        help="human-confirmed labels (reviews, appeals) as training JSONL",
    )
    export_labels.add_argument("--out", type=Path, help="file to write (default: stdout)")
    export_labels.set_defaults(handler=cli_reports.export_labels)

    report = commands.add_parser("report", help="the enforcement report for a period")
    report.add_argument("--period", help="2023Q1 or 2023-03")
    report.add_argument("--from", dest="start", type=dt.date.fromisoformat, help="first day")
    report.add_argument("--to", dest="end", type=dt.date.fromisoformat, help="last day")
    report.add_argument("--region", help="one ISO 3166-1 alpha-2 region, e.g. PK")
    report.add_argument("--label", help="one policy label")
    report.add_argument("--format", choices=["json", "csv", "html"], default="json")
    report.add_argument("--out", type=Path, help="file to write (default: stdout)")
    report.set_defaults(handler=cli_reports.report)

    sor = commands.add_parser(
        "export-sor", help="DSA statements of reasons for a period's removals (JSON lines)"
    )
    sor.add_argument("--period", help="2023Q1 or 2023-03")
    sor.add_argument("--from", dest="start", type=dt.date.fromisoformat, help="first day")
    sor.add_argument("--to", dest="end", type=dt.date.fromisoformat, help="last day")
    sor.add_argument("--out", type=Path, help="file to write (default: stdout)")
    sor.set_defaults(handler=cli_reports.export_sor)

    simulate = commands.add_parser(
        "simulate", help="run a scenario's periods through the real use cases, then report"
    )
    simulate.add_argument(
        "--scenario",
        type=Path,
        default=PROJECT_ROOT / "scenarios" / "pk-2023q1.toml",
        help="scenario TOML (default: the Pakistan Q1 2023 scenario)",
    )
    simulate.add_argument("--scale", type=float, default=1.0, help="multiply the uploads")
    simulate.set_defaults(handler=cli_reports.simulate)

    cli_models.register(commands)

    rollups = commands.add_parser("rollups", help="the report's daily rollups")
    rollup_commands = rollups.add_subparsers(required=True, metavar="action")
    rollup_commands.add_parser("rebuild", help="recompute them from the events").set_defaults(
        handler=cli_reports.rollups_rebuild
    )

    demo = commands.add_parser("demo", help="serve on the embedded defaults and walk through it")
    demo.add_argument("--port", type=int, help="default 8000")
    demo.set_defaults(handler=_demo)

    keys = commands.add_parser("keys", help="API keys: create (shown once), list, revoke")
    key_commands = keys.add_subparsers(required=True, metavar="action")
    create = key_commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True, help="who uses it, e.g. upload-pipeline")
    create.add_argument(
        "--role",
        action="append",
        required=True,
        dest="roles",
        choices=[role.value for role in Role],
        help="repeat for several roles",
    )
    create.add_argument(
        "--languages",
        default="",
        help="comma-separated BCP 47 tags a moderator reviews, e.g. ur,ur-Latn,en",
    )
    create.set_defaults(handler=_keys_create)
    key_commands.add_parser("list", help="every key, without secrets").set_defaults(
        handler=_keys_list
    )
    revoke = key_commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=_keys_revoke)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(required=True, metavar="action")
    db_commands.add_parser("upgrade", help="apply every migration").set_defaults(
        handler=_db_upgrade
    )

    score = commands.add_parser("score", help="score JSONL lines: a text or a whole video each")
    score.add_argument("--model", type=Path, required=True, help="models/<version>")
    score.add_argument("file", type=Path, help="JSONL input, '-' for standard input")
    score.set_defaults(handler=_score)
    return parser


def _settings_from(args: argparse.Namespace) -> Settings:
    overrides = {
        name: getattr(args, name)
        for name in ("host", "port", "workers")
        if getattr(args, name, None) is not None
    }
    return get_settings().model_copy(update=overrides)


def _serve(args: argparse.Namespace) -> ExitCode:
    from service.serve import serve

    serve(_settings_from(args))
    return 0


def _demo(args: argparse.Namespace) -> ExitCode:
    from service.serve import demo

    demo(_settings_from(args))
    return 0


def _worker(args: argparse.Namespace) -> ExitCode:
    from service.worker import run

    run(get_settings(), burst=args.burst, cron=not args.no_cron)
    return 0


def _reconcile(args: argparse.Namespace) -> ExitCode:
    from service import wiring

    settings = get_settings()
    parts = wiring.build(settings, migrate_schema=settings.auto_migrate)
    try:
        report = parts.reconcile()
    finally:
        parts.close()
    _out(
        f"open review items: {report['open_items']}; restored to Redis: {report['restored']}; "
        f"moved to their priority: {report['moved']}; taken out (decided): "
        f"{report['finished']}; open appeals: {report['appeals_open']}, restored: "
        f"{report['appeals_restored']}; open audits: {report['audits_open']}, restored: "
        f"{report['audits_restored']}; webhooks enqueued again: {report['webhooks']}"
    )
    return 0


def _key_store() -> KeyStore:
    from service.database import create_engine, migrate

    settings = get_settings()
    engine = create_engine(settings.effective_database_url())
    if settings.auto_migrate:
        migrate(engine)
    return KeyStore(engine)


def _keys_create(args: argparse.Namespace) -> ExitCode:
    languages = [tag.strip() for tag in args.languages.split(",") if tag.strip()]
    key, plaintext = _key_store().create(
        args.name, [Role(role) for role in args.roles], languages, dt.datetime.now(dt.UTC)
    )
    _err(
        f"key {key.key_id} ({key.name}: {', '.join(sorted(args.roles))}); "
        "store it now, it is not shown again:"
    )
    _out(plaintext)
    return 0


def _keys_list(args: argparse.Namespace) -> ExitCode:
    for key in _key_store().list():
        state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
        roles = ",".join(sorted(role.value for role in key.roles))
        _out(
            f"{key.key_id}  {key.name:<24} {roles:<40} {','.join(key.languages) or '-':<16} {state}"
        )
    return 0


def _keys_revoke(args: argparse.Namespace) -> ExitCode:
    _key_store().revoke(args.key_id, dt.datetime.now(dt.UTC))
    _out(f"revoked {args.key_id}")
    return 0


def _db_upgrade(args: argparse.Namespace) -> ExitCode:
    from service.database import create_engine, migrate

    settings = get_settings()
    engine = create_engine(settings.effective_database_url())
    migrate(engine)
    _out(f"schema up to date on {engine.url.render_as_string(hide_password=True)}")
    return 0


def _train(args: argparse.Namespace) -> ExitCode:
    # scikit-learn is imported only by the commands that train
    from classifier.card import set_active_version
    from classifier.train import TrainingConfig, save, train

    config = TrainingConfig()
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    if args.validation_share is not None:
        config = replace(config, validation_share=args.validation_share)
    if args.min_df is not None:
        config = replace(config, word_min_df=args.min_df, char_min_df=args.min_df)
    if args.human_weight is not None:
        config = replace(config, human_weight=args.human_weight)
    trained = train(args.data, config, args.version, args.human_labels)
    folder = save(trained, args.out)
    if args.activate:
        set_active_version(args.out, args.version)
    card = trained.card
    _out(f"model {card.version} written to {folder} in {card.training['seconds']} s")
    from classifier.evaluate import format_table

    _out(format_table(card.metrics))
    return 0


def _evaluate(args: argparse.Namespace) -> ExitCode:
    from classifier.dataset import file_sha256, label_matrix, load_examples, split_examples
    from classifier.evaluate import evaluate_scores, format_table

    scorer = OnnxScorer.from_dir(args.model)
    examples = load_examples(args.data)
    if args.split == "validation":
        training = scorer.card.training
        if training.get("data_sha256") != file_sha256(args.data):
            _err("--split validation needs the file the model was trained on")
            return 1
        share, seed = training["validation_share"], training["seed"]
        assert isinstance(share, float)
        assert isinstance(seed, int)
        examples = list(split_examples(examples, share, seed).validation)
    scores = scorer.score_texts([example.text for example in examples])
    metrics = evaluate_scores(
        label_matrix(examples, scorer.labels),
        scores,
        [example.lang for example in examples],
        scorer.labels,
        scorer.card.thresholds,
    )
    if args.json:
        _out(json.dumps({"model": scorer.version, "rows": len(examples), **metrics}, indent=2))
    else:
        _out(f"model {scorer.version}, {len(examples)} rows of {args.data}")
        _out(format_table(metrics))
    return 0


def _score(args: argparse.Namespace) -> ExitCode:
    scorer = OnnxScorer.from_dir(args.model)
    if str(args.file) == "-":
        _score_lines(scorer, sys.stdin, sys.stdout)
    else:
        with args.file.open(encoding="utf-8") as source:
            _score_lines(scorer, source, sys.stdout)
    return 0


def _score_lines(scorer: OnnxScorer, source: TextIO, sink: TextIO) -> None:
    """One output line per input line, in order; a text line or a video object each."""
    for batch in _batches(source, SCORE_BATCH):
        rows = []
        for number, line in batch:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ClassifierError(f"line {number}: not JSON: {exc}") from exc
        text_rows = [i for i, row in enumerate(rows) if isinstance(row, dict) and "text" in row]
        video_rows = [i for i in range(len(rows)) if i not in set(text_rows)]
        results: dict[int, dict[str, object]] = {}
        text_scores = scorer.score_texts([str(rows[i]["text"]) for i in text_rows])
        for i, probabilities in zip(text_rows, text_scores, strict=True):
            results[i] = {
                "scores": dict(zip(scorer.labels, map(float, probabilities), strict=True))
            }
        videos = []
        for i in video_rows:
            try:
                videos.append(video_from_json(rows[i]))
            except ClassifierError as exc:
                raise ClassifierError(f"line {batch[i][0]}: {exc}") from exc
        for i, video in zip(video_rows, scorer.score_videos(videos), strict=True):
            results[i] = {
                "scores": dict(video.scores),
                "evidence": [
                    {
                        "label": e.label,
                        "field": e.field,
                        "start_s": e.start_s,
                        "end_s": e.end_s,
                        "text": e.text,
                        "score": e.score,
                    }
                    for e in video.evidence.values()
                ],
            }
        for i, row in enumerate(rows):
            identity = {
                key: row[key] for key in ("id", "video_id") if isinstance(row, dict) and key in row
            }
            out = {**identity, **results[i], "model_version": scorer.version}
            sink.write(json.dumps(out, ensure_ascii=False) + "\n")


def _batches(source: TextIO, size: int) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for number, line in enumerate(source, start=1):
        if line.strip():
            batch.append((number, line))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


if __name__ == "__main__":
    run()
