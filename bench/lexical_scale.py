"""Keyword search at scale: build time, memory and query time of the BM25 index over N short
passages (a benchmark, not a test).

    python bench/lexical_scale.py [--passages 1000000] [--json out.json]

Passages are sentences of the PIAF (French) and XQuAD (English) paragraphs in
../shared/eval, repeated with a distinguishing number until N; questions are the
benchmark's questions.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import EVAL, machine, percentile, report, squad_paragraphs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from assistant.text.keywords import LexicalIndex
    from assistant.text.question import AnalysedQuestion

    sentences: list[tuple[str, str]] = []
    questions: list[tuple[str, str]] = []
    for name, lang in (("piaf-v1.0.json", "fr"), ("xquad.en.json", "en")):
        for para in squad_paragraphs(EVAL / name):
            sentences += [(s, lang) for s in re.split(r"(?<=[.!?])\s+", para["context"]) if len(s.split()) > 4]
            questions += [(q["question"], lang) for q in para["qas"]]
    texts = [f"{sentences[i % len(sentences)][0]} ({i})" for i in range(args.passages)]
    languages = [sentences[i % len(sentences)][1] for i in range(args.passages)]

    began = time.perf_counter()
    index = LexicalIndex.build(texts, languages)
    build_s = time.perf_counter() - began
    w = index.weights
    matrix_bytes = w.data.nbytes + w.indices.nbytes + w.indptr.nbytes
    rng = random.Random(0)
    times = []
    for question, lang in rng.sample(questions, args.questions):
        t = time.perf_counter()
        index.scores(AnalysedQuestion.of(question, lang))
        times.append((time.perf_counter() - t) * 1000)
    result = {
        "machine": machine(),
        "passages": args.passages,
        "terms": len(index.vocabulary),
        "build_s": round(build_s, 1),
        "matrix_mb": round(matrix_bytes / 2**20, 1),
        "bytes_per_passage": round(matrix_bytes / args.passages, 1),
        "query_ms_p50": round(statistics.median(times), 1),
        "query_ms_p95": round(percentile(times, 95), 1),
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
