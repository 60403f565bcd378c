"""How far can the abstention decision go with the answer reader as it is? (a measurement; not a test)

    python scripts/reader_bound.py [--read 4,8] [--json artifacts/reader_bound.json]

Asks, through the real search and the real reader, the calibration questions of
`scripts/fit_abstention.py --reader` (train articles: answerable, held-out, near-topic) and the
questions `assistant eval` reports (test articles, seed 0), keeping for each the retrieval
signals and the reader's logits for the first 8 candidate sentences. Then, per slice and per
number of candidates read, a logistic model on the train articles combines either the two
numbers the product uses (retrieval logit, reader verdict) or those plus the reader's margin
over its second best, the mean of its two best, the log-sum-exp of its logits and the four
retrieval signals, and reports on the test articles:

- `oracle`: the share of near-topic (and held-out) questions abstained on when the threshold is
  set on the test questions themselves so that exactly 95% of the answerable ones are answered:
  a ceiling for any calibration of these features, not a figure the product can claim;
- `calibrated`: answered and near-topic abstained with the threshold fitted on train articles.

About 35 minutes on 2 cores (the benchmark's passage vectors come from `assistant eval`'s cache);
`--rows FILE` keeps the observations, and a second run with the same FILE only refits.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from assistant.answering.abstention import CROSS_LANGUAGE, SAME_LANGUAGE, signals
from assistant.answering.answer import candidates, choose
from assistant.config import Settings
from assistant.evaluation.data import (
    ABSTENTION_QUESTIONS,
    REPORTED_SEED,
    SLICES,
    Question,
    abstention_corpus,
    contains,
    draw,
    load_benchmark,
    write_corpus,
)
from assistant.serving.assistant import Assistant
from assistant.text.question import AnalysedQuestion

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration import EVAL, ROOT, eval_embedder, train_draw

KEPT = 8  # candidates whose reader logits are kept per question
TRAIN_ANSWERABLE = 300  # per slice, asked of the full index (the "answered" questions of train articles)


def observe(assistant: Assistant, question: Question, kind: str) -> dict[str, Any]:
    store = assistant.store()
    found = assistant.evidence(store, question.text, 10)
    vector = assistant.embedder.encode_queries([found.query.text])[0]
    asked = AnalysedQuestion.of(question.text, found.query.language)
    ranked = candidates(store, found.hits, vector, asked)[:KEPT]
    reader = assistant.reader
    assert reader is not None, "the reader is off (ASSISTANT_READER=false)"
    logits = reader.score(question.text, [(c.title, c.text) for c in ranked])
    same = found.hits[0].passage.language == found.query.language
    sig = signals(found.hits, store.lexical, found.query)
    return {
        "slice": question.slice,
        "kind": kind,  # full (answerable, full index), ans, held, near (abstention index)
        "z": (SAME_LANGUAGE if same else CROSS_LANGUAGE).logit(sig),
        "same_language": same,
        "language": found.query.language,
        "signals": sig.as_list(),
        "candidates": [
            {"score": c.score, "logit": float(v), "holds": contains(c.text, question.answers)}
            for c, v in zip(ranked, logits, strict=True)
        ],
    }


def collect(settings: Settings, eval_dir: Path) -> list[dict[str, Any]]:
    bench = load_benchmark(eval_dir)
    embedder = eval_embedder(settings)
    names = tuple(SLICES)
    # the calibration draw of scripts/fit_abstention.py --reader
    removed_train, sample, near_topic = train_draw(bench, random.Random(1), 500, names)
    train = [(q, "ans" if ok else "held") for q, ok in sample]
    train += [(q, "near") for q in near_topic]
    pick = random.Random(7)
    train_full = [q for n in names for q in pick.sample([q for q in bench.questions[n] if q.train], TRAIN_ANSWERABLE)]
    drawn = draw(bench, REPORTED_SEED, SLICES, ABSTENTION_QUESTIONS)
    test = [(q, "ans" if ok else "held") for q, ok in drawn.abstention]
    test += [(q, "ans" if ok else "held") for sample in drawn.abstention_cross.values() for q, ok in sample]
    test += [(q, "near") for qs in drawn.near_topic.values() for q in qs]
    test_full = [q for qs in drawn.slices.values() for q in qs]
    rows: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp())
    try:
        indexes = [
            (
                "full",
                bench.documents,
                [(q, "full", "train") for q in train_full] + [(q, "full", "test") for q in test_full],
            ),
            ("train", abstention_corpus(bench, removed_train), [(q, k, "train") for q, k in train]),
            ("test", abstention_corpus(bench, drawn.removed), [(q, k, "test") for q, k in test]),
        ]
        for name, documents, questions in indexes:
            write_corpus(work / name, documents)
            assistant = Assistant(
                settings.model_copy(update={"corpus": work / name, "index": work / f"{name}-index"}), embedder
            )
            assistant.build(progress=False)
            for q, kind, split in questions:
                rows.append({**observe(assistant, q, kind), "split": split})
            print(f"{name} index: {len(questions)} questions", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        embedder.close()
    return rows


def features(row: dict[str, Any], read: int, rich: bool) -> tuple[list[float], bool]:
    """The decision's inputs when the reader reads `read` candidates, and whether the sentence
    chosen (by `answer.choose`) holds the answer."""
    read_ = row["candidates"][:read]
    logits = np.array([c["logit"] for c in read_])
    chosen = choose(logits, np.array([c["score"] for c in read_]))
    x = [row["z"], float(logits[chosen])]
    if rich:
        best = np.sort(logits)[::-1]
        second = best[1] if len(best) > 1 else best[0] - 5.0
        x += [float(best[0] - second), float(best[:2].mean()), float(np.log(np.exp(logits).sum())), *row["signals"]]
    return x, bool(read_[chosen]["holds"])


def bound(rows: list[dict[str, Any]], read: int, rich: bool) -> dict[str, Any]:
    out = {}
    for name in SLICES:
        mine = [r for r in rows if r["slice"] == name and r["candidates"]]

        def part(split: str, kind: str, mine: list[dict[str, Any]] = mine) -> tuple[np.ndarray, np.ndarray]:
            chosen = [features(r, read, rich) for r in mine if r["split"] == split and r["kind"] == kind]
            return np.array([x for x, _ in chosen]), np.array([h for _, h in chosen])

        fit = [part("train", k)[0] for k in ("ans", "held", "near")]
        labels = np.r_[np.ones(len(fit[0])), np.zeros(len(fit[1]) + len(fit[2]))]
        model = LogisticRegression(C=100, max_iter=10_000).fit(np.vstack(fit), labels)
        score = model.decision_function
        answerable, holds = part("test", "full")
        near, held = score(part("test", "near")[0]), score(part("test", "held")[0])
        oracle = float(np.quantile(score(answerable), 0.05))
        calibrated = float(np.quantile(score(part("train", "full")[0]), 0.05))
        answered = score(answerable) >= calibrated
        out[name] = {
            "oracle_near_topic_abstained": round(float((near < oracle).mean()), 3),
            "oracle_held_out_abstained": round(float((held < oracle).mean()), 3),
            "calibrated_answered": round(float(answered.mean()), 3),
            "calibrated_near_topic_abstained": round(float((near < calibrated).mean()), 3),
            "calibrated_answer_sentence": round(float((answered & holds).mean()), 3),
            "near_topic_questions": len(near),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--read", default="4,8", help="numbers of candidates the reader reads (at most 8)")
    parser.add_argument("--rows", type=Path, help="reuse the questions' observations saved by an earlier run")
    parser.add_argument("--json", type=Path, default=ROOT / "artifacts" / "reader_bound.json")
    args = parser.parse_args()
    if args.rows and args.rows.is_file():
        rows = json.loads(args.rows.read_text(encoding="utf-8"))
    else:
        rows = collect(Settings(), args.eval_dir)
        if args.rows:
            args.rows.write_text(json.dumps(rows), encoding="utf-8")
    result = {}
    for read in (int(n) for n in args.read.split(",")):
        for rich in (False, True):
            label = f"read {read}, {'retrieval signals + reader logits' if rich else 'retrieval logit + verdict'}"
            result[label] = bound(rows, read, rich)
            print(label)
            for name, figures in result[label].items():
                print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
