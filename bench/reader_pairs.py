"""What one reading of the answer reader costs, per precision and per CPU class (a benchmark).

    python bench/reader_pairs.py [--tokens 57] [--repeat 30]

Times the reader's exported OpenVINO graph on batches of 1, 2, 4 and 8 (question, sentence)
pairs of `--tokens` tokens (57: a typical pair), median of `--repeat` calls, in fp32 and in
bf16 (where the CPU has it), each in its own process; then fp32 with OpenVINO's kernels
limited to AVX2 (ONEDNN_MAX_CPU_ISA), as on a CPU without AVX-512 or bf16. Prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine

BATCHES = (1, 2, 4, 8)


def measure(precision: str, tokens: int, repeat: int) -> dict[str, float]:
    """Milliseconds per call of the reader's graph, by batch size (in this process)."""
    import numpy as np

    from assistant.config import Settings
    from assistant.models.export import OPENVINO_FILE, export_dir
    from assistant.models.provision import provision_default_model
    from assistant.models.reader import Reader
    from assistant.models.runtime import session

    cache = Settings().model_cache
    transformer = provision_default_model(cache)
    identity = Reader(transformer, "openvino", cache, precision="f32").identity  # exports the graph if missing
    path = export_dir(cache, f"{transformer.name}+{identity}", "openvino") / OPENVINO_FILE
    run = session("openvino", path, None, precision)
    rng = np.random.default_rng(0)
    out = {}
    for n in BATCHES:
        ids = rng.integers(5, 20_000, size=(n, tokens))
        mask = np.ones_like(ids)
        for _ in range(3):
            run(ids, mask)
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            run(ids, mask)
            times.append((time.perf_counter() - began) * 1000)
        out[str(n)] = round(statistics.median(times), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=57)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--one", choices=["f32", "bf16"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.tokens, args.repeat)))
        return
    import openvino as ov

    configurations = ["f32"]
    if "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        configurations.append("bf16")
    print(f"{machine()}; {args.tokens} tokens per pair; ms per call (median of {args.repeat})\n")
    print("| precision | kernels | " + " | ".join(f"{n} pair{'s' if n > 1 else ''}" for n in BATCHES) + " |")
    print("|---|---|" + "---|" * len(BATCHES))
    for isa in ("native", "AVX2"):
        for precision in configurations:
            if isa == "AVX2" and precision == "bf16":
                continue  # AVX2 has no bf16
            env = dict(os.environ)
            if isa == "AVX2":
                env["ONEDNN_MAX_CPU_ISA"] = "AVX2"
            command = [sys.executable, __file__, "--one", precision, "--tokens", str(args.tokens)]
            done = subprocess.run([*command, "--repeat", str(args.repeat)], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"| {precision} | {isa} | {done.stdout.strip() or done.stderr.strip().splitlines()[-1]} |")
                continue
            figures = json.loads(done.stdout)
            print(f"| {precision} | {isa} | " + " | ".join(f"{figures[str(n)]:.1f}" for n in BATCHES) + " |")


if __name__ == "__main__":
    main()
