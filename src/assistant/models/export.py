"""The one-off export of a model for the fast runtimes: torch → OpenVINO IR, ONNX or int8 ONNX.

A sentence-transformers directory (the provisioned default or one of the user's), or the
answer reader, is a torch module of (input_ids, attention_mask), exported once for the
chosen runtime:

- `openvino`: OpenVINO IR converted from the torch module by OpenVINO's PyTorch frontend,
  full-precision weights; OpenVINO computes in bf16 where the CPU supports it and in fp32
  elsewhere (vectors within 1e-4 cosine of torch fp32). The frontend keeps attention as one
  operation, which OpenVINO runs fused; the same model read from ONNX had its attention
  spelled out in MatMul/Softmax/Transpose nodes and ran 1.5-4× slower on long passages
  (docs/performance.md).
- `onnx`: the fp32 ONNX graph (torch's exporter) run by ONNX Runtime;
- `onnx-int8`: ONNX Runtime with weights quantised to int8 (dynamic quantisation).

The converted files live in `<model cache>/exports/<model identity>/<runtime>/` with a
checksum file, are built in a staging directory and moved into place in one rename
(one process at a time, under a file lock), and are rebuilt when missing or altered.
Inference on them is `runtime.py`'s.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.errors import ModelError
from assistant.files import cache_lock, file_digests, file_stamps, publish_dir, read_json

log = logging.getLogger(__name__)

RUNTIMES = ("openvino", "onnx", "onnx-int8")
EXPORT_VERSION = 3  # 3: OpenVINO's word embeddings apart; 2: IR from the PyTorch frontend (1: from ONNX)
CHECKSUM_FILE = "checksums.json"
ONNX_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
OPENVINO_FILE = "openvino_model.xml"
WORD_EMBEDDINGS = "word_embeddings.npy"  # the OpenVINO graph's word-embedding table, read by row
EMBEDS_INPUT = "inputs_embeds"


def quiet_transformers() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass


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


def encoder_module(transformer_dir: Path) -> Any:
    """The encoder as a torch module: (input_ids, attention_mask) -> token states."""
    import torch
    from transformers import AutoModel

    quiet_transformers()
    encoder = AutoModel.from_pretrained(str(transformer_dir)).eval()

    class TokenStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return TokenStates()


def write_runtime_file(module: Any, runtime: str, directory: Path, output: str) -> Path:
    """Write the torch module in the runtime's format into `directory`; returns the main file."""
    if runtime == "openvino":
        return _write_openvino(module, directory / OPENVINO_FILE)
    onnx_path = directory / ONNX_FILE
    export_onnx(module, onnx_path, output)
    if runtime == "onnx":
        return onnx_path
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


def _write_openvino(module: Any, target: Path) -> Path:
    """OpenVINO IR through the PyTorch frontend, batch and token axes dynamic.

    The frontend is called directly, not through `ov.convert_model`: that converter tool
    sends usage telemetry unless opted out, and the assistant makes no network calls. The
    offline transformations are the ones `ov.convert_model` applies. Weights stay fp32."""
    import openvino as ov
    import torch
    from openvino._offline_transformations import apply_moc_transformations
    from openvino.frontend import FrontEndManager
    from openvino.frontend.pytorch.ts_decoder import TorchScriptPythonDecoder

    example = torch.ones(2, 16, dtype=torch.long)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        decoder = TorchScriptPythonDecoder(module, example_input=(example, example))
        frontend = FrontEndManager().load_by_framework("pytorch")
        model = frontend.convert(frontend.load(decoder))
    apply_moc_transformations(model, cf=False, smart_reshape=True)
    names = [sorted(i.get_names()) for i in model.inputs]
    if len(names) != 2 or "input_ids" not in names[0] or "attention_mask" not in names[1]:
        raise ModelError(f"the OpenVINO conversion named the inputs {names}, not input_ids and attention_mask")
    _word_embeddings_apart(model, target.parent / WORD_EMBEDDINGS)
    ov.save_model(model, str(target), compress_to_fp16=False)
    return target


def _word_embeddings_apart(model: Any, table_file: Path) -> None:
    """Take the word-embedding table out of the graph: its rows come in as `inputs_embeds`,
    gathered from `table_file` by the runtime. OpenVINO keeps every weight of a compiled
    model resident, and e5's 250,037 × 384 table (384 MB in fp32, in the embedder and again
    in the reader) is most of them, while a text uses a few thousand rows: read from a
    memory-mapped file, only those become resident. The graph keeps `input_ids` for the
    position ids, so it computes exactly what it did with the table inside."""
    import numpy as np
    import openvino as ov

    gathers = [
        op
        for op in model.get_ordered_ops()
        if op.get_type_name() == "Gather"
        and op.input_value(0).get_node().get_type_name() == "Constant"
        and len(op.input_value(0).get_shape()) == 2
    ]
    if not gathers:
        raise ModelError("the OpenVINO conversion has no embedding table")
    gather = max(gathers, key=lambda op: op.input_value(0).get_shape()[0])  # the vocabulary's, by far the largest
    table = np.asarray(gather.input_value(0).get_node().get_data(), dtype=np.float32)
    np.save(table_file, table, allow_pickle=False)
    embeds = ov.op.Parameter(ov.Type.f32, ov.PartialShape([-1, -1, table.shape[1]]))
    embeds.set_friendly_name(EMBEDS_INPUT)
    embeds.output(0).set_names({EMBEDS_INPUT})
    for consumer in gather.output(0).get_target_inputs():
        consumer.replace_source_output(embeds.output(0))
    model.add_parameters([embeds])


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
        identity,
        runtime,
        cache_dir,
        lambda directory: write_runtime_file(encoder_module(transformer_dir), runtime, directory, "token_states"),
        "embedding model",
    )


def prepare_export(identity: str, runtime: str, cache_dir: Path, export: Callable[[Path], object], what: str) -> Path:
    """The runtime's file for a model that `export` writes into the directory it is given
    (as `write_runtime_file` does): exported once, verified by checksum afterwards.

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


def _export_into(target: Path, identity: str, runtime: str, export: Callable[[Path], object], what: str) -> None:
    log.info("preparing the %s runtime of the %s (once, about 20 s)", runtime, what)

    def write(staging: Path) -> dict[str, Any]:
        try:
            export(staging)
        except (ModelError, OSError):
            raise
        except Exception as exc:
            raise ModelError(f"cannot prepare the {runtime} runtime of the {what}: {exc}") from exc
        return {"identity": identity, "runtime": runtime}

    publish_dir(target, ".export-", write, CHECKSUM_FILE)
