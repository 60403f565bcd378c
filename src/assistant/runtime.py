"""Fast CPU runtimes for the embedding model: OpenVINO and ONNX Runtime, no torch at run time.

A sentence-transformers directory (the provisioned default or one of the user's) is
exported once to ONNX with torch, then converted for the chosen runtime:

- `openvino`: OpenVINO IR, full-precision weights; OpenVINO computes in bf16 where the
  CPU supports it and in fp32 elsewhere (vectors within 1e-4 cosine of torch fp32);
- `onnx`: the fp32 ONNX graph run by ONNX Runtime;
- `onnx-int8`: ONNX Runtime with weights quantised to int8 (dynamic quantisation).

The converted files live in `<model cache>/exports/<model identity>/<runtime>/` with a
checksum file, are built in a staging directory and moved into place in one rename,
and are rebuilt when missing or altered. Tokenisation, prompts, pooling and
normalisation follow the model directory's own sentence-transformers configuration.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ModelError
from assistant.files import file_digests, file_stamps

log = logging.getLogger(__name__)

RUNTIMES = ("openvino", "onnx", "onnx-int8")
EXPORT_VERSION = 1
CHECKSUM_FILE = "checksums.json"
ONNX_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
OPENVINO_FILE = "openvino_model.xml"


@dataclass(frozen=True)
class ModelLayout:
    """What a sentence-transformers directory says about running its model."""

    transformer_dir: Path
    tokenizer_file: Path
    max_seq_length: int
    prompts: dict[str, str]
    pooling: str  # "mean" or "cls"
    dimension: int


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc


def read_layout(model_dir: Path) -> ModelLayout:
    """Transformer, pooling and prompts of a sentence-transformers directory; unsupported layouts are refused."""
    modules = _read_json(model_dir / "modules.json")
    by_type = {m.get("type", "").rsplit(".", 1)[-1]: m for m in modules if isinstance(m, dict)}
    if "Transformer" not in by_type or "Pooling" not in by_type:
        raise ModelError(f"{model_dir} is not a Transformer + Pooling sentence-transformers model")
    transformer_dir = model_dir / by_type["Transformer"].get("path", "")
    pooling = _read_json(model_dir / by_type["Pooling"]["path"] / "config.json")
    modes = [k.removeprefix("pooling_mode_").removesuffix("_token") for k, v in pooling.items() if v is True]
    mode = {"mean_tokens": "mean", "mean": "mean", "cls": "cls"}.get(modes[0]) if len(modes) == 1 else None
    if mode is None:
        raise ModelError(
            f"{model_dir}: pooling {modes} is not supported by the fast runtimes; use ASSISTANT_BACKEND=torch"
        )
    tokenizer_file = transformer_dir / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise ModelError(f"{model_dir} has no fast tokenizer (tokenizer.json); use ASSISTANT_BACKEND=torch")
    st_config = model_dir / "sentence_bert_config.json"
    max_len = int(_read_json(st_config).get("max_seq_length") or 512) if st_config.is_file() else 512
    st_prompts = model_dir / "config_sentence_transformers.json"
    prompts = _read_json(st_prompts).get("prompts") or {} if st_prompts.is_file() else {}
    return ModelLayout(
        transformer_dir=transformer_dir,
        tokenizer_file=tokenizer_file,
        max_seq_length=max_len,
        prompts={k: v for k, v in prompts.items() if isinstance(v, str)},
        pooling=mode,
        dimension=int(pooling.get("word_embedding_dimension") or 0),
    )


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
        recorded = _read_json(target / CHECKSUM_FILE)
    except ModelError:
        return False
    if not isinstance(recorded, dict) or not recorded.get("files"):
        return False
    if recorded.get("stamps") == file_stamps(target, CHECKSUM_FILE):
        return True
    return bool(recorded.get("files") == file_digests(target, CHECKSUM_FILE))


def prepare_runtime(layout: ModelLayout, identity: str, runtime: str, cache_dir: Path) -> Path:
    """The runtime's model file for this model, exported and converted once, verified afterwards."""
    return prepare_export(
        identity, runtime, cache_dir, lambda onnx: _export_encoder(layout.transformer_dir, onnx), "embedding model"
    )


def prepare_export(identity: str, runtime: str, cache_dir: Path, export: Callable[[Path], None], what: str) -> Path:
    """The runtime's file for a model that `export` writes as ONNX: exported and converted once
    (in a staging directory moved into place in one rename), verified by checksum afterwards."""
    if runtime not in RUNTIMES:
        raise ModelError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    target = export_dir(cache_dir, identity, runtime)
    if _is_complete(target):
        return target / _main_file(runtime)
    log.info("preparing the %s runtime of the %s (once, about 20 s)", runtime, what)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        export(staging / ONNX_FILE)
        _convert(runtime, staging / ONNX_FILE)
        checksums = {
            "identity": identity,
            "runtime": runtime,
            "files": file_digests(staging, CHECKSUM_FILE),
            "stamps": file_stamps(staging, CHECKSUM_FILE),
        }
        (staging / CHECKSUM_FILE).write_text(json.dumps(checksums, indent=2), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        try:
            os.replace(staging, target)
        except OSError:
            if not _is_complete(target):  # another process finished first: keep its copy
                raise
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"cannot prepare the {runtime} runtime of the {what}: {exc}") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target / _main_file(runtime)


