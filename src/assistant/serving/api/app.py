"""App factory: the Assistant loads once in the lifespan and reaches routes through app.state."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant import __version__
from assistant.config import Settings
from assistant.errors import AssistantError, BadQuestion, IndexMismatch, IndexMissing, ModelError, StoreUnavailable
from assistant.serving.api.guards import Guard
from assistant.serving.api.routes import router
from assistant.serving.assistant import Assistant
from assistant.serving.rebuild import Rebuilder, watch

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def web_dir() -> Path:
    """The chat page: bundled in the wheel, or web/ of a source checkout."""
    packaged = Path(__file__).resolve().parents[2] / "web"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[4] / "web"


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Adds the security headers (and the CSP, except on the API docs) to every HTTP response.

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware costs each request an extra task
    and a streamed copy of the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = not scope["path"].startswith(("/docs", "/redoc"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS:
                    if name.decode() not in headers:
                        headers.append(name.decode(), value.decode())
                if csp and "content-security-policy" not in headers:
                    headers.append("Content-Security-Policy", CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _readable(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            parts.append(
                f"malformed JSON in the request body ({error.get('ctx', {}).get('error', 'cannot be parsed')})"
            )
            continue
        if error.get("type") == "string_too_short" and tuple(error.get("loc", ()))[-1:] == ("question",):
            parts.append("the question is empty: ask something about the documents")
            continue
        where = ".".join(str(x) for x in error.get("loc", ()) if x != "body") or "request body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _offline_docs(app: FastAPI) -> None:
    """FastAPI's /docs page, with the Swagger UI files of the `swagger-ui-bundle` package
    instead of a CDN (no request may leave the machine)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="assistant — API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def create_app(settings: Settings, assistant: Assistant | None = None, watch_corpus: bool = False) -> FastAPI:
    """The ASGI app. `assistant` may be given (tests); otherwise one is made and its model loaded at start.
    With `watch_corpus`, changes under the corpus folder trigger rebuilds."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = assistant or Assistant(settings)
        service.embedder.encode_queries(["warm-up"])  # load and warm the model before the first request
        try:
            service.store()
        except AssistantError as exc:  # no usable index: answer 503 with the fix until one is built
            log.warning("%s", exc)
        app.state.assistant = service
        app.state.rebuilder = Rebuilder(service)
        stop = threading.Event()
        app.state.watching = threading.Event()  # set once the corpus watch is in place
        watcher = None
        if watch_corpus:
            watcher = threading.Thread(
                target=watch,
                args=(settings.corpus, app.state.rebuilder, stop, 1500, app.state.watching),
                name="assistant-watch",
                daemon=True,
            )
            watcher.start()
        yield
        stop.set()
        if watcher is not None:
            watcher.join(timeout=5)
        if assistant is None:  # made here: its database connections end with the app
            service.index_store.close()

    app = FastAPI(
        title="assistant",
        version=__version__,
        summary="Answers questions about French and English documents with exact citations.",
        lifespan=lifespan,
        docs_url=None,  # served below from local assets: FastAPI's default loads Swagger UI from a CDN
        redoc_url=None,
    )
    _offline_docs(app)
    app.add_middleware(Guard, settings=settings)
    if settings.cors_origin_list():  # closed unless configured: no CORS headers, browsers keep other origins out
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list(),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization"],
        )
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _readable(exc)}, status_code=422)

    @app.exception_handler(BadQuestion)
    async def bad_question(request: Request, exc: BadQuestion) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(IndexMissing)
    @app.exception_handler(IndexMismatch)
    @app.exception_handler(ModelError)
    async def unavailable(request: Request, exc: AssistantError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "2"})

    app.include_router(router)
    static = web_dir()
    if static.is_dir():
        app.mount("/", StaticFiles(directory=static, html=True), name="web")
    return app
