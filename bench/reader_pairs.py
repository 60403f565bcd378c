"""What one reading of the answer reader costs, per precision and per CPU class (a benchmark).

    python bench/reader_pairs.py [--tokens 57] [--repeat 30]

Times the reader's exported OpenVINO graph on batches of 1, 2, 4 and 8 (question, sentence)
pairs of `--tokens` tokens (57: a typical pair), median of `--repeat` calls, in fp32, in bf16
(where the CPU has it) and in int8 (the quantised graph `assistant` serves where the CPU has
int8 dot products), each in its own process; then the same with OpenVINO's kernels limited to
AVX2 (ONEDNN_MAX_CPU_ISA), as on a CPU without AVX-512, bf16 or VNNI. Prints a table.
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


def measure(graph: str, precision: str, tokens: int, repeat: int) -> dict[str, float]:
    """Milliseconds per call of the reader's graph, by batch size (in this process)."""
    import numpy as np

    from assistant.config import Settings
    from assistant.models.export import OPENVINO_FILE, export_dir
    from assistant.models.provision import provision_default_model
    from assistant.models.quantize import read_calibration
    from assistant.models.reader import Reader
    from assistant.models.runtime import session

    cache = Settings().model_cache
    transformer = provision_default_model(cache)
    identity = Reader(transformer, "openvino", cache, precision="f32").identity
    if graph == "int8":  # exported by the native run, where the CPU has int8 dot products
        identity += f"+int8@{read_calibration().digest[:8]}"
    path = export_dir(cache, f"{transformer.name}+{identity}", "openvino") / OPENVINO_FILE
    if not path.is_file():
        raise SystemExit(f"no {graph} reader exported: {path}")
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
    parser.add_argument("--one", nargs=2, metavar=("GRAPH", "PRECISION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1], args.tokens, args.repeat)))
        return
    from assistant.models import cpu

    configurations = [("fp32", "full", "f32"), ("int8", "int8", "f32")]
    if "avx512_bf16" in cpu.flags() or "amx_bf16" in cpu.flags():
        configurations.insert(1, ("bf16", "full", "bf16"))
    print(f"{machine()}; {args.tokens} tokens per pair; ms per call (median of {args.repeat})\n")
    print("| graph | kernels | " + " | ".join(f"{n} pair{'s' if n > 1 else ''}" for n in BATCHES) + " |")
    print("|---|---|" + "---|" * len(BATCHES))
    for isa in ("native", "AVX2"):
        for label, graph, precision in configurations:
            if isa == "AVX2" and label == "bf16":
                continue
            env = dict(os.environ)
            if isa == "AVX2":
                env["ONEDNN_MAX_CPU_ISA"] = "AVX2"
                env.pop("ASSISTANT_PRECISION", None)
            command = [sys.executable, __file__, "--one", graph, precision, "--tokens", str(args.tokens)]
            done = subprocess.run([*command, "--repeat", str(args.repeat)], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"| {label} | {isa} | {done.stdout.strip() or done.stderr.strip().splitlines()[-1]} |")
                continue
            figures = json.loads(done.stdout)
            print(f"| {label} | {isa} | " + " | ".join(f"{figures[str(n)]:.1f}" for n in BATCHES) + " |")


if __name__ == "__main__":
    main()
