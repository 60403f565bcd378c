"""Helpers shared by the benchmark scripts: the machine they ran on, percentiles, output, the
benchmark's SQuAD-format files, and `assistant serve` on loopback (its start, its memory, and
keep-alive clients asking it questions)."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"

# fixed French and English questions (two of them off-topic for the bundled corpus)
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


def machine() -> str:
    """The cores, the CPU with the vector instructions the models can use, and Python."""
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    names = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX-512 BF16", "amx_tile": "AMX"}
    vector = "/".join(name for flag, name in names.items() if flag in flags) or "no AVX2"
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA")  # OpenVINO's kernels limited to these instructions
    if cap:
        vector += f"; limited to {cap} by ONEDNN_MAX_CPU_ISA"
    return f"{os.cpu_count()} cores, {cpu} ({vector}), Python {platform.python_version()}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per key, the median over runs of numeric figures (the first run's value otherwise)."""
    merged: dict[str, Any] = {}
    for key, first in runs[0].items():
        values = [run[key] for run in runs if key in run]
        if isinstance(first, dict):
            merged[key] = median_of(values)
        elif isinstance(first, int | float) and not isinstance(first, bool):
            merged[key] = round(statistics.median(values), 2)
        else:
            merged[key] = first
    return merged


def report(result: dict[str, object], path: Path | None) -> None:
    """Print the figures as an aligned table, and write them as JSON to `path` if given."""
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


# --- the benchmark's SQuAD-format files (PIAF, XQuAD) ---------------------------------
# `assistant` is imported when they are read, not with this module: bench/run.py times the
# import of the embedding backend in its workers.


def squad_paragraphs(path: Path) -> list[dict[str, Any]]:
    """The paragraphs (context and questions) of a SQuAD-format file, article after article."""
    from assistant.evaluation.data import read_squad

    return [p for article in read_squad(path) for p in article["paragraphs"]]


def squad(path: Path) -> tuple[list[str], list[str]]:
    """Paragraphs and questions of a SQuAD-format file."""
    paragraphs = squad_paragraphs(path)
    return [p["context"] for p in paragraphs], [q["question"] for p in paragraphs for q in p["qas"]]


# --- `assistant serve` on loopback --------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_assistant(
    env: dict[str, str], *options: str, command: tuple[str, ...] = (sys.executable, "-m", "assistant")
) -> tuple[subprocess.Popen[bytes], int]:
    """`assistant serve` (with `options`) on a free loopback port, its output discarded; it is
    started, not yet ready (`first_answer` waits for its first answer)."""
    port = free_port()
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port), *options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return server, port


def memory_mb(pid: int, peak: bool = False) -> float:
    """A process's resident memory (its peak so far with `peak`), in MiB."""
    key = "VmHWM:" if peak else "VmRSS:"
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def request_bytes(question: str) -> bytes:
    body = json.dumps({"question": question}).encode()
    head = (
        "POST /api/answer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bool]:
    """One request on a kept-alive connection: its status, and whether it carried Retry-After."""
    writer.write(request)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length, retry = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        length = int(value) if name == "content-length" else length
        retry = retry or name == "retry-after"
    await reader.readexactly(length)
    return status, retry


@dataclass
class Traffic:
    """What `drive` saw: statuses (0 for a broken connection), latencies, refusals without Retry-After."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    refused_without_retry_after: int = 0
    seconds: float = 0.0


async def drive(port: int, clients: int, seconds: float, back_off: bool = False) -> Traffic:
    """`clients` keep-alive clients asking QUESTIONS in turn for `seconds`; with `back_off`, a
    client refused with 429/503 waits 50 ms before its next request, as a polite client does."""
    requests = [request_bytes(q) for q in QUESTIONS]
    seen = Traffic()
    deadline = time.perf_counter() + seconds

    async def client(offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = offset
        try:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    status, retry = await exchange(reader, writer, requests[i % len(requests)])
                    seen.refused_without_retry_after += status in (429, 503) and not retry
                except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                    status = 0
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                seen.latencies.append((time.perf_counter() - began) * 1000)
                seen.statuses[status] += 1
                if back_off and status in (429, 503):
                    await asyncio.sleep(0.05)
                i += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    seen.seconds = time.perf_counter() - began
    return seen


def first_answer(port: int, started: float, server: subprocess.Popen[bytes]) -> float:
    """Seconds from `started` to the server's first answered question (it is asked again until then)."""
    request = request_bytes(QUESTIONS[0])

    async def attempt() -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        try:
            return (await exchange(reader, writer, request))[0] == 200
        finally:
            writer.close()

    while not asyncio.run(attempt()):
        if server.poll() is not None:
            raise SystemExit("the server exited before answering")
        if time.perf_counter() - started > 120:
            raise SystemExit("the server did not answer within 120 s")
        time.sleep(0.02)
    return time.perf_counter() - started
