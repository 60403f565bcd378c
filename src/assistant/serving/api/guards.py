"""Limits applied to /api/ requests before any route runs: body size, API keys, rate, load.

One plain ASGI middleware, so that a request refused here costs no body read, no
validation and no thread: oversized bodies get 413 as soon as their Content-Length is
seen (or as soon as a chunked body passes the limit); missing or wrong API keys 401
(when keys are configured); a client over its rate 429, and a server at its limit of
requests in progress 503, both with `Retry-After`. Every refusal is a JSON
`{"detail": ...}` like the routes' own errors.

Wrong keys (API keys, and the admin key of POST /api/index) are limited on their own,
always: past `AUTH_FAILURES_PER_MINUTE` 401s, a client's keyed requests get 429 until its
allowance refills, so keys cannot be tried at full speed. /api/health is never limited
nor counted: probes must see a busy server as alive.

The client is the connection's peer address; behind a reverse proxy listed in
`ASSISTANT_TRUSTED_PROXIES`, it is the address that proxy (and any trusted proxy before
it) received the request from, read from `X-Forwarded-For` right to left.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
import threading
import time
from collections import OrderedDict

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.config import Settings

# Paths an API key opens when keys are configured; /api/health stays open for probes and
# /api/index has its own admin key.
KEYED = ("/api/answer", "/api/documents")
HEALTH = "/api/health"
MAX_CLIENTS = 10_000  # rate-limit buckets kept; the least recently seen go first
AUTH_FAILURES_PER_MINUTE = 10  # wrong keys a client may send a minute (bursts of as many)


class _TooLarge(HTTPException):
    """Raised while a body is read: FastAPI passes HTTP exceptions through to their JSON handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


async def _refuse(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class _Buckets:
    """Token buckets per client: `per_minute` requests a minute, bursts up to a minute's worth."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, client: str, take: bool = True) -> float:
        """0 when the client has a request left now (counted unless not `take`), else seconds until it has."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1 if wait == 0 and take else tokens, now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
        return wait


def _parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


class _Clients:
    """Who a request comes from: the peer, or what trusted proxies say it received it from."""

    def __init__(self, trusted: list[str]) -> None:
        self.trusted = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def _is_trusted(self, address: str) -> bool:
        parsed = _parse_address(address)
        return parsed is not None and any(parsed in network for network in self.trusted)

    def of(self, scope: Scope, headers: Headers) -> str:
        client = str((scope.get("client") or ("unknown", 0))[0])
        if not self.trusted or not self._is_trusted(client):
            return client
        hops = [h.strip() for value in headers.getlist("x-forwarded-for") for h in value.split(",") if h.strip()]
        for hop in reversed(hops):  # the rightmost hop not added by a trusted proxy is the client
            if _parse_address(hop) is None:
                return client  # garbage from beyond the proxies: the last trusted hop is all we know
            client = hop
            if not self._is_trusted(hop):
                return client
        return client


class Guard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.keys = [k.encode() for k in settings.api_key_list()]
        self.buckets = _Buckets(settings.rate_limit) if settings.rate_limit else None
        self.max_in_flight = settings.max_in_flight
        self.in_flight = 0
        self.failures = _Buckets(AUTH_FAILURES_PER_MINUTE)
        self.clients = _Clients(settings.trusted_proxy_list())

    def _key_ok(self, headers: Headers) -> bool:
        given = headers.get("x-api-key") or ""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if not given and scheme.lower() == "bearer":
            given = token.strip()
        candidate = given.encode()
        # compare with every key, always: the time taken says nothing about which one matched
        return any([hmac.compare_digest(candidate, key) for key in self.keys])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await _refuse(send, 400, "Content-Length is not a number")
                return
            if int(length) > self.max_body:
                await _refuse(send, 413, f"the request body is larger than {self.max_body} bytes")
                return
        if scope["path"] == HEALTH:  # probes: no key, no rate, no cap
            await self._limited(scope, receive, send, None)
            return
        client = self.clients.of(scope, headers)
        keyed = bool(self.keys) and scope["path"].startswith(KEYED)
        if keyed or scope["path"] == "/api/index":
            wait = self.failures.wait(client, take=False)
            if wait:
                retry = str(math.ceil(wait))
                await _refuse(
                    send, 429, f"too many wrong keys from this address: retry in {retry} s", {"Retry-After": retry}
                )
                return
        if keyed and not self._key_ok(headers):
            self.failures.wait(client)
            await _refuse(
                send,
                401,
                "an API key is required: send it in the X-API-Key header (or Authorization: Bearer)",
                {"WWW-Authenticate": "Bearer"},
            )
            return
        if self.buckets is not None:
            wait = self.buckets.wait(client)
            if wait:
                retry = str(math.ceil(wait))
                await _refuse(send, 429, f"too many requests: retry in {retry} s", {"Retry-After": retry})
                return
        if self.in_flight >= self.max_in_flight:
            await _refuse(send, 503, "the server is busy: retry in a moment", {"Retry-After": "1"})
            return
        self.in_flight += 1  # the event loop is one thread: no lock needed
        try:
            await self._limited(scope, receive, send, client)
        finally:
            self.in_flight -= 1

    async def _limited(self, scope: Scope, receive: Receive, send: Send, client: str | None) -> None:
        """The request, with its body counted as it arrives (chunked bodies carry no length), and
        a 401 from a route (the admin key) counted against `client`'s wrong keys."""
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge(self.max_body)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] == 401 and client is not None:
                    self.failures.wait(client)
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge as exc:
            if started:
                raise
            await _refuse(send, 413, str(exc.detail))
