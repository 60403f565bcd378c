"""Load and overload of `assistant serve` (a benchmark, not a test; about 3 minutes).

    python bench/load.py [--clients 32] [--seconds 60] [--json artifacts/load.json]

On the bundled corpus, over HTTP on loopback, from keep-alive asyncio clients:

1. Sustained load, twice in a row: `--clients` clients ask French and English questions
   for `--seconds` each time; errors, latency percentiles, requests/s, and the server's
   resident memory after each run (stable: the second run may not grow it by more than 5%).
2. Overload: the server started with ASSISTANT_MAX_IN_FLIGHT=4 and ASSISTANT_RATE_LIMIT
   set, under 64 clients for 15 s: every response is 200, 429 or 503 (the last two with
   Retry-After), none is a 5xx other than 503, and the server answers normally afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, drive, first_answer, machine, memory_mb, percentile, start_assistant


async def hammer(port: int, clients: int, seconds: float) -> dict[str, Any]:
    """`clients` polite keep-alive clients for `seconds`: status counts, latency, Retry-After seen."""
    seen = await drive(port, clients, seconds, back_off=True)
    return {
        "requests": len(seen.latencies),
        "statuses": {str(k): v for k, v in sorted(seen.statuses.items())},
        "errors": sum(v for k, v in seen.statuses.items() if k not in (200, 429, 503)),
        "refused_without_retry_after": seen.refused_without_retry_after,
        "answered_per_s": round(seen.statuses[200] / seen.seconds, 1),
        "p50_ms": round(percentile(seen.latencies, 50), 1),
        "p99_ms": round(percentile(seen.latencies, 99), 1),
    }


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    started = time.perf_counter()
    server, port = start_assistant(env)
    first_answer(port, started, server)
    return server, port


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--json", type=Path, default=ROOT / "artifacts" / "load.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    shutil.copytree(ROOT / "corpus", work / "corpus")
    env = {**os.environ, "ASSISTANT_CORPUS": str(work / "corpus"), "ASSISTANT_INDEX": str(work / "index")}
    subprocess.run([sys.executable, "-m", "assistant", "index"], env=env, check=True, capture_output=True)
    result: dict[str, Any] = {"machine": machine(), "date": time.strftime("%Y-%m-%d")}
    try:
        server, port = serve(env)
        try:
            for run in (1, 2):
                figures = asyncio.run(hammer(port, args.clients, args.seconds))
                figures["server_rss_mb_after"] = memory_mb(server.pid)
                result[f"sustained_run_{run}"] = figures
        finally:
            stop(server)
        first, second = result["sustained_run_1"], result["sustained_run_2"]
        growth = second["server_rss_mb_after"] / first["server_rss_mb_after"] - 1
        result["memory_growth_second_run"] = f"{growth:+.1%}"

        limited = {**env, "ASSISTANT_MAX_IN_FLIGHT": "4", "ASSISTANT_RATE_LIMIT": "6000"}
        server, port = serve(limited)
        try:
            overload = asyncio.run(hammer(port, 64, 15))
            overload["answers_afterwards"] = asyncio.run(hammer(port, 1, 3))["statuses"]
        finally:
            stop(server)
        result["overload_64_clients_max_in_flight_4"] = overload
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    ok = (
        first["errors"] == 0
        and second["errors"] == 0
        and growth <= 0.05
        and overload["errors"] == 0
        and overload["refused_without_retry_after"] == 0
        and overload["statuses"].keys() & {"429", "503"}
        and set(overload["answers_afterwards"]) == {"200"}
    )
    print("PASS" if ok else "FAIL: see the figures above")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
