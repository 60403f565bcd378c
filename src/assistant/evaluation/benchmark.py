"""`assistant eval`: the retrieval benchmark of ../shared/eval, run through `Assistant.answer`.

Passages: every PIAF paragraph (French) and every XQuAD English paragraph, one document
each, in one index (chunked by the product's own chunker; a chunk counts as its paragraph).
Slices: fr->fr (PIAF questions), en->en, es->en and de->en (XQuAD questions whose gold is
the English paragraph). Metrics: R@1, R@5, MRR@10 of the gold paragraph, answer-sentence
accuracy (the returned sentence contains the gold answer text, the English one for the
cross-lingual slices), share answered (not abstained), latency.

Every question asked is from a *test article* (`train_article` is false): the answer reader
is trained on the other articles only, and its figures are reported where it never looked.

Abstention: a second index without half of the articles (split by a hash of the title) and
without some paragraphs of the kept test articles; questions about indexed articles, about
held-out articles, and about the removed paragraphs (near-topic: their article's other
paragraphs, on the same subject, are still there but do not answer); AUROC of the answer
confidence and the rates at the shipped threshold.
"""

from __future__ import annotations

import math
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import Settings
from assistant.evaluation.data import (
    ABSTENTION_QUESTIONS,
    PRIMARY_ABSTENTION_SLICES,
    REPORTED_SEED,
    SLICES,
    Benchmark,
    Draw,
    Question,
    abstention_corpus,
    contains,
    draw,
    load_benchmark,
    write_corpus,
)
from assistant.models.embedding import Embedder
from assistant.models.embedding_cache import CachedEmbedder
from assistant.serving.assistant import Assistant
from assistant.types import Answer


def _rank(answer: Answer, gold: str) -> int | None:
    seen: list[str] = []
    for c in answer.citations:
        if c.document_id not in seen:
            seen.append(c.document_id)
    return seen.index(gold) + 1 if gold in seen else None


def auroc(positive: list[float], negative: list[float]) -> float:
    """Probability that a random answerable question scores above a random unanswerable one."""
    if not positive or not negative:
        return float("nan")
    scores = np.concatenate([positive, negative])
    ranks = scores.argsort().argsort().astype(np.float64) + 1
    # average ranks of ties
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]
    n_pos = len(positive)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * len(negative)))


def _rounded(value: float) -> float | None:
    """3 decimals; None (JSON null, "n/a" on screen) where undefined: JSON has no NaN."""
    return None if math.isnan(value) else round(value, 3)


