"""``make demo``: score a few videos with the committed model and show the evidence."""

from __future__ import annotations

import sys

from classifier import OnnxScorer, TranscriptSegment, Video, active_version
from service.settings import PROJECT_ROOT

DEMO_VIDEOS = {
    "cooking": Video(
        title="Chicken karahi in 20 minutes",
        description="Mama's recipe, Lahore style",
        hashtags=("#PakistaniFood", "#Karahi"),
        transcript="today we make chicken karahi with fresh tomatoes green chillies and ginger",
    ),
    "giveaway scam": Video(
        title="FREE iPhone giveaway!!!",
        description="Click the link in bio to claim your prize, send your number",
        hashtags=("#Giveaway", "#FreeiPhone"),
        transcript=(
            TranscriptSegment(0.0, 5.0, "hi everyone welcome back to the channel"),
            TranscriptSegment(5.0, 11.0, "you have won a free prize, text WIN to 80082 now"),
        ),
    ),
    "covid claim": Video(
        title="The truth they hide",
        transcript="garlic water cures covid in two days, the vaccine has a microchip",
    ),
    "roman urdu abuse": Video(
        title="Reply to haters",
        transcript=(
            TranscriptSegment(0.0, 3.0, "sab ko salam"),
            TranscriptSegment(
                3.0, 7.0, "tu bohat ganda kameena insaan hai chup kar ullu ke pathay"
            ),
        ),
    ),
}


def main() -> int:
    models = PROJECT_ROOT / "models"
    scorer = OnnxScorer.from_dir(models / active_version(models))
    out = sys.stdout
    out.write(f"model {scorer.version}; thresholds from its card (remove / review)\n\n")
    for name, result in zip(
        DEMO_VIDEOS, scorer.score_videos(list(DEMO_VIDEOS.values())), strict=True
    ):
        out.write(f"{name}\n")
        for label, score in result.scores.items():
            t = scorer.card.thresholds[label]
            flag = (
                "REMOVE" if t.remove is not None and score >= t.remove
                else "review" if t.review is not None and score >= t.review
                else ""
            )  # fmt: skip
            evidence = result.evidence[label]
            where = evidence.field
            if evidence.start_s is not None:
                where += f" {evidence.start_s:.1f}-{evidence.end_s:.1f}s"
            out.write(f"  {label:<15} {score:6.3f} {flag:<6} [{where}] {evidence.text[:60]!r}\n")
        out.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
