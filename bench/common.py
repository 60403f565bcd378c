"""Helpers shared by the benchmark scripts: the machine they ran on, percentiles, output."""

from __future__ import annotations

import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"


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


def squad(path: Path) -> tuple[list[str], list[str]]:
    """Paragraphs and questions of a SQuAD-format file."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs = [p["context"] for art in data for p in art["paragraphs"]]
    questions = [q["question"] for art in data for p in art["paragraphs"] for q in p["qas"]]
    return paragraphs, questions


def report(result: dict[str, object], path: Path | None) -> None:
    """Print the figures as an aligned table, and write them as JSON to `path` if given."""
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
