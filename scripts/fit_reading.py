"""Fit `answer.SHORT_OF_ANSWER`: when to stop reading candidates (a calibration, run by hand; not a test).

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
with the right sentence within `--loss` of reading every candidate, in every slice. The test
articles' figures are printed beside, for the record (docs/quality.md#short_of_answer).
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

MARGINS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 8.0, math.inf)
STAGES = (FIRST_READ, 1)  # fitted in this order: the later stage, then the first candidate alone


class Recorded:
    """A reader that answers with the logits a question's row recorded (candidate i's text is "i")."""

    def __init__(self, logits: list[float]) -> None:
        self.logits, self.read = logits, 0

    def score(self, question: str, candidates: list[tuple[str, str]]) -> np.ndarray:
        self.read += len(candidates)
        return np.array([self.logits[int(text)] for _, text in candidates], dtype=np.float32)


def replay(row: dict[str, Any], margins: dict[int, float], threshold: float) -> tuple[bool, bool, int]:
    """(answered, the sentence chosen holds the answer, sentences read) for one question."""
    listed = row["candidates"]
    model = reader_model(row["language"], row["same_language"])
    ranked = [Candidate(c["score"], 0, 0, 1, str(i), "") for i, c in enumerate(listed)]
    recorded = Recorded([c["logit"] for c in listed])
    needed = model.verdict_needed(row["z"], threshold)
    chosen, verdict, _ = read(recorded, "", ranked, needed, margins)  # type: ignore[arg-type]
    answered = model.confidence(row["z"], verdict) >= threshold
    return answered, bool(listed[int(chosen.text)]["holds"]), recorded.read


def figures(rows: list[dict[str, Any]], margins: dict[int, float], threshold: float) -> dict[str, dict[str, float]]:
    """Per split and slice: answerable questions answered with the right sentence, unanswerable
    ones declined, and sentences read per question."""
    out: dict[str, dict[str, float]] = {}
    for split in ("train", "test"):
        for name in sorted({r["slice"] for r in rows}):
            mine = [r for r in rows if r["split"] == split and r["slice"] == name and r["candidates"]]
            played = [(r["kind"], *replay(r, margins, threshold)) for r in mine]
            right = [a and h for k, a, h, _ in played if k in ("full", "ans")]
            declined = [not a for k, a, _, _ in played if k in ("held", "near")]
            out[f"{split} {name}"] = {
                "answered right": float(np.mean(right)),
                "declined": float(np.mean(declined)),
                "read": float(np.mean([n for *_, n in played])),
                "read when declined": float(np.mean([n for k, a, _, n in played if k in ("held", "near")])),
            }
    return out


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
            for key, values in result.items():
                was = reference[key]
                print(
                    f"  {key:<13} answered right {values['answered right']:.4f} ({was['answered right']:.4f}), "
                    f"declined {values['declined']:.3f} ({was['declined']:.3f}), read {values['read']:.2f} "
                    f"({was['read']:.2f}), when declined {values['read when declined']:.2f}"
                )
            lost = max(
                reference[k]["answered right"] - v["answered right"] for k, v in result.items() if k[:5] == "train"
            )
            if lost <= args.loss:
                kept[stage] = margin
                break
    print(
        f"SHORT_OF_ANSWER = {dict(sorted(kept.items()))}  # the smallest margins losing at most {args.loss} "
        "answered right on train articles"
    )


if __name__ == "__main__":
    main()
