"""Incremental re-indexing on a 1,000-document corpus (a benchmark, not a test).

    python bench/incremental.py [--documents 1000] [--json out.json]

Makes a corpus of PIAF paragraphs (one document each) from ../shared/eval, builds the
index from scratch (`--full`: every passage and sentence embedded), changes one document,
and times the incremental rebuild, which only embeds what changed. Prints both times and
their ratio (the target: the incremental rebuild takes at most 5% of the full build).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import EVAL, machine, report, squad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    piaf = EVAL / "piaf-v1.0.json"
    if not piaf.exists():
        raise SystemExit(f"evaluation data not found: {piaf}")

    from assistant.config import Settings
    from assistant.serving.assistant import Assistant

    paragraphs, _ = squad(piaf)
    work = Path(tempfile.mkdtemp())
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        for i in range(args.documents):
            (corpus / f"doc-{i:04d}.txt").write_text(
                paragraphs[i % len(paragraphs)] + f"\n\n(copie {i})", encoding="utf-8"
            )
        assistant = Assistant(Settings(corpus=corpus, index=work / "index"))
        assistant.embedder.encode_queries(["warm-up"])
        full = assistant.build(full=True)
        changed = corpus / "doc-0500.txt"
        changed.write_text(changed.read_text(encoding="utf-8") + " Une phrase ajoutée.", encoding="utf-8")
        began = time.perf_counter()
        incremental = assistant.build()
        incremental_s = time.perf_counter() - began
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "machine": machine(),
        "documents": args.documents,
        "passages": full.passages,
        "sentences": full.sentences,
        "full_build_s": round(full.seconds, 1),
        "full_embedded": full.embedded,
        "incremental_s": round(incremental_s, 2),
        "incremental_embedded": incremental.embedded,
        "incremental_reused": incremental.reused,
        "ratio": round(incremental_s / full.seconds, 4),
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
