"""The one-off export of a model for the fast runtimes: torch → ONNX, then OpenVINO IR or int8.

A sentence-transformers directory (the provisioned default or one of the user's), or the
answer reader, is exported once to ONNX with torch, then converted for the chosen runtime:

- `openvino`: OpenVINO IR, full-precision weights; OpenVINO computes in bf16 where the
  CPU supports it and in fp32 elsewhere (vectors within 1e-4 cosine of torch fp32);
- `onnx`: the fp32 ONNX graph run by ONNX Runtime;
- `onnx-int8`: ONNX Runtime with weights quantised to int8 (dynamic quantisation).

The converted files live in `<model cache>/exports/<model identity>/<runtime>/` with a
checksum file, are built in a staging directory and moved into place in one rename
(one process at a time, under a file lock), and are rebuilt when missing or altered.
Inference on them is `runtime.py`'s.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.errors import ModelError
from assistant.files import cache_lock, file_digests, file_stamps, publish_dir, read_json

log = logging.getLogger(__name__)

RUNTIMES = ("openvino", "onnx", "onnx-int8")
EXPORT_VERSION = 1
CHECKSUM_FILE = "checksums.json"
ONNX_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
OPENVINO_FILE = "openvino_model.xml"


def export_onnx(module: Any, target: Path, output: str) -> None:
    """Trace a torch module of (input_ids, attention_mask) to ONNX, batch and token axes dynamic."""
    import torch

    example = torch.ones(2, 16, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example, example),
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=[output],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                output: {0: "batch"} if output == "logits" else axes,
            },
            opset_version=17,
            dynamo=False,
        )


def _export_encoder(transformer_dir: Path, target: Path) -> None:
    """The encoder as ONNX: inputs input_ids and attention_mask, output the token states."""
    import torch
    from transformers import AutoModel

    from assistant.embedding import quiet_transformers

    quiet_transformers()
    encoder = AutoModel.from_pretrained(str(transformer_dir)).eval()

    class TokenStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    export_onnx(TokenStates(), target, "token_states")


def _convert(runtime: str, onnx_path: Path) -> Path:
    """Turn the fp32 ONNX export into the runtime's file, next to it; returns its path."""
    directory = onnx_path.parent
    if runtime == "onnx":
        return onnx_path
    if runtime == "onnx-int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing hint on the root logger
        try:
            quantize_dynamic(onnx_path, directory / INT8_FILE, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            root.setLevel(level)
        onnx_path.unlink()
        return directory / INT8_FILE
    import openvino as ov

    # Core.read_model, not ov.convert_model: the converter tool sends usage telemetry unless
    # opted out, and the assistant makes no network calls. Full-precision weights are kept.
    ov.save_model(ov.Core().read_model(str(onnx_path)), str(directory / OPENVINO_FILE), compress_to_fp16=False)
    onnx_path.unlink()
    return directory / OPENVINO_FILE


def _main_file(runtime: str) -> str:
    return {"onnx": ONNX_FILE, "onnx-int8": INT8_FILE, "openvino": OPENVINO_FILE}[runtime]


def export_dir(cache_dir: Path, identity: str, runtime: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._@+-]", "_", identity)
    return cache_dir / "exports" / f"{safe}-x{EXPORT_VERSION}" / runtime


def _is_complete(target: Path) -> bool:
    try:
        recorded = read_json(target / CHECKSUM_FILE)
    except ModelError:
        return False
    if not isinstance(recorded, dict) or not recorded.get("files"):
        return False
    if recorded.get("stamps") == file_stamps(target, CHECKSUM_FILE):
        return True
    return bool(recorded.get("files") == file_digests(target, CHECKSUM_FILE))


def prepare_runtime(transformer_dir: Path, identity: str, runtime: str, cache_dir: Path) -> Path:
    """The runtime's file for the embedding model's encoder, exported and converted once, verified afterwards."""
    return prepare_export(
        identity, runtime, cache_dir, lambda onnx: _export_encoder(transformer_dir, onnx), "embedding model"
    )


def prepare_export(identity: str, runtime: str, cache_dir: Path, export: Callable[[Path], None], what: str) -> Path:
    """The runtime's file for a model that `export` writes as ONNX: exported and converted once,
    verified by checksum afterwards.

    One process at a time exports (a file lock beside the export); another one starting
    meanwhile waits and then uses the finished copy. The export is written in a staging
    directory and moved into place in one rename, so no process ever reads a partial one.
    """
    if runtime not in RUNTIMES:
        raise ModelError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    target = export_dir(cache_dir, identity, runtime)
    if _is_complete(target):
        return target / _main_file(runtime)
    try:
        with cache_lock(target.parent, runtime, f"the {runtime} export of the {what}"):
            if not _is_complete(target):  # not finished by another process while this one waited
                _export_into(target, identity, runtime, export, what)
    except OSError as exc:
        raise ModelError(
            f"cannot write the {runtime} export of the {what} in {target.parent}/ ({exc.strerror or exc}); "
            "set ASSISTANT_MODEL_CACHE to a writable folder"
        ) from exc
    return target / _main_file(runtime)


def _export_into(target: Path, identity: str, runtime: str, export: Callable[[Path], None], what: str) -> None:
    log.info("preparing the %s runtime of the %s (once, about 20 s)", runtime, what)

    def write(staging: Path) -> dict[str, Any]:
        try:
            export(staging / ONNX_FILE)
            _convert(runtime, staging / ONNX_FILE)
        except (ModelError, OSError):
            raise
        except Exception as exc:
            raise ModelError(f"cannot prepare the {runtime} runtime of the {what}: {exc}") from exc
        return {"identity": identity, "runtime": runtime}

    publish_dir(target, ".export-", write, CHECKSUM_FILE)
