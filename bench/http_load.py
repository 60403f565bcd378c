"""What users see of the server's speed (a benchmark, not a test; `make bench`, several minutes).

    python bench/http_load.py [--seconds 20] [--realdocs ../shared/realdocs] [--isa avx2]
                              [--json artifacts/http_load.json] [--markdown docs/performance.md]

For the bundled corpus, then for an index of `--realdocs` (skipped when absent):
1. the index built from scratch by `assistant index` (a fresh folder, so no embedding reused);
2. `assistant serve --port 0`: seconds from the start to the ready line, then the first
   answer asked right after it;
3. `wrk` (Debian's package) on loopback, one thread, concurrency 1 then 8 for `--seconds`
   each, rotating 60 questions (`bench/wrk_answers.lua`): for the bundled corpus its own
   questions (two of them off-topic) with French PIAF and English XQuAD questions (off-topic
   there), for the real documents their 24 questions with benchmark ones; latency
   p50/p90/p99 as the client saw it, the server's took_ms p50/p99, requests/s and errors;
4. the server's resident memory after the runs, and its peak.

Then where one answer's time goes, in-process on the bundled corpus over the same
questions: encoding the question, search, candidate sentences, the reader, JSON.

Prints a table, writes every figure as JSON, and rewrites the generated section of
`--markdown` (between its `make bench` markers) with the table, the date and the machine.

`--isa avx2` (`make bench-avx2`) measures as on a CPU with AVX2 alone: OpenVINO's kernels
limited to AVX2 (oneDNN's ONEDNN_MAX_CPU_ISA) and the models in fp32 (ASSISTANT_PRECISION=f32,
so no bf16 and no int8 reader), in every process it starts and in its own; its table goes to
the `make bench-avx2` section. An emulation on a newer CPU: its clock and caches are not an
AVX2 machine's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import EVAL, QUESTIONS, ROOT, machine, memory_mb, percentile, squad

LUA = Path(__file__).resolve().parent / "wrk_answers.lua"
ROTATION = 60


def rotation(own: list[str], seed: int = 0) -> list[str]:
    """`own` questions, then French and English benchmark questions up to `ROTATION`, shuffled."""
    rng = random.Random(seed)
    rest = ROTATION - len(own)
    french = rng.sample(squad(EVAL / "piaf-v1.0.json")[1], rest // 2)
    english = rng.sample(squad(EVAL / "xquad.en.json")[1], rest - rest // 2)
    questions = [*own, *french, *english]
    rng.shuffle(questions)
    return questions


def assistant_command() -> list[str]:
    return [sys.executable, "-m", "assistant"]


def build(corpus: Path, index: Path, env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(
        [*assistant_command(), "index", "--corpus", str(corpus), "--index", str(index)],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - began


def wrk(port: int, questions: Path, connections: int, seconds: float) -> dict[str, Any]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{round(seconds)}s",
            "--latency",
            "-s",
            str(LUA),
            f"http://127.0.0.1:{port}",
        ],
        env={**os.environ, "QUESTIONS": str(questions)},
        capture_output=True,
        text=True,
        check=True,
    )
    raw = json.loads(out.stdout.strip().splitlines()[-1])
    took = [float(t) for t in raw["took_ms"]]
    errors = sum(raw["errors"].values()) + sum(n for s, n in raw["statuses"].items() if s != "200")
    return {
        "requests_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["latency_us"]["p50"] / 1000, 1),
        "p90_ms": round(raw["latency_us"]["p90"] / 1000, 1),
        "p99_ms": round(raw["latency_us"]["p99"] / 1000, 1),
        "server_took_p50_ms": round(percentile(took, 50), 1) if took else None,
        "server_took_p99_ms": round(percentile(took, 99), 1) if took else None,
        "requests": raw["requests"],
        "errors": errors,
    }


def serve_and_load(
    corpus: Path, index: Path, questions: list[str], env: dict[str, str], seconds: float
) -> dict[str, Any]:
    bodies = index.parent / f"{index.name}-questions.jsonl"
    bodies.write_text("".join(json.dumps({"question": q}) + "\n" for q in questions), encoding="utf-8")
    began = time.perf_counter()
    command = [*assistant_command(), "serve", "--corpus", str(corpus), "--index", str(index), "--port", "0"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if "assistant ready" not in line:
            raise SystemExit(f"assistant serve did not start: {line!r}")
        ready_s = time.perf_counter() - began
        port = int(line.split("http://localhost:")[1].split("/")[0])
        asked = time.perf_counter()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/answer",
            json.dumps({"question": questions[0]}).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # right after the ready line
            first = json.loads(response.read())
        result: dict[str, Any] = {
            "ready_s": round(ready_s, 2),
            "first_answer_ms": round((time.perf_counter() - asked) * 1000, 1),
            "first_answer_server_ms": first["took_ms"],
        }
        for connections in (1, 8):
            result[f"concurrency_{connections}"] = wrk(port, bodies, connections, seconds)
        result["rss_mb"] = memory_mb(server.pid)
        result["peak_rss_mb"] = memory_mb(server.pid, peak=True)
        return result
    finally:
        server.terminate()
        server.communicate(timeout=60)


def breakdown(corpus: Path, index: Path, questions: list[str]) -> dict[str, float]:
    """p50 per answer of each stage, timing the answer path's own calls in this process."""
    import assistant.serving.assistant as path
    from assistant.config import Settings
    from assistant.serving.assistant import Assistant, answer_to_dict

    spent: dict[str, list[float]] = {}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent.setdefault(name, []).append((time.perf_counter() - began) * 1000)

        return run

    service = Assistant(Settings(corpus=corpus, index=index))
    service.warm()
    path.hybrid_search = timed("search", path.hybrid_search)  # type: ignore[assignment]
    path.candidates = timed("candidates", path.candidates)  # type: ignore[assignment]
    path.read = timed("reader", path.read)  # type: ignore[assignment]
    embedder = service.embedder
    embedder.encode_queries = timed("encode", embedder.encode_queries)  # type: ignore[method-assign]
    totals, as_json = [], []
    kinds: dict[bool, list[float]] = {True: [], False: []}  # by whether the answer was declined
    for _ in range(3):
        for question in questions:
            answer = service.answer(question)
            totals.append(answer.took_ms)
            kinds[answer.abstained].append(answer.took_ms)
            began = time.perf_counter()
            json.dumps(answer_to_dict(answer), ensure_ascii=False)
            as_json.append((time.perf_counter() - began) * 1000)
    result = {name: round(statistics.median(values), 2) for name, values in spent.items()}
    result["json"] = round(statistics.median(as_json), 2)
    result["answer"] = round(statistics.median(totals), 2)
    for declined, label in ((False, "answered"), (True, "declined")):
        result[label] = round(statistics.median(kinds[declined]), 2) if kinds[declined] else float("nan")
        result[f"{label}_questions"] = len(kinds[declined]) // 3
    return result


