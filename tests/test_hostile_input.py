"""Whatever a client sends, the API answers well-formed JSON: an answer or a 4xx, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.config import Settings
from assistant.serving.api import create_app
from assistant.serving.api.schemas import AnswerResponse
from assistant.serving.assistant import Assistant

pytestmark = pytest.mark.slow

# any character JSON can carry: control characters, NUL, RTL marks, emoji, combining marks
# (lone surrogates cannot be encoded as UTF-8, so no client can send them)
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=300)
EDGE_CASES = [
    "",
    " ",
    "\x00",
    "Qui\x00 coordonne ?",
    "\u202eQui coordonne la communauté ?",
    "\u200b\u200b\u200b",
    "Combien d'entreprises ? 🚀🚀",
    "Combien d\u0301\u0301\u0301'entreprises ?",
    "ما هي عاصمة أستراليا؟",
    "\t\r\n\x0b\x0c",
    "a" * 2000,
    "a" * 2001,
]


@pytest.fixture(scope="module")
def client(built: Settings, assistant: Assistant) -> Iterator[TestClient]:
    with TestClient(create_app(built, assistant), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def documents(client: TestClient) -> dict[str, str]:
    return {
        d["id"]: client.get(f"/api/documents/{d['id']}").json()["text"] for d in client.get("/api/documents").json()
    }


def check(response, documents: dict[str, str], top_k: int = 5) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code in (200, 422), (response.status_code, response.text)
    body = response.json()
    if response.status_code == 422:
        assert isinstance(body["detail"], str) and body["detail"]
        return
    answer = AnswerResponse.model_validate(body)
    assert len(answer.citations) <= top_k
    assert [c.rank for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    scores = [c.score for c in answer.citations]
    assert scores[1:] == sorted(scores[1:], reverse=True)
    # first: the best by score, or the passage of the answer sentence when the reader clearly prefers it
    assert scores[:1] == sorted(scores, reverse=True)[:1] or (answer.answer is not None and answer.answer.citation == 0)
    for c in answer.citations:
        assert documents[c.document_id][c.start : c.end] == c.text
    assert (answer.answer is None) is answer.abstained


@pytest.mark.parametrize("question", EDGE_CASES)
def test_edge_case_questions(client: TestClient, documents: dict[str, str], question: str) -> None:
    check(client.post("/api/answer", json={"question": question}), documents)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=ANY_TEXT, top_k=st.integers(-3, 25))
def test_any_question_and_top_k(client: TestClient, documents: dict[str, str], question: str, top_k: int) -> None:
    response = client.post("/api/answer", json={"question": question, "top_k": top_k})
    if not 1 <= top_k <= 20:
        assert response.status_code == 422
    check(response, documents, top_k)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    history=st.lists(
        st.fixed_dictionaries({"question": ANY_TEXT}, optional={"answer": st.none() | ANY_TEXT}), max_size=25
    )
)
def test_any_history(client: TestClient, documents: dict[str, str], history: list[dict[str, object]]) -> None:
    response = client.post("/api/answer", json={"question": "Et qui la coordonne ?", "history": history})
    if len(history) > 20:
        assert response.status_code == 422
    check(response, documents)


@pytest.mark.parametrize(
    "body",
    [
        b'{"question": "\xff\xfe caf\xe9"}',  # not UTF-8
        b"\x00\x00\x00",
        b'{"question": ',
        b"[]",
        b'"a question"',
        b'{"question": null}',
        b'{"question": 12}',
        b'{"question": "ok", "top_k": "5; DROP TABLE"}',
        b'{"question": "ok", "extra": 1}',
        b'{"question": "ok", "history": "not a list"}',
        b'{"question": "ok", "history": [{"question": "a", "answer": {"x": 1}}]}',
    ],
)
def test_malformed_bodies_get_a_json_4xx(client: TestClient, body: bytes) -> None:
    r = client.post("/api/answer", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert isinstance(r.json()["detail"], str)


def test_wrong_content_type_and_method(client: TestClient) -> None:
    r = client.post(
        "/api/answer", content=b"question=hello", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)
    r = client.get("/api/answer")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and "POST" in r.json()["detail"]
    r = client.delete("/api/documents")
    assert r.status_code == 405 and r.headers["allow"] == "GET"
    r = client.get("/api/no-such-thing")
    assert r.status_code == 404 and "/docs" in r.json()["detail"]


def test_a_byte_order_mark_is_tolerated(client: TestClient, documents: dict[str, str]) -> None:
    body = b"\xef\xbb\xbf" + '{"question": "Combien de pays l\'équipe du MEDEF a-t-elle visités ?"}'.encode()
    check(client.post("/api/answer", content=body, headers={"Content-Type": "application/json"}), documents)
