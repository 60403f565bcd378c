"""The answer reader in int8: post-training quantisation of its OpenVINO graph with NNCF.

Where the CPU has int8 dot products (`cpu.int8_dot_product`), the reader's graph is quantised
once, at export: weights to int8, and activations to int8 with ranges measured on the
calibration pairs shipped with the assistant (`data/reader_calibration.json`: questions and
sentences of the benchmark's train articles). `scripts/calibrate_reader.py` chose those pairs
and the SmoothQuant strength (how much of the activations' outliers move into the weights)
on other train pairs, by how closely the int8 logits follow the full-precision ones, and the
line that maps the int8 logits onto those (they run a little higher; the abstention models
were fitted on full-precision ones).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.errors import ModelError

CALIBRATION = Path(__file__).parent / "data" / "reader_calibration.json"


@dataclass(frozen=True)
class Calibration:
    pairs: list[tuple[str, str, str]]  # question, title, sentence
    smooth_quant: float
    logit_map: tuple[float, float]  # scale, shift: the int8 logits onto the fp32 ones
    digest: str  # of the file: the int8 graph's identity depends on it


def read_calibration(path: Path = CALIBRATION) -> Calibration:
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
        pairs = [(str(q), str(t), str(s)) for q, t, s in data["pairs"]]
        scale, shift = (float(v) for v in data["logit_map"])
        return Calibration(pairs, float(data["smooth_quant"]), (scale, shift), hashlib.sha256(raw).hexdigest())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot read the reader's calibration {path}: {exc}; reinstall the assistant") from exc


def quantize(model_file: Path, feeds: list[dict[str, np.ndarray]], smooth_quant: float) -> None:
    """Replace the OpenVINO graph at `model_file` (and its weights) by its int8 version,
    calibrated on `feeds` (the graph's inputs for each calibration pair)."""
    # NNCF reports usage over the network unless it believes it runs in CI; the assistant
    # makes no network calls
    os.environ.setdefault("NNCF_CI", "1")
    import nncf
    import openvino as ov

    nncf.set_log_level(logging.ERROR)
    model = ov.Core().read_model(str(model_file))
    # NNCF draws progress bars on standard output whatever its log level; they are not the
    # assistant's to show (its own line says it is preparing the reader)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        quantized = nncf.quantize(
            model,
            nncf.Dataset(feeds),
            preset=nncf.QuantizationPreset.MIXED,  # activations asymmetric: GELU outputs are mostly positive
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(feeds),
            advanced_parameters=nncf.AdvancedQuantizationParameters(
                smooth_quant_alphas=nncf.AdvancedSmoothQuantParameters(matmul=smooth_quant)
            ),
        )
    staged = model_file.with_name("int8_" + model_file.name)
    ov.save_model(quantized, str(staged), compress_to_fp16=False)
    del model, quantized
    os.replace(staged.with_suffix(".bin"), model_file.with_suffix(".bin"))
    os.replace(staged, model_file)
