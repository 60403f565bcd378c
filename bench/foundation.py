"""Indexing throughput and query latency of the default model (a benchmark, not a test).

    python bench/foundation.py [--paragraphs 300] [--questions 200] [--json out.json]

Indexing: embeds PIAF (French) and XQuAD (English) paragraphs from ../shared/eval as
passages, through the same Embedder as `assistant index`, and reports passages/s.
Latency: builds an index of the bundled corpus and times `Assistant.answer` (language
detection, query encoding, search, answer sentence, citations) over questions drawn
from the same data, French and English mixed; reports p50/p95/p99.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"


def squad(path: Path) -> tuple[list[str], list[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs = [p["context"] for art in data for p in art["paragraphs"]]
    questions = [q["question"] for art in data for p in art["paragraphs"] for q in p["qas"]]
    return paragraphs, questions


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def report(result: dict[str, object], path: Path | None) -> None:
    """Print the figures as an aligned table, and write them as JSON to `path` if given."""
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    if path:
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=int, default=300)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not (EVAL / "piaf-v1.0.json").exists():
        raise SystemExit(f"evaluation data not found in {EVAL}")

    from assistant.config import Settings
    from assistant.service import Assistant

    rng = random.Random(0)
    fr_par, fr_q = squad(EVAL / "piaf-v1.0.json")
    en_par, en_q = squad(EVAL / "xquad.en.json")
    paragraphs = rng.sample(fr_par, args.paragraphs // 2) + rng.sample(en_par, args.paragraphs - args.paragraphs // 2)
    questions = rng.sample(fr_q, args.questions // 2) + rng.sample(en_q, args.questions - args.questions // 2)
    rng.shuffle(questions)

    settings = Settings()
    began = time.perf_counter()
    assistant = Assistant(settings)
    embedder = assistant.embedder
    load_s = time.perf_counter() - began

    embedder.encode_passages(paragraphs[:8])  # warm-up
    began = time.perf_counter()
    embedder.encode_passages(paragraphs, settings.batch_size)
    index_s = time.perf_counter() - began

    work = Path(tempfile.mkdtemp())
    try:
        shutil.copytree(ROOT / "corpus", work / "corpus")
        bundled = Settings(corpus=work / "corpus", index=work / "index")
        service = Assistant(bundled, embedder)
        service.build()
        for q in questions[:10]:
            service.answer(q)
        latencies = []
        for q in questions:
            t = time.perf_counter()
            service.answer(q)
            latencies.append((time.perf_counter() - t) * 1000)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "machine": machine(),
        "model": embedder.identity,
        "model_load_s": round(load_s, 2),
        "indexing_passages": len(paragraphs),
        "indexing_passages_per_s": round(len(paragraphs) / index_s, 1),
        "questions": len(questions),
        "query_ms_p50": round(statistics.median(latencies), 1),
        "query_ms_p95": round(percentile(latencies, 95), 1),
        "query_ms_p99": round(percentile(latencies, 99), 1),
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
