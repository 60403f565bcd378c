"""Fit the abstention model's coefficients (a calibration, run by hand; not a test).

    python bench/fit_abstention.py [--seed 1] [--questions 1200]

Builds the held-out-articles index of `assistant eval` (half of the PIAF/XQuAD articles,
chosen by a hash of the title), draws a calibration sample with a seed other than the
one `assistant eval` reports (0), computes the signals of `assistant.abstention` for each
question through the real search, and fits one logistic regression for questions whose
best passage is in the question's language and one for the others (cross-language
similarities run lower). Prints the coefficients to paste into `abstention.py` and the
confidence threshold that answers 95% of the answerable calibration questions.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from assistant.abstention import signals
from assistant.cache import CachedEmbedder
from assistant.config import Settings
from assistant.evaluation import _write_corpus, held_out, load_benchmark
from assistant.followup import contextual_query
from assistant.language import question_language
from assistant.search import hybrid_search
from assistant.service import Assistant

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--questions", type=int, default=1200)
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    args = parser.parse_args()

    settings = Settings()
    bench = load_benchmark(args.eval_dir)
    embedder = CachedEmbedder(
        Assistant(settings).embedder, settings.model_cache / "eval-embeddings.sqlite", cache_queries=True
    )
    work = Path(tempfile.mkdtemp())
    try:
        _write_corpus(work / "half", {d: v for d, v in bench.documents.items() if not held_out(v[0])})
        half = Assistant(settings.model_copy(update={"corpus": work / "half", "index": work / "index"}), embedder)
        half.build()
        store = half.store()
        rng = random.Random(args.seed)
        pool = [q for items in bench.questions.values() for q in items]
        inside = rng.sample([q for q in pool if not held_out(q.article)], args.questions // 2)
        outside = rng.sample([q for q in pool if held_out(q.article)], args.questions // 2)
        rows: list[tuple[list[float], int, bool]] = []
        for label, questions in ((1, inside), (0, outside)):
            for q in questions:
                language = question_language(q.text, settings.default_language)
                query = contextual_query(q.text, language, [])
                vector = embedder.encode_queries([query])[0]
                hits = hybrid_search(store, query, language, vector, 10)
                same = hits[0].passage.language == language
                rows.append((signals(hits, store.lexical, query, language).as_list(), label, same))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    confidences = np.zeros(len(rows))
    labels = np.array([r[1] for r in rows])
    for group in (True, False):
        idx = [i for i, r in enumerate(rows) if r[2] == group]
        x = np.array([rows[i][0] for i in idx])
        y = labels[idx]
        model = LogisticRegression(C=100, max_iter=10_000).fit(x, y)
        confidences[idx] = model.predict_proba(x)[:, 1]
        name = "same language" if group else "cross-language"
        weights = ", ".join(f"{w:.2f}" for w in model.coef_[0])
        print(f"{name} ({len(idx)} questions): weights=({weights}), bias={model.intercept_[0]:.2f}")
    threshold = float(np.sort(confidences[labels == 1])[int(0.05 * (labels == 1).sum())])
    print(f"threshold answering 95% of answerable calibration questions: {threshold:.3f}")
    print(f"abstains on {(confidences[labels == 0] < threshold).mean():.3f} of the unanswerable ones")


if __name__ == "__main__":
    main()
