"""Limits in front of the API, over real HTTP on loopback: body size, API keys, rate, load, CORS."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from assistant.config import Settings
from assistant.serving.assistant import Assistant

from .conftest import live

pytestmark = pytest.mark.slow

KEY = "k3y-for-tests-0123456789"
QUESTION = {"question": "Combien de pays l'équipe du MEDEF a-t-elle visités ?"}


def raw_exchange(url: str, head: bytes, body: bytes = b"", timeout: float = 5) -> tuple[int, bytes]:
    """Send `head` (and `body`) on a socket and read the response; (status, whole response)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(head + body)
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        headers = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
        length = int(headers.split("content-length:", 1)[1].split("\r\n", 1)[0])
        while len(data.split(b"\r\n\r\n", 1)[1]) < length:
            data += s.recv(65536)
    return int(data.split(b" ", 2)[1]), data


def test_an_oversized_body_is_refused_before_it_is_sent(built: Settings, assistant: Assistant) -> None:
    with live(built, assistant) as url:
        head = (
            b"POST /api/answer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 500000000\r\n\r\n"
        )
        # not one byte of the 500 MB is sent: the answer comes from the headers alone
        status, response = raw_exchange(url, head)
        assert status == 413 and b"larger than" in response
        # a chunked body has no length: it is counted as it arrives
        r = httpx.post(f"{url}/api/answer", content=iter([b'{"question": "' + b"a" * 700_000, b"x" * 700_000]))
        assert r.status_code == 413 and "larger than" in r.json()["detail"]
        # and the server is fine afterwards
        assert httpx.post(f"{url}/api/answer", json=QUESTION).status_code == 200


def test_api_keys_when_configured(built: Settings, assistant: Assistant) -> None:
    keyed = built.model_copy(update={"api_keys": f"{KEY}, another-key-0123456789"})
    with live(keyed, assistant) as url:
        r = httpx.post(f"{url}/api/answer", json=QUESTION)
        assert r.status_code == 401 and "X-API-Key" in r.json()["detail"]
        assert r.headers["www-authenticate"] == "Bearer"
        assert httpx.post(f"{url}/api/answer", json=QUESTION, headers={"X-API-Key": KEY[:-1] + "X"}).status_code == 401
        assert httpx.post(f"{url}/api/answer", json=QUESTION, headers={"X-API-Key": KEY}).status_code == 200
        bearer = {"Authorization": "Bearer another-key-0123456789"}
        assert httpx.get(f"{url}/api/documents", headers=bearer).status_code == 200
        assert httpx.get(f"{url}/api/documents").status_code == 401
        assert httpx.get(f"{url}/api/health").status_code == 200  # probes need no key
    with pytest.raises(ValueError, match="16 characters"):
        Settings(api_keys="short")


