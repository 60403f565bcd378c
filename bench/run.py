"""The performance harness: one command, a table and a JSON file (a benchmark, not a test).

    python bench/run.py [--runs 3] [--backends openvino,onnx,onnx-int8,torch]
                        [--paragraphs 400] [--questions 400]
                        [--sections embedding,build,reader] [--json artifacts/bench.json]

1. Embedding, per backend, each in its own process: model load time (model files
   cached), then passages/s and tokens/s embedding PIAF (French) and XQuAD (English)
   paragraphs from ../shared/eval as passages.
2. Index build with the default backend: a corpus of the same paragraphs, one file each,
   indexed from scratch (empty embedding cache): passages/s end to end (reading,
   chunking, languages, passage and sentence vectors, keyword index, writing).
3. The answer reader's cost: benchmark questions (French, English, Spanish, German; their
   own length, not short ones) asked of an index of their paragraphs, each answered with
   and without the reader in the same process on the same index: latency p50/p95 of both
   and the p50 of the difference, question by question.

Every figure is the median of `--runs` runs; the JSON keeps each run too. What users see over
HTTP (a standard load tool, the server's memory) is `make bench` (`bench/http_load.py`).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    EVAL,
    QUESTIONS,
    ROOT,
    machine,
    median_of,
    percentile,
    squad,
    squad_paragraphs,
)

BACKENDS = ("openvino", "onnx", "onnx-int8", "torch")
SECTIONS = {"embedding", "build", "reader"}


def paragraphs(count: int) -> list[str]:
    rng = random.Random(0)
    fr, _ = squad(EVAL / "piaf-v1.0.json")
    en, _ = squad(EVAL / "xquad.en.json")
    return rng.sample(fr, count // 2) + rng.sample(en, count - count // 2)


# --- 1. embedding, in a worker process per backend ---------------------------------


def embed_worker(backend: str, count: int) -> dict[str, Any]:
    began = time.perf_counter()
    from assistant.config import Settings
    from assistant.models.embedding import load_embedder

    embedder = load_embedder(Settings(backend=backend))  # type: ignore[arg-type]
    embedder.encode_queries(["warm-up"])
    load_s = time.perf_counter() - began
    texts = paragraphs(count)
    from tokenizers import Tokenizer

    from assistant.models.provision import model_dir

    tokenizer = Tokenizer.from_file(str(model_dir(Settings().model_cache) / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=512)
    tokens = sum(len(e.ids) for e in tokenizer.encode_batch(["passage: " + t for t in texts]))
    began = time.perf_counter()
    embedder.encode_passages(texts, Settings().batch_size)
    seconds = time.perf_counter() - began
    latencies = []
    for q in QUESTIONS * 10:
        t = time.perf_counter()
        embedder.encode_queries([q])
        latencies.append((time.perf_counter() - t) * 1000)
    return {
        "load_s": round(load_s, 2),
        "passages_per_s": round(len(texts) / seconds, 1),
        "tokens_per_s": round(tokens / seconds),
        "tokens_per_passage": round(tokens / len(texts), 1),
        "query_encode_ms_p50": round(statistics.median(latencies), 2),
    }


def embedding(backend: str, count: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", backend, "--paragraphs", str(count)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


# --- 2. index build ------------------------------------------------------------------


def write_corpus(folder: Path, texts: list[str]) -> Path:
    """One text file per paragraph."""
    folder.mkdir()
    for i, text in enumerate(texts):
        (folder / f"p{i:04d}.txt").write_text(text, encoding="utf-8")
    return folder


def index_build(count: int) -> dict[str, Any]:
    from assistant.config import Settings
    from assistant.serving.assistant import Assistant

    work = Path(tempfile.mkdtemp())
    try:
        settings = Settings(corpus=write_corpus(work / "corpus", paragraphs(count)), index=work / "index")
        assistant = Assistant(settings)
        assistant.embedder.encode_queries(["warm-up"])
        began = time.perf_counter()
        report = assistant.build(full=True)
        seconds = time.perf_counter() - began
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "documents": report.documents,
        "passages": report.passages,
        "sentences": report.sentences,
        "seconds": round(seconds, 1),
        "passages_per_s": round(report.passages / seconds, 1),
    }


# --- 3. the answer reader's cost ------------------------------------------------------


def benchmark_questions(count: int) -> tuple[list[str], list[str]]:
    """`count` paragraphs (half PIAF, half XQuAD English) and every question about them (XQuAD's
    in English, Spanish and German)."""
    rng = random.Random(0)
    texts: list[str] = []
    questions: list[str] = []
    piaf = squad_paragraphs(EVAL / "piaf-v1.0.json")
    for p in rng.sample(piaf, count // 2):
        texts.append(p["context"])
        questions += [q["question"] for q in p["qas"]]
    xquad = {lang: squad_paragraphs(EVAL / f"xquad.{lang}.json") for lang in ("en", "es", "de")}
    for i in rng.sample(range(len(xquad["en"])), count - count // 2):
        texts.append(xquad["en"][i]["context"])
        questions += [q["question"] for lang in xquad for q in xquad[lang][i]["qas"]]
    return texts, questions


def reader_cost(count: int, asked: int) -> dict[str, Any]:
    from assistant.config import Settings
    from assistant.serving.assistant import Assistant

    texts, questions = benchmark_questions(count)
    questions = random.Random(1).sample(questions, min(asked, len(questions)))
    work = Path(tempfile.mkdtemp())
    try:
        settings = Settings(corpus=write_corpus(work / "corpus", texts), index=work / "index")
        with_reader = Assistant(settings)
        with_reader.build()
        without = Assistant(settings.model_copy(update={"reader": False}), with_reader.embedder)
        for assistant in (with_reader, without):
            assistant.answer(questions[0])  # loads the index and the reader outside the timings
        on: list[float] = []
        off: list[float] = []
        for n, question in enumerate(questions):
            pair = (with_reader, without) if n % 2 == 0 else (without, with_reader)
            for assistant in pair:
                began = time.perf_counter()
                assistant.answer(question)
                (on if assistant is with_reader else off).append((time.perf_counter() - began) * 1000)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    added = [a - b for a, b in zip(on, off, strict=True)]
    return {
        "questions": len(questions),
        "with_reader_ms_p50": round(statistics.median(on), 1),
        "with_reader_ms_p95": round(percentile(on, 95), 1),
        "without_reader_ms_p50": round(statistics.median(off), 1),
        "without_reader_ms_p95": round(percentile(off, 95), 1),
        "added_ms_p50": round(statistics.median(added), 1),
    }


# --- the table -----------------------------------------------------------------------


def rows(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [row for key, item in value.items() for row in rows(f"{prefix}.{key}" if prefix else key, item)]
    return [(prefix, str(value))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--paragraphs", type=int, default=400)
    parser.add_argument("--json", type=Path, default=ROOT / "artifacts" / "bench.json")
    parser.add_argument("--sections", default="embedding,build,reader", help="which measurements (default: all three)")
    parser.add_argument("--questions", type=int, default=400, help="benchmark questions for the reader's cost")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(embed_worker(args.worker, args.paragraphs)))
        return
    if not (EVAL / "piaf-v1.0.json").exists():
        raise SystemExit(f"evaluation data not found in {EVAL}")
    backends = [b for b in args.backends.split(",") if b]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"unknown backend(s) {sorted(unknown)}; known: {', '.join(BACKENDS)}")
    sections = {s for s in args.sections.split(",") if s}
    if sections - SECTIONS or not sections:
        raise SystemExit(f"--sections takes some of {', '.join(sorted(SECTIONS))}")

    for backend in backends if "embedding" in sections else ():  # each backend's files, outside the timings
        embedding(backend, 8)

    runs: list[dict[str, Any]] = []
    for n in range(args.runs):
        run: dict[str, Any] = {}
        if "embedding" in sections:
            run["embedding"] = {b: embedding(b, args.paragraphs) for b in backends}
        if "build" in sections:
            run["index_build"] = index_build(args.paragraphs)
        if "reader" in sections:
            run["reader"] = reader_cost(args.paragraphs, args.questions)
        runs.append(run)
        print(f"run {n + 1}/{args.runs} done", file=sys.stderr, flush=True)
    result = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "runs": args.runs,
        "paragraphs": args.paragraphs,
        "median": median_of(runs),
        "each_run": runs,
    }
    table = rows("", result["median"])
    width = max(len(k) for k, _ in table)
    print(f"{result['machine']}; median of {args.runs} runs")
    for key, value in table:
        print(f"{key:<{width}}  {value}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.json}")


if __name__ == "__main__":
    main()
