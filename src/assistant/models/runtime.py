"""Fast CPU inference for the embedding model: OpenVINO and ONNX Runtime, no torch at run time.

The model runs from its one-off export (`export.py`). Tokenisation, prompts, pooling and
normalisation follow the model directory's own sentence-transformers configuration;
concurrent questions are encoded together (`batching.Batcher`).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ModelError
from assistant.files import read_json
from assistant.models.batching import Batcher
from assistant.models.export import EMBEDS_INPUT, WORD_EMBEDDINGS, prepare_runtime
from assistant.models.tokenizer import load_tokenizer


@dataclass(frozen=True)
class ModelLayout:
    """What a sentence-transformers directory says about running its model."""

    transformer_dir: Path
    tokenizer_file: Path
    max_seq_length: int
    prompts: dict[str, str]
    pooling: str  # "mean" or "cls"
    dimension: int


def read_layout(model_dir: Path) -> ModelLayout:
    """Transformer, pooling and prompts of a sentence-transformers directory; unsupported layouts are refused."""
    modules = read_json(model_dir / "modules.json")
    by_type = {m.get("type", "").rsplit(".", 1)[-1]: m for m in modules if isinstance(m, dict)}
    if "Transformer" not in by_type or "Pooling" not in by_type:
        raise ModelError(f"{model_dir} is not a Transformer + Pooling sentence-transformers model")
    transformer_dir = model_dir / by_type["Transformer"].get("path", "")
    pooling = read_json(model_dir / by_type["Pooling"]["path"] / "config.json")
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
    max_len = int(read_json(st_config).get("max_seq_length") or 512) if st_config.is_file() else 512
    st_prompts = model_dir / "config_sentence_transformers.json"
    prompts = read_json(st_prompts).get("prompts") or {} if st_prompts.is_file() else {}
    return ModelLayout(
        transformer_dir=transformer_dir,
        tokenizer_file=tokenizer_file,
        max_seq_length=max_len,
        prompts={k: v for k, v in prompts.items() if isinstance(v, str)},
        pooling=mode,
        dimension=int(pooling.get("word_embedding_dimension") or 0),
    )


class WordRows:
    """The rows of a word-embedding table (.npy) that a batch of token ids uses, read from the
    file as needed. Not a memory map: the kernel maps neighbouring pages with each one touched,
    so the process would soon hold much of the table (docs/performance.md); rows read stay in
    the page cache, shared and reclaimable, not in the process."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            self._offset = f.tell()
        if len(shape) != 2 or fortran or dtype != np.float32:
            raise ModelError(f"{path} is not a float32 table of rows")
        self._rows, self._width = int(shape[0]), int(shape[1])
        self._path = path
        self._fd = os.open(path, os.O_RDONLY)  # kept while the model lives: pread is safe from any thread
        weakref.finalize(self, os.close, self._fd)

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The table's rows for `ids`, shaped as `ids` plus the row width."""
        unique, where = np.unique(ids, return_inverse=True)
        if unique.size and (unique[0] < 0 or unique[-1] >= self._rows):
            raise ModelError(f"token id out of the vocabulary of {self._path}")
        size = self._width * 4
        read = np.empty((unique.size, self._width), dtype=np.float32)
        for i, token in enumerate(unique.tolist()):
            read[i] = np.frombuffer(os.pread(self._fd, size, self._offset + token * size), dtype=np.float32)
        return read[where.reshape(ids.shape)]


def session(
    runtime: str, path: Path, threads: int | None, precision: str = "auto"
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A function from (input_ids, attention_mask) to the model's output, for the chosen runtime;
    `precision` "f32" keeps OpenVINO from computing in bf16 where the CPU could."""
    if runtime == "openvino":
        import openvino as ov

        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        if precision == "f32":
            config["INFERENCE_PRECISION_HINT"] = "f32"
        compiled = ov.Core().compile_model(str(path), "CPU", config)
        request = compiled.create_infer_request()
        table = WordRows(path.parent / WORD_EMBEDDINGS)  # the graph's word embeddings (export.py)

        def run_openvino(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            feed = {"input_ids": ids, "attention_mask": mask, EMBEDS_INPUT: table.rows(ids)}
            return np.asarray(request.infer(feed)[0])

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


MAX_BATCH_ROWS = 64


def _batches(sorted_lengths: np.ndarray, batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) of each batch over texts sorted longest first: `batch_size` texts of
    256 tokens or more, more of shorter ones (the same tokens per call, up to 64 texts).

    A model call has a fixed cost; with 8 texts per call, the 7,000 short sentence units of
    a 15-chapter manual took 33 s, in calls of ~2,000 tokens 28 s (2-core AMX Xeon)."""
    budget = batch_size * 256
    out = []
    start, n = 0, len(sorted_lengths)
    while start < n:
        width = max(int(sorted_lengths[start]), 1)  # the longest text of the batch sets its width
        rows = min(MAX_BATCH_ROWS, max(batch_size, budget // width))
        out.append((start, min(n, start + rows)))
        start += rows
    return out


class RuntimeEmbedder:
    """The model on OpenVINO or ONNX Runtime: same tokenizer, prompts, pooling and normalisation as the directory."""

    def __init__(
        self,
        model_dir: Path,
        identity: str,
        runtime: str,
        cache_dir: Path,
        threads: int | None = None,
        precision: str = "auto",
    ) -> None:
        layout = read_layout(model_dir)
        path = prepare_runtime(layout.transformer_dir, identity, runtime, cache_dir)
        try:
            self._run = session(runtime, path, threads, precision)
            self._tokenizer = load_tokenizer(layout.tokenizer_file)
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
        self._queries: Batcher[str] = Batcher(lambda texts: self._embed(texts, batch_size=32))

    def _embed(self, texts: list[str], batch_size: int = 8, progress: bool = False) -> np.ndarray:
        """Unit vectors of the texts, as given (prompts already applied), in their order.

        Texts are sorted by length and run in batches of about `batch_size` × 256 tokens
        (`_batches`): little padding, small batches of long passages, large batches of short
        sentences."""
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=True)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")
        out: np.ndarray | None = None
        batches = _batches(lengths[order], batch_size)
        if progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="embedding", unit="batch")
        for start, stop in batches:
            rows = order[start:stop]
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
        return self._queries.submit([prefix + t for t in texts])

    def encode_passages(self, texts: list[str], batch_size: int = 8, progress: bool = False) -> np.ndarray:
        return self._encode(texts, "passage", batch_size, progress)