def table(result: dict[str, Any]) -> str:
    lines = [
        f"`make bench{'-' + result['isa'] if result['isa'] else ''}` (`python bench/http_load.py --seconds "
        f"{result['seconds']:g}{' --isa ' + result['isa'] if result['isa'] else ''}`), {result['date']}, "
        f"{result['machine']}; `wrk` on loopback, one thread, {ROTATION} questions rotated.",
        "",
        "| figure | " + " | ".join(result["collections"]) + " |",
        "|---|" + "---|" * len(result["collections"]),
    ]
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("index build from scratch", lambda c: f"{c['build_s']:.1f} s ({c['passages']} passages)"),
        ("start → ready line", lambda c: f"{c['ready_s']:.2f} s"),
        ("first answer after the ready line", lambda c: f"{c['first_answer_ms']:.0f} ms"),
    ]
    for n in (1, 8):
        for label, shape in (
            ("p50 / p90 / p99", "{p50_ms} / {p90_ms} / {p99_ms} ms"),
            ("server took_ms p50 / p99", "{server_took_p50_ms} / {server_took_p99_ms} ms"),
            ("requests/s (errors)", "{requests_per_s} ({errors})"),
        ):
            rows.append((f"concurrency {n}: {label}", _level(n, shape)))
    rows.append(("server memory after the runs (peak)", lambda c: f"{c['rss_mb']:.0f} MB ({c['peak_rss_mb']:.0f} MB)"))
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(c) for c in result["collections"].values()) + " |")
    parts = result["breakdown"]
    lines += [
        "",
        "Where one answer's time goes (in-process, bundled corpus, p50 of each stage): "
        + ", ".join(f"{name} {parts[name]} ms" for name in ("encode", "search", "candidates", "reader", "json"))
        + f"; the whole answer {parts['answer']} ms: {parts['answered']} ms for the "
        + f"{parts['answered_questions']} questions answered, {parts['declined']} ms for the "
        + f"{parts['declined_questions']} declined.",
    ]
    return "\n".join(lines)


def _level(concurrency: int, shape: str) -> Callable[[dict[str, Any]], str]:
    return lambda figures: shape.format(**figures[f"concurrency_{concurrency}"])


def rewrite(markdown: Path, text: str, section: str) -> None:
    start, end = f"<!-- {section}: start -->", f"<!-- {section}: end -->"
    page = markdown.read_text(encoding="utf-8")
    if start not in page or end not in page:
        raise SystemExit(f"{markdown} has no generated section ({start} ... {end})")
    head, rest = page.split(start, 1)
    markdown.write_text(head + start + "\n" + text + "\n" + end + rest.split(end, 1)[1], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--realdocs", type=Path, default=ROOT.parent / "shared" / "realdocs")
    parser.add_argument("--json", type=Path, help="default: artifacts/http_load[-ISA].json")
    parser.add_argument("--markdown", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--isa", choices=["avx2"], help="measure as on a CPU with these instructions only")
    args = parser.parse_args()
    if args.isa:  # before OpenVINO is loaded in this process (the breakdown)
        os.environ.update(ONEDNN_MAX_CPU_ISA=args.isa.upper(), ASSISTANT_PRECISION="f32")
    args.json = args.json or ROOT / "artifacts" / f"http_load{'-' + args.isa if args.isa else ''}.json"
    from assistant.stores.files import FileStore

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    kept = ("ASSISTANT_MODEL_CACHE", "ASSISTANT_PRECISION")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_") or k in kept}
    targets = {"bundled corpus": (ROOT / "corpus", QUESTIONS)}
    if (args.realdocs / "corpus").is_dir():
        asked = [json.loads(line)["question"] for line in (args.realdocs / "questions.jsonl").open(encoding="utf-8")]
        targets[f"{args.realdocs.name} (real documents)"] = (args.realdocs / "corpus", asked)
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "seconds": args.seconds,
        "isa": args.isa,
        "collections": {},
    }
    work = Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    try:
        for n, (name, (corpus, own)) in enumerate(targets.items()):
            index = work / f"index-{n}"
            questions = rotation(own)
            figures: dict[str, Any] = {"build_s": round(build(corpus, index, env), 1)}
            figures["passages"] = FileStore(index).previous()[0]["passage_count"]
            figures.update(serve_and_load(corpus, index, questions, env, args.seconds))
            result["collections"][name] = figures
            if n == 0:
                result["breakdown"] = breakdown(corpus, index, questions)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = table(result)
    print(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    rewrite(args.markdown, text, f"make bench-{args.isa}" if args.isa else "make bench")


if __name__ == "__main__":
    main()
