"""The answerability reader at answer time: how likely each candidate sentence answers the question.

The trained layers (`assistant/models/data/reader.safetensors`, checked against their recorded
checksum) are laid over the provisioned embedding model once, exported and converted for
the embedder's runtime (OpenVINO by default; ONNX Runtime for the onnx backends), and kept
in the model cache like the embedder's export. Serving runs that graph: no torch. With the
torch backend the module runs in torch.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.errors import ModelError
from assistant.models import reader_model
from assistant.models.batching import Batcher
from assistant.models.export import prepare_export, write_runtime_file
from assistant.models.provision import provision_default_model
from assistant.models.runtime import session
from assistant.models.tokenizer import load_tokenizer

log = logging.getLogger(__name__)


class Reader:
    """Scores (question, title, sentence) triples: a logit, higher when the sentence answers."""

    def __init__(
        self,
        transformer_dir: Path,
        runtime: str,
        cache_dir: Path,
        threads: int | None = None,
        precision: str = "auto",
    ) -> None:
        digest = reader_model.verify_weights()
        self.identity = f"reader@{digest[:16]}"
        self.runtime = "onnx" if runtime == "onnx-int8" else runtime  # int8 would change the calibrated scores
        try:
            self._run = self._load(transformer_dir, cache_dir, threads, precision)
            self._tokenizer = load_tokenizer(transformer_dir / "tokenizer.json")
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"cannot load the answer reader: {exc}") from exc
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=reader_model.MAX_TOKENS)
        # concurrent requests' candidates are read in one call, by one thread at a time: the
        # inference object is not shared between calls, and no request waits behind a lock
        self._pairs: Batcher[tuple[str, str]] = Batcher(self._logits)

    def _load(
        self, transformer_dir: Path, cache_dir: Path, threads: int | None, precision: str
    ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        if self.runtime == "torch":
            import torch

            module = reader_model.build(transformer_dir, reader_model.READER_WEIGHTS)

            def run_torch(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
                with torch.no_grad():
                    return module(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()

            return run_torch

        def export(directory: Path) -> Path:
            module = reader_model.build(transformer_dir, reader_model.READER_WEIGHTS, attention="sdpa")
            return write_runtime_file(module, self.runtime, directory, "logits")

        identity = f"{transformer_dir.name}+{self.identity}"
        path = prepare_export(identity, self.runtime, cache_dir, export, "answer reader")
        return session(self.runtime, path, threads, precision)

    def score(self, question: str, candidates: list[tuple[str, str]]) -> np.ndarray:
        """Logits of (title, sentence) candidates for the question, in their order."""
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        return self._pairs.submit([reader_model.pair(question, title, sentence) for title, sentence in candidates])

    def _logits(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(pairs)
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(pairs), width), 1, dtype=np.int64)  # 1: the model's padding id
        mask = np.zeros((len(pairs), width), dtype=np.int64)
        for r, e in enumerate(encodings):
            ids[r, : len(e.ids)] = e.ids
            mask[r, : len(e.ids)] = 1
        return np.asarray(self._run(ids, mask), dtype=np.float32).reshape(-1)


def load_reader(settings: Settings) -> Reader:
    """The answer reader over the provisioned embedding model, on the embedder's runtime; one
    per process and configuration (it is stateless and batches concurrent calls)."""
    return _reader(settings.backend, settings.model_cache, settings.threads, settings.precision)


@functools.lru_cache(maxsize=4)
def _reader(backend: str, cache: Path, threads: int | None, precision: str) -> Reader:
    return Reader(provision_default_model(cache), backend, cache, threads, precision)
