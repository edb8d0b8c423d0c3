"""The whole model lifecycle in one run: train, promote, feed human decisions, retrain with
them, run the new version in shadow, compare, promote the better one.

    .venv/bin/python bench/model_loop.py [--wave 1500] [--audit-share 0.05]
        [--human-weight 5] [--data PATH] [--json]

What runs, all real: the labeled data is split (seeded) into a base part and unseen traffic.
Version loop-1 is trained on the base part and promoted through the API of a `mizan serve`
(two workers, its own redis-server, a SQLite file). A first wave of traffic (each text a
video's description) is scored; then people act as the labels say, through the HTTP API:
moderators work the review queue, users report live violations (which moderators then
review), creators appeal removals (every wrongful one, a third of the rightful ones) and appeals
reviewers decide, auditors decide the sampled audits. `mizan export-labels` turns those
decisions into training rows; loop-2 is trained on the base part plus them, set to shadow, and
a second wave is scored and worked the same way. `mizan shadow-report` compares the two on
that wave; the one with the higher F1 of flags (removal or review) on the items people
decided is promoted, and a last small wave shows every process serving it.

The traffic's own labels also give each version's metrics on all of the second wave, which
production never has; they are printed beside the shadow report's to show how far the
human-decided sample can be trusted.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fault_load import sandbox
from classifier.dataset import Example, load_examples
from classifier.train import REFERENCE_LABELS, TrainingConfig, save, train
from service.settings import default_data_dir
from tests.service.served import CLI, served

BATCH = 64
SHADOW_ARGS = ("--challenger", "loop-2", "--json")
TODAY = time.strftime("%Y-%m-%d", time.gmtime())  # the run's decisions are all of today


@dataclass
class Humans:
    """What people did in one wave, by kind."""

    reviews: int = 0
    reports: int = 0
    appeals: int = 0
    restored: int = 0
    audits: int = 0
    overturned: int = 0
    actions: dict[str, int] = field(default_factory=dict)


def truth_label(example: Example) -> str | None:
    """The label people would name: the most severe the example carries."""
    return next((label for label in REFERENCE_LABELS if label in example.labels), None)


def write(examples: Sequence[Example], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as sink:
        for e in examples:
            row = {"id": e.id, "text": e.text, "labels": list(e.labels), "lang": e.lang}
            sink.write(json.dumps({**row, "source": e.source}, ensure_ascii=False) + "\n")
    return path


def fit(base: Path, version: str, models: Path, human: Sequence[Path], weight: float) -> float:
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trained = train(base, TrainingConfig(human_weight=weight), version, human)
    save(trained, models)
    return time.perf_counter() - started


class Platform:
    """The people and the upload pipeline, through the HTTP API."""

    def __init__(self, base: str, keys: dict[str, str], seed: int) -> None:
        self.http = {
            role: httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120
            )
            for role, key in keys.items()
        }
        self.truth: dict[str, Example] = {}
        self.rng = random.Random(seed)

    def close(self) -> None:
        for client in self.http.values():
            client.close()

    def upload(self, wave: str, examples: Sequence[Example]) -> dict[str, dict[str, Any]]:
        decided: dict[str, dict[str, Any]] = {}
        for begin in range(0, len(examples), BATCH):
            videos = []
            for n, example in enumerate(examples[begin : begin + BATCH], start=begin):
                video_id = f"{wave}-{n}"
                self.truth[video_id] = example
                videos.append(
                    {
                        "video_id": video_id,
                        "creator_id": f"creator-{n % 500}",
                        "region": "PK",
                        "uploaded_at": "2026-11-29T10:00:00+05:00",
                        "description": example.text,
                    }
                )
            answer = self.http["uploader"].post("/v1/videos/score-batch", json={"videos": videos})
            answer.raise_for_status()
            for decision in answer.json()["decisions"]:
                decided[decision["video_id"]] = decision
        return decided

    def work(self, decided: dict[str, dict[str, Any]]) -> Humans:
        humans = Humans()
        for decision in decided.values():
            humans.actions[decision["action"]] = humans.actions.get(decision["action"], 0) + 1
        self._review(humans)
        for video_id, decision in decided.items():  # users report half the live violations
            missed = decision["action"] == "allow" and self.truth[video_id].labels
            if missed and self.rng.random() < 0.5:
                body = {"reason": "breaks the rules", "reporter_id": f"user-{video_id}"}
                self.http["uploader"].post(f"/v1/videos/{video_id}/reports", json=body)
                humans.reports += 1
        self._review(humans)
        self._appeal(decided, humans)
        self._audit(humans)
        return humans

    def _review(self, humans: Humans) -> None:
        moderator = self.http["moderator"]
        while (claimed := moderator.post("/v1/review/claim")).status_code == 200:
            item = claimed.json()["item"]
            label = truth_label(self.truth[item["video_id"]])
            body = {"verdict": "remove", "label": label} if label else {"verdict": "approve"}
            moderator.post(f"/v1/review/items/{item['item_id']}/decision", json=body)
            humans.reviews += 1

    def _appeal(self, decided: dict[str, dict[str, Any]], humans: Humans) -> None:
        for video_id, decision in decided.items():
            rightful = bool(self.truth[video_id].labels)
            if decision["action"] == "remove" and (not rightful or self.rng.random() < 1 / 3):
                self.http["uploader"].post(
                    f"/v1/videos/{video_id}/appeals", json={"statement": "please look again"}
                )
                humans.appeals += 1
        reviewer = self.http["appeals_reviewer"]
        while (claimed := reviewer.post("/v1/appeals/claim")).status_code == 200:
            appeal = claimed.json()["appeal"]
            restore = not self.truth[appeal["video_id"]].labels
            verdict = {"verdict": "restore" if restore else "uphold"}
            reviewer.post(f"/v1/appeals/{appeal['appeal_id']}/decision", json=verdict)
            humans.restored += restore

    def _audit(self, humans: Humans) -> None:
        auditor = self.http["auditor"]
        while (claimed := auditor.post("/v1/audits/claim")).status_code == 200:
            audit = claimed.json()["audit"]
            label = truth_label(self.truth[audit["video_id"]])
            removed = audit["audited_action"] == "remove"
            right = (label is not None) == removed
            body: dict[str, object] = {"verdict": "confirm" if right else "overturn"}
            if not right and not removed:
                body["label"] = label
            auditor.post(f"/v1/audits/{audit['audit_id']}/decision", json=body)
            humans.audits += 1
            humans.overturned += not right


def true_quality(rows: Iterator[tuple[str, bool]]) -> dict[str, float | None]:
    """Precision and recall of flags (remove or review) against the data's own labels."""
    pairs = list(rows)
    flagged = [violation for action, violation in pairs if action != "allow"]
    violations = sum(violation for _, violation in pairs)
    hits = sum(flagged)
    precision = hits / len(flagged) if flagged else None
    recall = hits / violations if violations else None
    return {"flag_precision": precision, "flag_recall": recall, "flag_f1": f1(precision, recall)}