def session(runtime: str, path: Path, threads: int | None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A function from (input_ids, attention_mask) to token states, for the chosen runtime."""
    if runtime == "openvino":
        import openvino as ov

        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        compiled = ov.Core().compile_model(str(path), "CPU", config)
        request = compiled.create_infer_request()

        def run_openvino(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            return np.asarray(request.infer({"input_ids": ids, "attention_mask": mask})[0])

        return run_openvino
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run_onnx(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {"input_ids": ids, "attention_mask": mask})[0])

    return run_onnx


class _QueryBatcher:
    """Encodes the questions of concurrent requests together.

    The first caller to find the model idle runs every question waiting at that moment in
    one call; the others wait for their vectors. Alone, a question goes straight through;
    under load, one batch of 8 short questions costs about what 2 or 3 single ones do.
    """

    def __init__(self, run: Callable[[list[str]], np.ndarray]) -> None:
        self._run = run
        self._cond = threading.Condition()
        self._waiting: list[_Pending] = []
        self._busy = False

    def encode(self, texts: list[str]) -> np.ndarray:
        mine = _Pending(texts)
        with self._cond:
            self._waiting.append(mine)
            while not mine.done and self._busy:
                self._cond.wait()
            if mine.done:
                return mine.result()
            batch, self._waiting, self._busy = self._waiting, [], True
        try:
            vectors = self._run([t for pending in batch for t in pending.texts])
            start = 0
            for pending in batch:
                pending.vectors = vectors[start : start + len(pending.texts)]
                start += len(pending.texts)
        except BaseException as exc:
            for pending in batch:
                pending.error = exc
        with self._cond:
            for pending in batch:
                pending.done = True
            self._busy = False
            self._cond.notify_all()
        return mine.result()


class _Pending:
    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.done = False
        self.vectors: np.ndarray | None = None
        self.error: BaseException | None = None

    def result(self) -> np.ndarray:
        if self.error is not None:
            raise self.error
        assert self.vectors is not None
        return self.vectors


class RuntimeEmbedder:
    """The model on OpenVINO or ONNX Runtime: same tokenizer, prompts, pooling and normalisation as the directory."""

    def __init__(
        self, model_dir: Path, identity: str, runtime: str, cache_dir: Path, threads: int | None = None
    ) -> None:
        from tokenizers import Tokenizer

        layout = read_layout(model_dir)
        path = prepare_runtime(layout, identity, runtime, cache_dir)
        try:
            self._run = session(runtime, path, threads)
            self._tokenizer = Tokenizer.from_file(str(layout.tokenizer_file))
        except Exception as exc:
            raise ModelError(f"cannot load the {runtime} runtime of the model from {path}: {exc}") from exc
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=layout.max_seq_length)
        self._pad_id = self._tokenizer.token_to_id("<pad>") or self._tokenizer.token_to_id("[PAD]") or 0
        self._layout = layout
        self.identity = identity
        self.runtime = runtime
        self._lock = threading.Lock()
        probe = self._embed(["probe"])
        self.dimension = int(probe.shape[1])
        self._queries = _QueryBatcher(lambda texts: self._embed(texts, batch_size=32))

    def _embed(self, texts: list[str], batch_size: int = 8, progress: bool = False) -> np.ndarray:
        """Unit vectors of the texts, as given (prompts already applied), in their order.

        Texts are sorted by length and run `batch_size` at a time: little padding, and small
        batches keep the attention matrices in cache (8 measured fastest on 2 cores)."""
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=True)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")
        out: np.ndarray | None = None
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        for start in starts:
            rows = order[start : start + batch_size]
            width = int(lengths[rows].max())
            ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                ids[r, : lengths[i]] = encodings[i].ids
                mask[r, : lengths[i]] = 1
            with self._lock:  # one inference at a time uses both cores best, and OpenVINO requests are not shared
                states = self._run(ids, mask)
            if self._layout.pooling == "cls":
                vectors = states[:, 0, :]
            else:
                vectors = (states * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        assert out is not None
        return out

    def _encode(self, texts: list[str], prompt_name: str, batch_size: int, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prefix = self._layout.prompts.get(prompt_name, "")
        return self._embed([prefix + t for t in texts], batch_size, progress)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prefix = self._layout.prompts.get("query", "")
        return self._queries.encode([prefix + t for t in texts])

    def encode_passages(self, texts: list[str], batch_size: int = 8, progress: bool = False) -> np.ndarray:
        return self._encode(texts, "passage", batch_size, progress)
