"""Choose the int8 answer reader's calibration (run by hand; not a test).

    python scripts/calibrate_reader.py [--eval-dir ../shared/eval] [--pairs 300] [--check 1000]

From the questions of the benchmark's train articles only (PIAF: sha256(title) even; XQuAD:
even positions): `--pairs` (question, title, sentence) triples to calibrate on, and `--check`
others (other questions) to choose on. Each triple is a question with the sentence holding its
answer or with another sentence of its paragraph, as the reader meets them. For each
SmoothQuant strength of `STRENGTHS`, the reader's graph is quantised on the calibration
triples (`assistant.models.quantize`) and its logits on the check triples compared with the
full-precision graph's (fp32); the strength whose logits stay closest (mean absolute
difference) is written with the triples to `src/assistant/models/data/reader_calibration.json`,
with the line that maps its logits onto the fp32 ones (least squares on the check triples),
which the abstention models were fitted on.
A new file gives the int8 reader a new identity: it is exported again on next start.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from assistant.config import Settings
from assistant.models import reader_model
from assistant.models.export import OPENVINO_FILE, WORD_EMBEDDINGS, export_dir
from assistant.models.provision import provision_default_model
from assistant.models.quantize import CALIBRATION, quantize
from assistant.models.reader import Reader
from assistant.models.runtime import WordRows, openvino_inputs, session
from reader_data import load_items

ROOT = Path(__file__).resolve().parent.parent
STRENGTHS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
SEED = 0


Triple = tuple[str, str, str]  # question, title, sentence


def triples(eval_dir: Path, calibrate: int, check: int) -> tuple[list[Triple], list[Triple]]:
    """Calibration and check triples, from disjoint questions of the train articles: per question,
    the answering sentence and one other sentence of its paragraph."""
    rng = random.Random(SEED)
    items = load_items(eval_dir, True, rng)
    rng.shuffle(items)
    out: list[Triple] = []
    split = None
    for item in items:
        chosen = [item.gold[item.positive]] if item.positive >= 0 else []
        others = [s for i, s in enumerate(item.gold) if i != item.positive]
        chosen += rng.sample(others, min(1, len(others)))
        out += [(item.question, item.title, s) for s in chosen]
        if split is None and len(out) >= calibrate:
            split = len(out)
        if split is not None and len(out) >= split + check:
            break
    assert split is not None
    return out[:calibrate], out[split : split + check]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--check", type=int, default=1000)
    parser.add_argument("--output", type=Path, default=CALIBRATION)
    args = parser.parse_args()
    calibrate, check = triples(args.eval_dir, args.pairs, args.check)
    settings = Settings()
    transformer = provision_default_model(settings.model_cache)
    full = Reader(transformer, "openvino", settings.model_cache, precision="f32")
    exported = export_dir(settings.model_cache, f"{transformer.name}+{full.identity}", "openvino") / OPENVINO_FILE
    reference = np.array([float(full.score(q, [(t, s)])[0]) for q, t, s in check])
    table = WordRows(exported.parent / WORD_EMBEDDINGS)
    feeds = [openvino_inputs(*full.inputs([reader_model.pair(*t)]), table) for t in calibrate]
    checked = [reader_model.pair(*t) for t in check]
    figures: dict[str, float] = {}
    quantized: dict[str, np.ndarray] = {}
    work = Path(tempfile.mkdtemp(prefix="calibrate-reader-"))
    try:
        for strength in STRENGTHS:
            began = time.perf_counter()
            for name in (exported.name, exported.with_suffix(".bin").name, WORD_EMBEDDINGS):
                shutil.copy(exported.parent / name, work / name)
            quantize(work / exported.name, feeds, strength)
            run = session("openvino", work / exported.name, None, "f32")
            logits = np.array([float(run(*full.inputs([p])).reshape(-1)[0]) for p in checked])
            figures[f"{strength:g}"] = round(float(np.abs(logits - reference).mean()), 4)
            quantized[f"{strength:g}"] = logits
            print(
                f"SmoothQuant {strength:g}: mean |int8 - fp32| logit {figures[f'{strength:g}']}"
                f" (max {np.abs(logits - reference).max():.3f}), {time.perf_counter() - began:.0f} s",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = min(figures, key=lambda k: figures[k])
    # what is left is mostly a level: int8 logits run a little higher, which would lift the
    # confidence of every answer; a line fitted on the check triples maps them back
    scale, shift = np.polyfit(quantized[best], reference, 1)
    mapped = float(np.abs(scale * quantized[best] + shift - reference).mean())
    print(f"SmoothQuant {best}: fp32 ≈ {scale:.4f} × int8 {shift:+.4f}; mean |difference| then {mapped:.4f}")
    record = {
        "made_by": "python scripts/calibrate_reader.py"
        + (f" --pairs {args.pairs}" if args.pairs != 300 else "")
        + (f" --check {args.check}" if args.check != 1000 else ""),
        "fitted_on": f"{len(calibrate)} (question, title, sentence) triples of the train articles of PIAF v1.0 "
        f"(MIT) and XQuAD (CC BY-SA 4.0); the strength chosen on {len(check)} triples of other questions of "
        "the same train articles",
        "mean_abs_logit_difference": figures,
        "smooth_quant": float(best),
        "logit_map": [round(float(scale), 5), round(float(shift), 5)],
        "mean_abs_logit_difference_mapped": round(mapped, 4),
        "pairs": [list(t) for t in calibrate],
    }
    args.output.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"SmoothQuant {best}: written to {args.output}")


if __name__ == "__main__":
    main()
