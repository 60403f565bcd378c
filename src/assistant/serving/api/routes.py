"""Routes: thin translations between HTTP and the Assistant."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from assistant.errors import AssistantError
from assistant.indexing.indexer import embedding_cache
from assistant.ingest.boilerplate import Kept, kept_below, kept_from_manifest
from assistant.models.embedding_cache import cache_size
from assistant.serving.api.deps import AssistantDep
from assistant.serving.api.schemas import (
    AnswerRequest,
    AnswerResponse,
    DocumentOut,
    DocumentSummary,
    ErrorOut,
    Health,
    IndexState,
    KeptText,
    Limits,
)
from assistant.serving.assistant import MAX_TOP_K, Turn, answer_to_dict

router = APIRouter(prefix="/api")
ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut},
    503: {"model": ErrorOut, "description": "No usable index"},
}


# Plain `def` routes run in FastAPI's threadpool: encoding never blocks the event loop.
@router.post("/answer", response_model=AnswerResponse, responses=ERRORS)
def answer(body: AnswerRequest, assistant: AssistantDep) -> dict[str, object]:
    """Cited passages answering `question`, the sentence that answers it, or an abstention."""
    history = [Turn(t.question, t.answer) for t in body.history]
    return answer_to_dict(assistant.answer(body.question, top_k=body.top_k, history=history))


@router.get("/documents", response_model=list[DocumentSummary], responses={503: {"model": ErrorOut}})
def documents(assistant: AssistantDep) -> list[DocumentSummary]:
    """The indexed documents."""
    return [
        DocumentSummary(id=d.id, title=d.title, language=d.language, source=d.source, passages=n)
        for d, n in assistant.documents()
    ]


@router.get(
    "/documents/{document_id}",
    response_model=DocumentOut,
    responses={404: {"model": ErrorOut}, 503: {"model": ErrorOut}},
)
def document(document_id: str, assistant: AssistantDep) -> DocumentOut:
    """One indexed document, whole, for the source viewer. Only ids of the index are served."""
    found = assistant.document(document_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no indexed document has the id {document_id!r}")
    d, n = found
    return DocumentOut(
        id=d.id,
        title=d.title,
        language=d.language,
        source=d.source,
        passages=n,
        sha256=d.sha256,
        text=d.text,
        pages=list(d.pages),
    )


@router.get("/health", response_model=Health)
def health(assistant: AssistantDep) -> Health:
    """Whether the service can answer, and from which index."""
    model = assistant.embedder.identity
    reader = assistant.reader.identity if assistant.reader is not None else None
    settings = assistant.settings
    limits = Limits(max_question_chars=settings.max_question_chars, top_k=settings.top_k, max_top_k=MAX_TOP_K)
    try:
        store = assistant.store()
    except AssistantError:
        return Health(
            status="no_index", model=model, reader=reader, index_version=None, documents=0, passages=0, limits=limits
        )
    return Health(
        status="ok",
        model=model,
        reader=reader,
        index_version=store.version,
        documents=len(store.documents),
        passages=len(store.passages),
        limits=limits,
    )


def _index_state(request: Request, assistant: AssistantDep) -> IndexState:
    state = request.app.state.rebuilder.state()
    kept: dict[str, Kept] = {}
    try:
        store = assistant.store()
        state["index_version"] = store.version
        kept = kept_from_manifest(store.manifest.get("kept", {}))
    except AssistantError:
        state["index_version"] = None

    def out(source: str, k: Kept) -> KeptText:
        return KeptText(source=source, visible_words=k.visible, kept_words=k.kept, share=round(k.share, 3))

    state["kept_warning"] = assistant.settings.kept_warning
    state["kept"] = [out(source, k) for source, k in kept.items()]
    state["kept_below"] = [out(source, k) for source, k in kept_below(kept, assistant.settings.kept_warning)]
    state["embedding_cache_bytes"] = cache_size(embedding_cache(assistant.settings.index))
    return IndexState(**state)


@router.get("/index", response_model=IndexState)
def index_state(request: Request, assistant: AssistantDep) -> IndexState:
    """State and result of the last rebuild, and the version being served."""
    return _index_state(request, assistant)


@router.post(
    "/index",
    response_model=IndexState,
    status_code=202,
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 409: {"model": ErrorOut}},
)
def rebuild(
    request: Request,
    assistant: AssistantDep,
    authorization: str | None = Header(None, description="Bearer <ASSISTANT_ADMIN_KEY>"),
) -> IndexState | JSONResponse:
    """Start an incremental rebuild from the corpus (admin key required)."""
    expected = assistant.settings.admin_key
    if not expected:
        return JSONResponse(
            {"detail": "rebuilding over HTTP is disabled: set ASSISTANT_ADMIN_KEY (16+ characters) to enable it"},
            status_code=403,
        )
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return JSONResponse(
            {"detail": "a valid admin key is required: Authorization: Bearer <key>"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if assistant.index_store.building():  # on this machine or, with a database store, on any other
        return JSONResponse(
            {"detail": f"another build of the index in {assistant.index_store.location} is running; try again later"},
            status_code=409,
        )
    if not request.app.state.rebuilder.start("api"):
        return JSONResponse({"detail": "a rebuild is already running; see GET /api/index"}, status_code=409)
    return _index_state(request, assistant)


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"], include_in_schema=False
)
async def not_an_endpoint(request: Request, path: str) -> JSONResponse:
    """Unknown API paths are a JSON 404 (not the page's plain one); a known path with another method, 405."""
    methods = sorted(
        {m for r in router.routes if getattr(r, "path", None) == f"/api/{path}" for m in getattr(r, "methods", ())}
    )
    if methods:
        return JSONResponse(
            {"detail": f"/api/{path} accepts {', '.join(methods)}"},
            status_code=405,
            headers={"Allow": ", ".join(methods)},
        )
    return JSONResponse({"detail": f"no API endpoint /api/{path}; see /docs"}, status_code=404)
