"""Text -> vectors. The `Embedder` interface and its sentence-transformers implementation."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.config import DEFAULT_MODEL, Settings
from assistant.errors import ModelError
from assistant.models.export import quiet_transformers
from assistant.models.provision import provision_default_model
from assistant.models.runtime import RuntimeEmbedder

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What the index and the search need from a model: unit vectors for queries and passages."""

    identity: str
    dimension: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str], batch_size: int = 8, progress: bool = False) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model; E5-style prompts are used when the model declares them."""

    def __init__(self, path_or_name: str, identity: str, threads: int | None = None, device: str = "cpu") -> None:
        quiet_transformers()
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        try:
            self.model = SentenceTransformer(path_or_name, device=device)
            if device != "cpu":  # bulk builds on a GPU: bf16 (cosine >= 0.999 to the CPU's fp32 vectors)
                self.model = self.model.to(torch.bfloat16)
        except Exception as exc:
            raise ModelError(
                f"cannot load the embedding model {path_or_name!r}: {exc}. "
                "Set ASSISTANT_MODEL to 'default' or to a local sentence-transformers directory."
            ) from exc
        self.identity = identity
        dim = self.model.get_embedding_dimension()
        if not dim:
            raise ModelError(f"the model {path_or_name!r} does not say its embedding dimension")
        self.dimension = int(dim)
        prompts = self.model.prompts or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = "passage" if "passage" in prompts else None
        self._lock = threading.Lock()

    def _encode(self, texts: list[str], prompt: str | None, batch_size: int, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:  # torch modules are not re-entrant across threads for our use
            vectors = self.model.encode(
                texts,
                prompt_name=prompt,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt, 32, False)

    def encode_passages(self, texts: list[str], batch_size: int = 8, progress: bool = False) -> np.ndarray:
        return self._encode(texts, self._passage_prompt, batch_size, progress)


def _directory_identity(path: Path) -> str:
    """Name plus a digest of the model's files: another model (or other weights), another id."""
    h = hashlib.sha256()
    checksums = path / "checksums.json"
    if checksums.is_file():
        recorded = json.loads(checksums.read_text(encoding="utf-8"))
        h.update(json.dumps(recorded.get("files"), sort_keys=True).encode())
    else:
        for item in sorted(path.rglob("*")):
            if item.is_file():
                h.update(item.relative_to(path).as_posix().encode())
                h.update(str(item.stat().st_size).encode())
                if item.suffix == ".json":
                    h.update(item.read_bytes())
    return f"{path.name}@{h.hexdigest()[:16]}"


def gpu(settings: Settings) -> str | None:
    """The torch device for bulk builds: "cuda" when `settings.device` asks for it and one is there."""
    if settings.device == "cpu":
        return None
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if settings.device == "cuda":
        raise ModelError(
            "ASSISTANT_DEVICE=cuda, but torch sees no CUDA GPU on this machine (a CPU-only torch, or no driver); "
            "use ASSISTANT_DEVICE=auto to fall back to the CPU"
        )
    return None


def load_bulk_embedder(settings: Settings, serving: Embedder) -> Embedder:
    """The embedder for `assistant index`: the serving one, or the same model on a GPU in bf16
    (same identity: its vectors are served by the CPU backends) when `settings.device` says so."""
    device = gpu(settings)
    if device is None:
        return serving
    if settings.backend == "onnx-int8":
        raise ModelError("a GPU build gives full-precision vectors; it cannot build an index for the int8 backend")
    default = settings.model == DEFAULT_MODEL
    path = str(provision_default_model(settings.model_cache)) if default else settings.model
    bulk = SentenceTransformerEmbedder(path, serving.identity, settings.threads, device)
    return GpuBatches(bulk, max(settings.batch_size, 256))


class GpuBatches:
    """A GPU embedder called with large batches (sentence-transformers sorts texts by length)."""

    def __init__(self, inner: SentenceTransformerEmbedder, batch_size: int) -> None:
        self.inner, self.batch_size = inner, batch_size
        self.identity, self.dimension = inner.identity, inner.dimension

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts: list[str], batch_size: int = 8, progress: bool = False) -> np.ndarray:
        return self.inner.encode_passages(texts, max(batch_size, self.batch_size), progress)


def load_embedder(settings: Settings) -> Embedder:
    """The configured model (the offline default, a local directory, or a hub name) on the configured backend.

    The fp32 backends (torch, OpenVINO, ONNX Runtime) give the same vectors to within
    1e-4 cosine and share the model's identity, so an index built with one is served by
    the others; int8 weights change the vectors and get their own identity.
    """
    if settings.model == DEFAULT_MODEL:
        path: Path | None = provision_default_model(settings.model_cache)
    else:
        local = Path(settings.model).expanduser()
        path = local if local.is_dir() else None
    if path is None:
        if settings.backend != "torch":
            raise ModelError(
                f"ASSISTANT_MODEL={settings.model!r} is not a local directory; the {settings.backend} backend "
                "needs one (or set ASSISTANT_BACKEND=torch to load a hub name)"
            )
        return SentenceTransformerEmbedder(settings.model, settings.model, settings.threads)
    identity = _directory_identity(path)
    if settings.backend == "torch":
        return SentenceTransformerEmbedder(str(path), identity, settings.threads)
    if settings.backend == "onnx-int8":
        identity += "+int8"
    return RuntimeEmbedder(path, identity, settings.backend, settings.model_cache, settings.threads, settings.precision)