def f1(precision: float | None, recall: float | None) -> float | None:
    if not precision or not recall:
        return None
    return 2 * precision * recall / (precision + recall)


def run(args: argparse.Namespace) -> dict[str, Any]:
    examples = load_examples(args.data)
    random.Random(args.seed).shuffle(examples)
    traffic_size = 2 * args.wave + 200
    base_examples, traffic = examples[traffic_size:], examples[:traffic_size]
    waves = [traffic[: args.wave], traffic[args.wave : 2 * args.wave], traffic[2 * args.wave :]]
    figures: dict[str, Any] = {"wave": args.wave, "audit_share": args.audit_share}
    with sandbox("mizan-loop-", None) as (folder, database_url, redis, _receiver):
        models = folder / "models"
        models.mkdir()
        base = write(base_examples, folder / "base.jsonl")
        figures["train_1_s"] = round(fit(base, "loop-1", models, [], args.human_weight), 1)
        with served(
            folder,
            redis.url,
            2,
            log=folder / "serve.log",
            database_url=database_url,
            models_dir=str(models),
            audit_share=str(args.audit_share),
            model_refresh_s="1",
        ) as server:
            keys = {
                "uploader": server.create_key("uploader"),
                "moderator": server.create_key("moderator", name="moderator"),
                "auditor": server.create_key("moderator", name="auditor"),
                "appeals_reviewer": server.create_key("appeals_reviewer"),
                "admin": server.create_key("admin"),
            }
            platform = Platform(server.base, keys, args.seed)
            admin = platform.http["admin"]
            try:
                admin.post("/v1/models/loop-1/activate").raise_for_status()
                first = platform.upload("w1", waves[0])
                figures["wave_1"] = vars(platform.work(first))
                human = folder / "human.jsonl"
                exported = subprocess.run(
                    [*CLI, "export-labels", "--out", str(human)],
                    env=server.env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                figures["exported"] = exported.stderr.strip()
                figures["train_2_s"] = round(
                    fit(base, "loop-2", models, [human], args.human_weight), 1
                )
                figures["loop_2_mix"] = json.loads(
                    (models / "loop-2" / "card.json").read_text(encoding="utf-8")
                )["training"]["human_labels"]
                admin.post("/v1/models/loop-2/shadow").raise_for_status()
                time.sleep(2)  # both workers pick the shadow up (refresh every second)
                second = platform.upload("w2", waves[1])
                figures["wave_2"] = vars(platform.work(second))
                compared = subprocess.run(
                    [*CLI, "shadow-report", "--from", TODAY, "--to", TODAY, *SHADOW_ARGS],
                    env=server.env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                shadow = json.loads(compared.stdout)
                figures["shadow_report"] = shadow
                figures["truth_wave_2"] = truth_on_wave(server.env, platform)
                quality = shadow["quality"]
                scores = {
                    name: f1(quality[name]["flag_precision"], quality[name]["flag_recall"]) or 0.0
                    for name in ("champion", "challenger")
                }
                winner = "loop-2" if scores["challenger"] > scores["champion"] else "loop-1"
                figures["flag_f1_human_decided"] = scores
                figures["promoted"] = winner
                admin.post(f"/v1/models/{winner}/activate").raise_for_status()
                time.sleep(2)
                last = platform.upload("w3", waves[2])
                figures["wave_3_versions"] = sorted({d["model_version"] for d in last.values()})
                figures["models"] = admin.get("/v1/models").json()["history"]
            finally:
                platform.close()
            figures["audits"] = enforcement_audits(server.env)
    return figures


def truth_on_wave(env: dict[str, str], platform: Platform) -> dict[str, Any]:
    """Both versions' flags on every wave-2 video against the data's labels."""
    import sqlalchemy as sa

    from service.tables import decisions, shadow_scores

    engine = sa.create_engine(env["MIZAN_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            rows = list(
                connection.execute(
                    sa.select(
                        decisions.c.video_id, decisions.c.action, shadow_scores.c.action
                    ).join(shadow_scores, shadow_scores.c.decision_id == decisions.c.decision_id)
                )
            )
    finally:
        engine.dispose()
    truth = {row[0]: bool(platform.truth[row[0]].labels) for row in rows}
    return {
        "videos": len(rows),
        "champion": true_quality((row[1], truth[row[0]]) for row in rows),
        "challenger": true_quality((row[2], truth[row[0]]) for row in rows),
    }


def enforcement_audits(env: dict[str, str]) -> Any:
    done = subprocess.run(
        [*CLI, "report", "--from", TODAY, "--to", TODAY],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)["audits"]


def print_table(figures: dict[str, Any]) -> None:
    shadow = figures["shadow_report"]
    out = sys.stdout.write
    out(f"waves of {figures['wave']} videos; audit share {figures['audit_share']:.0%}\n")
    out(f"loop-1 trained in {figures['train_1_s']} s, promoted\n")
    for wave in ("wave_1", "wave_2"):
        out(f"{wave}: {figures[wave]}\n")
    out(f"export-labels: {figures['exported']}\n")
    mix = figures["loop_2_mix"]
    out(
        f"loop-2 trained in {figures['train_2_s']} s with {mix['rows']} human labels "
        f"({mix['violations']} violations, {mix['benign']} benign, weight {mix['weight']})\n"
    )
    out(
        f"shadow on wave 2: {shadow['videos']} videos, agreement {shadow['agreement']:.1%}, "
        f"would remove {shadow['would_remove']}\n"
    )
    out(f"on the {shadow['human_decided']} items people decided:\n")
    for name in ("champion", "challenger"):
        out(f"  {name:<10} {shadow['quality'][name]}\n")
    out(f"against the data's labels, all of wave 2: {figures['truth_wave_2']}\n")
    out(f"flag F1 on human-decided items: {figures['flag_f1_human_decided']}\n")
    out(f"promoted {figures['promoted']}; wave 3 scored by {figures['wave_3_versions']}\n")
    out(f"audits: {json.dumps(figures['audits'])}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir() / "train.jsonl")
    parser.add_argument("--wave", type=int, default=1500, help="videos per wave")
    parser.add_argument("--audit-share", type=float, default=0.05)
    parser.add_argument("--human-weight", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args)
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
    else:
        print_table(figures)


if __name__ == "__main__":
    main()
