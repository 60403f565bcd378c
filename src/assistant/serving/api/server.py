"""`assistant serve`'s HTTP server: uvicorn with the app, saying it is ready once it listens."""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn

from assistant.config import Settings
from assistant.serving.api.app import create_app
from assistant.serving.assistant import Assistant


class _AnnouncingServer(uvicorn.Server):
    """uvicorn's server, saying it is ready only once its socket listens: whoever reads the
    ready line (a person, a script, a supervisor) can connect at once."""

    def __init__(self, config: uvicorn.Config, ready: Callable[[int], None]) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:  # False when the address could not be bound (uvicorn said why and exits)
            bound = [s.getsockname()[1] for server in self.servers for s in server.sockets]
            self._ready(int(bound[0]) if bound else self.config.port)


def run_server(settings: Settings, assistant: Assistant, watch: bool, ready: Callable[[int], None]) -> None:
    """Serve until Ctrl+C / SIGTERM; `ready(port)` is called once the port accepts connections."""
    config = uvicorn.Config(
        create_app(settings, assistant, watch_corpus=watch),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        # the app answers 503 + Retry-After past max_in_flight API requests; this is the
        # backstop against floods of connections that never send a request
        limit_concurrency=4 * settings.max_in_flight + 64,
        # the app reads X-Forwarded-For itself, from ASSISTANT_TRUSTED_PROXIES only (uvicorn
        # would trust it from 127.0.0.1, which any local process can be)
        proxy_headers=False,
        timeout_graceful_shutdown=30,  # Ctrl+C / SIGTERM: requests in progress finish first
    )
    _AnnouncingServer(config, ready).run()
