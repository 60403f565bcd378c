"""End-to-end HTTP figures of `assistant serve` on the bundled corpus (a benchmark, not a test).

    python bench/serve_load.py [--seconds 20] [--json out.json]

Starts `assistant serve` on a free loopback port (model cached, index built beforehand),
measures the time from start to the first answered request, then sends questions from a
fixed French/English list to POST /api/answer at concurrency 1 and 8 for `--seconds`
each, and reports latency p50/p95/p99, requests/s, errors, and the server's peak
resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from shutil import copytree

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import machine, percentile

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "Combien de pays l'équipe du MEDEF a-t-elle visités ?",
    "How many companies are in the French Tech Corporate Community?",
    "Qui coordonne la French Tech Corporate Community ?",
    "What are the goals of the Digital Disruption Lab?",
    "Quand la mission numérique des grands groupes a-t-elle été lancée ?",
    "What is the capital of Australia?",
    "Quelle est la recette de la tarte tatin ?",
    "Which countries have leading digital environments?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load(url: str, concurrency: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(offset: int) -> None:
        nonlocal errors
        with httpx.Client(timeout=30) as client:
            i = offset
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                try:
                    ok = client.post(url, json={"question": QUESTIONS[i % len(QUESTIONS)]}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = (time.perf_counter() - t) * 1000
                with lock:
                    latencies.append(elapsed)
                    errors += not ok
                i += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
    }


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    copytree(ROOT / "corpus", work / "corpus")
    env = {**os.environ, "ASSISTANT_CORPUS": str(work / "corpus"), "ASSISTANT_INDEX": str(work / "index")}
    subprocess.run([sys.executable, "-m", "assistant", "index"], env=env, check=True, capture_output=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/answer"
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    result: dict[str, object] = {"machine": machine()}
    try:
        while True:
            try:
                if httpx.post(url, json={"question": QUESTIONS[0]}, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
            if time.perf_counter() - started > 120:
                raise SystemExit("the server did not answer within 120 s")
        result["first_answer_s"] = round(time.perf_counter() - started, 2)
        for concurrency in (1, 8):
            result[f"concurrency_{concurrency}"] = load(url, concurrency, args.seconds)
        result["server_peak_rss_mb"] = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
