"""Two serving replicas on one PostgreSQL database, under `hey` load, while rebuilds switch
versions (a benchmark, not a test).

    python bench/pg_replicas.py [--seconds 30] [--clients 8] [--rebuilds 3] [--url postgresql://...] [--json out.json]

Without --url, a PostgreSQL 16 with pgvector is started in a temporary folder (pgserver).
The bundled corpus is indexed into it (`assistant index`, real model); two `assistant serve`
processes on loopback share it; `hey` (Debian package) sends questions to both at once for
--seconds with --clients connections each, while a third process edits a document and runs
`assistant index` --rebuilds times. Reports requests/s and latency per replica (and, first,
of one replica alone with no rebuild, with as many connections as both), every status code
(anything but 200 is an error), the versions built, and the version each replica serves at
the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, report, start_assistant
from pg_scale import start_server

QUESTION = "Combien d'entreprises compte la French Tech Corporate Community ?"


def health(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the replica on port {port} exited ({proc.returncode})")
        try:
            health(port)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the replica on port {port} did not start")


def hey(port: int, seconds: int, clients: int) -> dict[str, object]:
    body = json.dumps({"question": QUESTION})
    command = ["hey", "-z", f"{seconds}s", "-c", str(clients), "-m", "POST", "-T", "application/json", "-d", body]
    out = subprocess.run(
        [*command, f"http://127.0.0.1:{port}/api/answer"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    codes = {m[0]: int(m[1]) for m in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    latency = {m[0]: float(m[1]) * 1000 for m in re.findall(r"(\d+)%% in ([\d.]+) secs".replace("%%", "%"), out)}
    errors = re.search(r"Error distribution:(.*)", out, re.S)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {
        "requests_per_s": float(rps.group(1)) if rps else 0.0,
        "p50_ms": round(latency.get("50", 0.0), 1),
        "p99_ms": round(latency.get("99", 0.0), 1),
        "status_codes": codes,
        "transport_errors": errors.group(1).strip() if errors else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--clients", type=int, default=8, help="connections per replica")
    parser.add_argument("--rebuilds", type=int, default=3)
    parser.add_argument("--url")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("hey") is None:
        raise SystemExit("hey is not installed (Debian: apt-get install hey)")
    assistant = str(Path(sys.executable).with_name("assistant"))
    with tempfile.TemporaryDirectory(prefix="pg-replicas-") as folder:
        work = Path(folder)
        url = args.url or start_server(work / "pg")
        shutil.copytree(ROOT / "corpus", work / "corpus")
        env = {**os.environ, "ASSISTANT_STORE": url, "ASSISTANT_CORPUS": str(work / "corpus")}

        def index(name: str) -> str:
            done = subprocess.run(
                [assistant, "index", "--index", str(work / name)], env=env, capture_output=True, text=True, check=True
            )
            return re.findall(r"version (\S+)\)", done.stdout)[-1]

        first = index("builder")
        started = [start_assistant(env, "--index", str(work / f"replica-{i}"), command=(assistant,)) for i in range(2)]
        replicas = [server for server, _ in started]
        ports = [port for _, port in started]
        try:
            for port, proc in zip(ports, replicas, strict=True):
                wait_ready(port, proc)
            alone = hey(ports[0], args.seconds, 2 * args.clients)  # baseline: one replica, no rebuild
            results: dict[int, dict[str, object]] = {}
            loads = [
                threading.Thread(target=lambda p=p: results.__setitem__(p, hey(p, args.seconds, args.clients)))
                for p in ports
            ]
            for t in loads:
                t.start()
            built = []
            gap = args.seconds / (args.rebuilds + 1)
            began = time.monotonic()
            document = sorted((work / "corpus").glob("*.txt"))[0]
            for i in range(args.rebuilds):
                time.sleep(max(0.0, began + gap * (i + 1) - time.monotonic()))
                with document.open("a", encoding="utf-8") as f:
                    f.write(f"\n\nRevision {i + 1} of this document.\n")
                built.append(index("builder"))
            for t in loads:
                t.join()
            waited = time.monotonic()  # a replica loads a new version when asked: keep asking
            while time.monotonic() - waited < 60 and any(health(p)["index_version"] != built[-1] for p in ports):
                time.sleep(0.2)
            followed_s = round(time.monotonic() - waited, 1)
            serving = [health(p)["index_version"] for p in ports]
        finally:
            for proc in replicas:
                proc.terminate()
                proc.wait(30)
    result: dict[str, object] = {
        "machine": machine(),
        "seconds": args.seconds,
        "clients_per_replica": args.clients,
        "first_version": first,
        "one_replica_alone": alone,
        "versions_built_under_load": built,
        "replica_1": results[ports[0]],
        "replica_2": results[ports[1]],
        "total_requests_per_s": round(sum(float(r["requests_per_s"]) for r in results.values()), 1),  # type: ignore[arg-type,misc]
        "non_200": sum(n for r in results.values() for c, n in r["status_codes"].items() if c != "200"),  # type: ignore[attr-defined]
        "serving_at_end": serving,
        "seconds_to_serve_the_last_build_after_the_load": followed_s,
        "all_on_last_version": all(v == built[-1] for v in serving) if built else None,
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