def test_rate_limit_per_client(built: Settings, assistant: Assistant) -> None:
    limited = built.model_copy(update={"rate_limit": 3})
    with live(limited, assistant) as url, httpx.Client() as client:
        statuses = [client.post(f"{url}/api/answer", json=QUESTION).status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
        r = client.post(f"{url}/api/answer", json=QUESTION)
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 20
        assert "retry" in r.json()["detail"]
        assert client.get(f"{url}/api/health").status_code == 200


def test_overload_degrades_to_503_with_retry_after(built: Settings, assistant: Assistant) -> None:
    busy = built.model_copy(update={"max_in_flight": 1})
    long_question = {"question": "Quels sont les objectifs du Digital Disruption Lab du MEDEF ? " * 30}
    with live(busy, assistant) as url:

        def ask(_: int) -> httpx.Response:
            return httpx.post(f"{url}/api/answer", json=long_question, timeout=60)

        with ThreadPoolExecutor(16) as pool:
            responses = list(pool.map(ask, range(32)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 503}, statuses
    assert 200 in statuses and 503 in statuses
    refused = next(r for r in responses if r.status_code == 503)
    assert refused.headers["retry-after"] == "1" and "busy" in refused.json()["detail"]


def test_health_probes_get_through_a_busy_server(built: Settings, assistant: Assistant) -> None:
    busy = built.model_copy(update={"max_in_flight": 1})
    with live(busy, assistant) as url:
        host, port = url.removeprefix("http://").split(":")
        # a request in progress that never ends: its chunked body is never finished
        with socket.create_connection((host, int(port)), timeout=10) as held:
            held.sendall(
                b"POST /api/answer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"que\r\n'
            )
            deadline = time.monotonic() + 30
            while httpx.post(f"{url}/api/answer", json=QUESTION).status_code != 503:
                assert time.monotonic() < deadline, "the held request never counted as in progress"
            for _ in range(5):
                health = httpx.get(f"{url}/api/health")
                assert health.status_code == 200 and health.json()["status"] == "ok"
            assert httpx.post(f"{url}/api/answer", json=QUESTION).status_code == 503  # still busy


def test_wrong_keys_cannot_be_tried_at_full_speed(built: Settings, assistant: Assistant) -> None:
    from assistant.serving.api.guards import AUTH_FAILURES_PER_MINUTE

    keyed = built.model_copy(update={"api_keys": KEY, "admin_key": "admin-key-0123456789"})
    assistant = Assistant(keyed, assistant.embedder)
    with live(keyed, assistant) as url, httpx.Client() as client:
        wrong = [
            client.get(f"{url}/api/documents", headers={"X-API-Key": f"guess-{i:04d}-0123456789"}).status_code
            for i in range(AUTH_FAILURES_PER_MINUTE)
        ]
        assert wrong == [401] * AUTH_FAILURES_PER_MINUTE
        refused = client.get(f"{url}/api/documents", headers={"X-API-Key": "guess-9999-0123456789"})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert "wrong keys" in refused.json()["detail"]
        # while locked out, even the right key is not tried: guessing gains nothing
        assert client.get(f"{url}/api/documents", headers={"X-API-Key": KEY}).status_code == 429
        assert (
            client.post(f"{url}/api/index", headers={"Authorization": "Bearer admin-key-0123456789"}).status_code == 429
        )
        assert client.get(f"{url}/api/health").status_code == 200
    with live(keyed, assistant) as url, httpx.Client() as client:  # the admin key is counted the same way
        admin = [
            client.post(f"{url}/api/index", headers={"Authorization": f"Bearer wrong-admin-{i:04d}-key"}).status_code
            for i in range(AUTH_FAILURES_PER_MINUTE + 1)
        ]
        assert admin == [401] * AUTH_FAILURES_PER_MINUTE + [429]


def test_behind_a_trusted_proxy_each_client_has_its_own_rate(built: Settings, assistant: Assistant) -> None:
    def statuses(url: str, forwarded_for: list[str]) -> list[int]:
        with httpx.Client() as client:
            return [
                client.get(f"{url}/api/documents", headers={"X-Forwarded-For": hop}).status_code
                for hop in forwarded_for
            ]

    alone = built.model_copy(update={"rate_limit": 2})
    with live(alone, assistant) as url:  # no trusted proxy: the header is the client's to forge, so ignored
        assert statuses(url, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) == [200, 200, 429]
    proxied = alone.model_copy(update={"trusted_proxies": "127.0.0.1, 10.0.0.0/8"})
    with live(proxied, assistant) as url:
        hops = ["203.0.113.1", "203.0.113.2", "203.0.113.1", "198.51.100.7, 203.0.113.1, 10.1.2.3"]
        # the last one went through a second trusted proxy; what the client wrote before it is not believed
        assert statuses(url, hops) == [200, 200, 200, 429]
    with pytest.raises(ValueError, match="not an IP address"):
        Settings(trusted_proxies="proxy.example")


def test_cors_is_closed_unless_configured(built: Settings, assistant: Assistant) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    with live(built, assistant) as url:
        r = httpx.options(f"{url}/api/answer", headers=preflight)
        assert "access-control-allow-origin" not in r.headers
        r = httpx.post(f"{url}/api/answer", json=QUESTION, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
    opened = built.model_copy(update={"cors_origins": "https://app.example"})
    with live(opened, assistant) as url:
        ok = httpx.options(f"{url}/api/answer", headers={**preflight, "Origin": "https://app.example"})
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        r = httpx.options(f"{url}/api/answer", headers=preflight)
        assert r.headers.get("access-control-allow-origin") != "https://evil.example"