def _f3(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def run_eval(
    settings: Settings,
    embedder: Embedder,
    eval_dir: Path,
    cache: Path,
    seed: int = REPORTED_SEED,
    sizes: dict[str, int] | None = None,
    abstention_questions: int = ABSTENTION_QUESTIONS,
    progress: bool = True,
) -> dict[str, Any]:
    """Run both benchmarks; returns the figures (also fit for JSON)."""
    sizes = sizes or SLICES
    bench = load_benchmark(eval_dir)
    cached = CachedEmbedder(embedder, cache)  # passages only: query latency stays real
    drawn = draw(bench, seed, sizes, abstention_questions)
    work = Path(tempfile.mkdtemp(prefix="assistant-eval-"))
    report: dict[str, Any] = {
        "seed": seed,
        "passages": len(bench.documents),
        "slices": {},
        "model": embedder.identity,
        "backend": settings.backend,
        "reader": None,
    }
    try:
        write_corpus(work / "corpus", bench.documents)
        # with a database store, each benchmark index gets its own schema in it
        full = settings.model_copy(
            update={"corpus": work / "corpus", "index": work / "index", "store_schema": "assistant_eval_full"}
        )
        assistant = Assistant(full, cached)
        report["reader"] = assistant.reader.identity if assistant.reader is not None else None
        began = time.perf_counter()
        assistant.build(progress=progress)
        report["build_s"] = round(time.perf_counter() - began, 1)
        for name, questions in drawn.slices.items():
            ranks, correct, answered, latencies = [], 0, 0, []
            for q in questions:
                t = time.perf_counter()
                answer = assistant.answer(q.text, top_k=10)
                latencies.append((time.perf_counter() - t) * 1000)
                ranks.append(_rank(answer, q.gold))
                correct += contains(answer.answer.text if answer.answer else None, q.answers)
                answered += not answer.abstained
            n = len(questions)
            report["slices"][name] = {
                "questions": n,
                "R@1": round(sum(r == 1 for r in ranks) / n, 3),
                "R@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 3),
                "MRR@10": round(sum(1 / r for r in ranks if r is not None) / n, 3),
                "answer_sentence": round(correct / n, 3),
                "answered": round(answered / n, 3),
                "ms_p50": round(statistics.median(latencies), 1),
                "ms_p95": round(_percentile(latencies, 95), 1),
            }
        report["abstention"] = _abstention(bench, settings, cached, work, drawn, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        cached.close()
    return report


Outcome = tuple[Question, Answer, bool, float]  # question, answer, answerable, dense top-1 score


def _rates(outcomes: list[Outcome]) -> dict[str, float | None]:
    answers = [(a, ok, d) for _, a, ok, d in outcomes]
    pos = [a for a, ok, _ in answers if ok]
    neg = [a for a, ok, _ in answers if not ok]
    return {
        "questions": len(answers),
        "AUROC": _rounded(auroc([a.confidence for a in pos], [a.confidence for a in neg])),
        "dense_top1_AUROC": _rounded(auroc([d for _, ok, d in answers if ok], [d for _, ok, d in answers if not ok])),
        "answered_when_answerable": round(sum(not a.abstained for a in pos) / max(1, len(pos)), 3),
        "abstained_when_not": round(sum(a.abstained for a in neg) / max(1, len(neg)), 3),
    }


def _abstention(
    bench: Benchmark, settings: Settings, embedder: Embedder, work: Path, drawn: Draw, progress: bool
) -> dict[str, Any]:
    """The held-out-articles benchmark. The headline uses French and English questions in equal
    shares (the setup whose dense top-1 baseline the issue quotes); the cross-language slices are
    reported beside it. Near-topic questions are asked on the same index, per slice."""
    kept = abstention_corpus(bench, drawn.removed)
    write_corpus(work / "half", kept)
    half = settings.model_copy(
        update={"corpus": work / "half", "index": work / "half-index", "store_schema": "assistant_eval_half"}
    )
    assistant = Assistant(half, embedder)
    assistant.build(progress=progress)
    store = assistant.store()

    def run(sample: list[tuple[Question, bool]]) -> list[Outcome]:
        out = []
        for q, answerable in sample:
            answer = assistant.answer(q.text, top_k=10)
            dense = store.search(embedder.encode_queries([q.text])[0], 1)[0][1]
            out.append((q, answer, answerable, dense))
        return out

    primary = run(drawn.abstention)
    result: dict[str, Any] = {"indexed_passages": len(kept), **_rates(primary), "by_slice": {}, "near_topic": {}}
    for name in PRIMARY_ABSTENTION_SLICES:
        result["by_slice"][name] = _rates([x for x in primary if x[0].slice == name])
    for name, sample in drawn.abstention_cross.items():
        result["by_slice"][name] = _rates(run(sample))
    for name, questions in drawn.near_topic.items():
        answers = [assistant.answer(q.text, top_k=10) for q in questions]
        result["near_topic"][name] = {
            "questions": len(answers),
            "abstained": round(sum(a.abstained for a in answers) / max(1, len(answers)), 3),
        }
    return result


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"model {report['model']} on {report.get('backend', 'torch')}, reader {report.get('reader')}, "
        f"{report['passages']} passages, "
        f"seed {report['seed']}, build {report.get('build_s')} s",
        "",
        f"{'slice':<8} {'n':>4} {'R@1':>6} {'R@5':>6} {'MRR@10':>7} {'sentence':>9} {'answered':>9} "
        f"{'p50 ms':>7} {'p95 ms':>7}",
    ]
    for name, s in report["slices"].items():
        lines.append(
            f"{name:<8} {s['questions']:>4} {s['R@1']:>6.3f} {s['R@5']:>6.3f} {s['MRR@10']:>7.3f} "
            f"{s['answer_sentence']:>9.3f} {s['answered']:>9.3f} {s['ms_p50']:>7.1f} {s['ms_p95']:>7.1f}"
        )
    a = report.get("abstention")
    if a:
        lines += [
            "",
            f"abstention, index of {a['indexed_passages']} passages (half of the articles held out); "
            f"{a['questions']} fr+en questions: AUROC {_f3(a['AUROC'])} "
            f"(dense top-1 alone {_f3(a['dense_top1_AUROC'])}), "
            f"answered {a['answered_when_answerable']:.3f} of answerable, abstained on {a['abstained_when_not']:.3f} "
            "of the others",
        ]
        for name, s in a["by_slice"].items():
            lines.append(
                f"  {name:<8} {s['questions']:>4} questions: AUROC {_f3(s['AUROC'])} "
                f"(dense {_f3(s['dense_top1_AUROC'])}), "
                f"answered {s['answered_when_answerable']:.3f}, abstained {s['abstained_when_not']:.3f}"
            )
        if a.get("near_topic"):
            lines.append("near-topic (the question's paragraph left out, its article indexed): abstained")
            for name, s in a["near_topic"].items():
                lines.append(f"  {name:<8} {s['questions']:>4} questions: abstained {s['abstained']:.3f}")
    return "\n".join(lines)
