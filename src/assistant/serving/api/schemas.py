"""HTTP request and response models, separate from the internal dataclasses."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from assistant.serving.assistant import MAX_TOP_K

MAX_HISTORY_TURNS = 20
MAX_ANSWER_CHARS = 10_000


class HistoryTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="A previous question (at most `limits.max_question_chars` of /api/health).")
    answer: str | None = Field(None, max_length=MAX_ANSWER_CHARS)


class AnswerRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"question": "Combien de pays l'équipe du MEDEF a-t-elle visités ?", "top_k": 5}]
        },
    )

    question: str = Field(
        description="The question, in French or English; it must contain a visible character "
        "(control and formatting characters are removed first, and a question left empty is refused with 422). "
        "At most ASSISTANT_MAX_QUESTION_CHARS characters (2,000 unless configured; `limits` of /api/health).",
        min_length=1,
    )
    top_k: int | None = Field(
        None, ge=1, le=MAX_TOP_K, description="How many passages to cite; unset, ASSISTANT_TOP_K (5 unless configured)."
    )
    history: list[HistoryTurn] = Field(
        default_factory=list, max_length=MAX_HISTORY_TURNS, description="Earlier turns, oldest first, for follow-ups."
    )


class AnswerSpanOut(BaseModel):
    text: str = Field(description="The sentence that best answers the question, quoted exactly.")
    citation: int = Field(description="Index into `citations` of the passage it comes from.")
    start: int = Field(description="Offset of the sentence in the document text.")
    end: int


class CitationOut(BaseModel):
    rank: int
    document_id: str
    title: str
    source: str
    language: str
    text: str = Field(description="The passage; equals the document text [start:end].")
    start: int
    end: int
    score: float = Field(description="Relevance: fused semantic, sentence and keyword evidence.")
    similarity: float = Field(description="Semantic (cosine) similarity between question and passage.")
    matched_terms: list[str] = Field(description="Words of the question found in the passage (keyword evidence).")
    page: int | None = Field(None, description="Page where the passage starts, for paged documents (PDF).")
    section: str | None = Field(
        None, description='Heading path of the passage ("3. Boot › 3.2. Systemd"); null when the document has none.'
    )


class AnswerResponse(BaseModel):
    question: str
    language: str = Field(description="Detected language of the question (ISO 639-1).")
    answer: AnswerSpanOut | None
    abstained: bool = Field(description="True when the documents do not answer the question.")
    message: str = Field(description="A sentence for the reader, in the question's language.")
    citations: list[CitationOut]
    confidence: float = Field(description="How sure the service is that the documents answer (abstains when low).")
    index_version: str
    took_ms: float


class DocumentSummary(BaseModel):
    id: str
    title: str
    language: str
    source: str
    passages: int


class DocumentOut(BaseModel):
    id: str
    title: str
    language: str
    source: str
    passages: int
    sha256: str
    text: str
    pages: list[int] = Field(default_factory=list, description="Offset where each page starts (PDF).")


class Limits(BaseModel):
    max_question_chars: int = Field(description="Longest question accepted (ASSISTANT_MAX_QUESTION_CHARS).")
    top_k: int = Field(description="Passages cited when a request does not say (ASSISTANT_TOP_K).")
    max_top_k: int = Field(description="Most passages a request may ask for.")


class Health(BaseModel):
    status: str = Field(description="'ok', or 'no_index' when the index must be built.")
    model: str
    reader: str | None = Field(description="The answer reader's identity (its weights' checksum); null when off.")
    index_version: str | None
    documents: int
    passages: int
    limits: Limits = Field(description="The server's limits, for clients (the chat page reads them).")


class ErrorOut(BaseModel):
    detail: str


class KeptText(BaseModel):
    source: str = Field(description="The document's file, relative to the corpus folder.")
    visible_words: int = Field(
        description="Words a reader of the file sees (navigation landmarks and link lists aside)."
    )
    kept_words: int = Field(description="Words of the index's passages from this document.")
    share: float = Field(description="kept_words / visible_words.")


class IndexState(BaseModel):
    state: str = Field(description="idle, running, done or failed")
    trigger: str | None = Field(description="api or watch")
    started_at: float | None
    finished_at: float | None
    phase: str | None
    summary: str | None = Field(description="Documents added / updated / removed / unchanged, texts embedded.")
    version: str | None = Field(description="Index version the last rebuild produced.")
    error: str | None
    skipped: list[dict[str, str]] = Field(description="Files that could not be read, and why.")
    runs: int
    index_version: str | None = Field(description="Version being served now.")
    embedding_cache_bytes: int = Field(
        description="Size on disk of the index's embedding cache (it keeps the vectors of the current and "
        "previous versions)."
    )
    kept_warning: float = Field(
        description="Share of visible text under which a document is named (ASSISTANT_KEPT_WARNING)."
    )
    kept_below: list[KeptText] = Field(
        description="Documents of the served version that kept less than kept_warning of their visible text, the "
        "worst first: a page whose content extraction lost, or one that is mostly navigation."
    )
    kept: list[KeptText] = Field(description="Every document of the served version: how much of its text is indexed.")
