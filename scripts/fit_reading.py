"""Fit `answer.SHORT_OF_ANSWER` and `answer.OUT_OF_REACH`: when to stop reading candidates, and when
not to read at all (a calibration, run by hand; not a test).

    python scripts/fit_reading.py ROWS [--loss 0.005]

ROWS is the observations file of `python scripts/reader_bound.py --rows ROWS`: for each
question (train and test articles; answerable on the full index, answerable, held-out and
near-topic on the abstention indexes), the retrieval logit and the reader's logits for its first
8 candidate sentences. This replays the product's `answer.read` on them, with the reader's
logits taken from the file: candidates are read in stages (the first alone, then up to
`FIRST_READ`, then the rest), and reading stops after a stage whose best verdict falls more
than that stage's margin below the verdict the answer needs
(`abstention.ReaderModel.verdict_needed` at the shipped threshold). Stopping early can only
decline a question the other candidates would have answered, so each stage's margin, the
later stage first, is the smallest that keeps the answerable train-article questions answered
with the right sentence within `--loss` of reading every candidate, in every slice.

Then the question that is not read at all: when the verdict needed is above `OUT_OF_REACH`,
it is declined unread and scored as if the reader had said `UNREAD_VERDICT`, the median best
verdict of the train-article questions beyond that point when they are read. `OUT_OF_REACH`
is the smallest value that loses at most `--loss` answered right and lowers no train slice's
AUROC (answerable against held-out questions, three decimals) against reading them. The test
articles' figures are printed beside, for the record (docs/quality.md#short_of_answer,
docs/quality.md#out_of_reach).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answering.abstention import reader_model
from assistant.answering.answer import FIRST_READ, Candidate, read
from assistant.config import Settings
from assistant.evaluation.benchmark import auroc

MARGINS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 8.0, math.inf)
STAGES = (FIRST_READ, 1)  # fitted in this order: the later stage, then the first candidate alone
NOT_CUT = (math.inf, 0.0)  # (out of reach, unread verdict): every question read
REACHES = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 8.0, math.inf)


class Recorded:
    """A reader that answers with the logits a question's row recorded (candidate i's text is "i")."""

    def __init__(self, logits: list[float]) -> None:
        self.logits, self.read = logits, 0

    def score(self, question: str, candidates: list[tuple[str, str]]) -> np.ndarray:
        self.read += len(candidates)
        return np.array([self.logits[int(text)] for _, text in candidates], dtype=np.float32)


def replay(
    row: dict[str, Any], margins: dict[int, float], threshold: float, reach: tuple[float, float] = NOT_CUT
) -> tuple[bool, bool, int, float, float]:
    """(answered, the sentence chosen holds the answer, sentences read, confidence, verdict) for
    one question; `reach`: (out of reach, the verdict an unread question is scored on)."""
    listed = row["candidates"]
    model = reader_model(row["language"], row["same_language"])
    ranked = [Candidate(c["score"], 0, 0, 1, str(i), "") for i, c in enumerate(listed)]
    recorded = Recorded([c["logit"] for c in listed])
    needed = model.verdict_needed(row["z"], threshold)
    chosen, verdict, _ = read(recorded, "", ranked, needed, margins, reach[0])  # type: ignore[arg-type]
    if not recorded.read:
        verdict = min(reach[1], reach[0])  # as read() bounds it: below the verdict needed
    confidence = model.confidence(row["z"], verdict)
    return confidence >= threshold, bool(listed[int(chosen.text)]["holds"]), recorded.read, confidence, verdict


def figures(
    rows: list[dict[str, Any]], margins: dict[int, float], threshold: float, reach: tuple[float, float] = NOT_CUT
) -> dict[str, dict[str, float]]:
    """Per split and slice: answerable questions answered with the right sentence, unanswerable
    ones declined, answerable against held-out questions by confidence (AUROC), and sentences
    read per question."""
    out: dict[str, dict[str, float]] = {}
    for split in ("train", "test"):
        for name in sorted({r["slice"] for r in rows}):
            mine = [r for r in rows if r["split"] == split and r["slice"] == name and r["candidates"]]
            played = [(r["kind"], *replay(r, margins, threshold, reach)) for r in mine]
            right = [a and h for k, a, h, *_ in played if k in ("full", "ans")]
            confidence = {kind: [c for k, *_, c, _ in played if k == kind] for kind in ("ans", "held")}
            declined = [not a for k, a, *_ in played if k in ("held", "near")]
            out[f"{split} {name}"] = {
                "answered right": float(np.mean(right)),
                "declined": float(np.mean(declined)),
                "auroc": auroc(confidence["ans"], confidence["held"]),
                "read": float(np.mean([n for k, _, _, n, *_ in played])),
                "read when declined": float(np.mean([n for k, a, _, n, *_ in played if k in ("held", "near")])),
            }
    return out


def unread_verdict(rows: list[dict[str, Any]], margins: dict[int, float], threshold: float, reach: float) -> float:
    """The median best verdict, when read, of the train-article questions that need one above `reach`."""
    far = [
        replay(r, margins, threshold)[4]
        for r in rows
        if r["split"] == "train"
        and r["candidates"]
        and reader_model(r["language"], r["same_language"]).verdict_needed(r["z"], threshold) > reach
    ]
    return round(float(np.median(far)), 2) if far else 0.0


def show(result: dict[str, dict[str, float]], reference: dict[str, dict[str, float]]) -> None:
    for key, values in result.items():
        was = reference[key]
        print(
            f"  {key:<13} answered right {values['answered right']:.4f} ({was['answered right']:.4f}), "
            f"declined {values['declined']:.3f} ({was['declined']:.3f}), AUROC {values['auroc']:.3f} "
            f"({was['auroc']:.3f}), read {values['read']:.2f} ({was['read']:.2f}), "
            f"when declined {values['read when declined']:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=Path)
    parser.add_argument("--loss", type=float, default=0.005)
    args = parser.parse_args()
    rows = json.loads(args.rows.read_text(encoding="utf-8"))
    threshold = Settings().abstain_below
    reference = figures(rows, {}, threshold)  # every candidate read unless one convinces
    kept: dict[int, float] = {}
    for stage in STAGES:
        for margin in MARGINS:
            result = figures(rows, {**kept, stage: margin}, threshold)
            print(f"after {stage} read, margin {margin}:")
            show(result, reference)
            if lost(result, reference) <= args.loss:
                kept[stage] = margin
                break
    print(
        f"SHORT_OF_ANSWER = {dict(sorted(kept.items()))}  # the smallest margins losing at most {args.loss} "
        "answered right on train articles"
    )
    staged = figures(rows, kept, threshold)
    for reach in REACHES:
        unread = unread_verdict(rows, kept, threshold, reach)
        result = figures(rows, kept, threshold, (reach, unread))
        print(f"nothing read above {reach}, scored as {unread}:")
        show(result, staged)
        ranks_worse = any(
            round(v["auroc"], 3) < round(staged[k]["auroc"], 3) for k, v in result.items() if k[:5] == "train"
        )
        if lost(result, staged) <= args.loss and not ranks_worse:
            print(f"OUT_OF_REACH = {reach}\nUNREAD_VERDICT = {unread}")
            break


def lost(result: dict[str, dict[str, float]], reference: dict[str, dict[str, float]]) -> float:
    """The most answered right that a train slice loses against `reference`."""
    return max(reference[k]["answered right"] - v["answered right"] for k, v in result.items() if k[:5] == "train")


if __name__ == "__main__":
    main()
