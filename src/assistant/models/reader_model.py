"""The answerability reader as a torch module: built for training and for its one-time export.

The reader is a cross-encoder: it reads a question and one candidate sentence together and
says how likely the sentence answers the question. It is the first `LAYERS` layers of the
provisioned embedding model (multilingual-e5-small), mean pooling, and one linear unit.
The embeddings and the lowest `FROZEN` layers keep the provisioned weights; only the layers
above them and the head are trained, so only those are shipped (`READER_WEIGHTS`, a
safetensors file), laid over the weights every install already has. torch is needed here
only: serving runs the exported graph (`assistant.models.reader`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assistant.errors import ModelError
from assistant.files import sha256_file
from assistant.models.export import quiet_transformers

LAYERS = 6
FROZEN = 4  # embeddings and layers 0..FROZEN-1 keep the provisioned weights
MAX_TOKENS = 96  # question + sentence; longer pairs lose the end of the sentence
READER_WEIGHTS = Path(__file__).parent / "data" / "reader.safetensors"
READER_CARD = READER_WEIGHTS.with_suffix(".json")  # provenance, figures and the weights' checksum


def pair(question: str, title: str, sentence: str) -> tuple[str, str]:
    """The two texts the reader reads (the embedding model's own prompts, the title as context)."""
    context = f"{title} : {sentence}" if title else sentence
    return f"query: {question}", f"passage: {context}"


def read_card(path: Path = READER_CARD) -> dict[str, Any]:
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the reader's record {path}: {exc}") from exc
    if not isinstance(card, dict) or "sha256" not in card:
        raise ModelError(f"{path} is not a reader record (no sha256)")
    return card


def verify_weights(weights: Path = READER_WEIGHTS, card_path: Path = READER_CARD) -> str:
    """The weights' checksum, after checking it against the record; a mismatch is refused."""
    card = read_card(card_path)
    if not weights.is_file():
        raise ModelError(f"the reader's weights {weights} are missing; reinstall the assistant")
    digest = sha256_file(weights)
    if digest != card["sha256"]:
        raise ModelError(f"the reader's weights {weights} do not match their checksum; reinstall the assistant")
    return digest


def build(
    transformer_dir: Path, weights: Path | None, attention: str = "eager", layers: int = LAYERS, frozen: int = FROZEN
) -> Any:
    """The reader module over the provisioned transformer; with `weights`, the trained layers
    and head laid over it (without, the head is freshly initialised, for training).
    `attention="sdpa"` gives the same function as one attention operation, which the
    OpenVINO export runs fused."""
    import torch
    from transformers import AutoModel

    quiet_transformers()
    encoder = AutoModel.from_pretrained(
        str(transformer_dir), num_hidden_layers=layers, attn_implementation=attention, add_pooling_layer=False
    )

    class Reader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = torch.nn.Linear(encoder.config.hidden_size, 1)

        @staticmethod
        def additive_mask(mask: torch.Tensor) -> torch.Tensor:
            return (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min

        def lower(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            """Token states after the frozen layers (what training computes once and keeps)."""
            states = self.encoder.embeddings(input_ids=ids)
            extended = self.additive_mask(mask)
            for layer in self.encoder.encoder.layer[:frozen]:
                states = layer(states, attention_mask=extended)
                states = states[0] if isinstance(states, tuple) else states
            return states

        def upper(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            """The logit that the sentence answers, from the frozen layers' token states."""
            extended = self.additive_mask(mask)
            for layer in self.encoder.encoder.layer[frozen:]:
                states = layer(states, attention_mask=extended)
                states = states[0] if isinstance(states, tuple) else states
            weights = mask.to(states.dtype)[:, :, None]
            pooled = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.upper(self.lower(input_ids, attention_mask), attention_mask)

        def trained_state(self) -> dict[str, torch.Tensor]:
            """The parameters training changes: what the shipped file holds."""
            return {
                name: value
                for name, value in self.state_dict().items()
                if name.startswith("head.") or any(name.startswith(f"encoder.encoder.layer.{i}.") for i in self.trained)
            }

        trained = tuple(range(frozen, layers))

    reader = Reader()
    if weights is not None:
        from safetensors.torch import load_file

        state = {k: v.to(torch.float32) for k, v in load_file(str(weights)).items()}
        expected = set(reader.trained_state())
        if set(state) != expected:
            raise ModelError(f"{weights} does not hold the reader's trained layers")
        reader.load_state_dict(state, strict=False)
    return reader.eval()
