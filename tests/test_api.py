"""The HTTP API through FastAPI's TestClient, with the real model and the bundled corpus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.serving.api import create_app
from assistant.serving.assistant import Assistant

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(built: Settings, assistant: Assistant) -> Iterator[TestClient]:
    with TestClient(create_app(built, assistant)) as c:
        yield c


def ask(client: TestClient, question: str, **extra: object) -> dict:  # type: ignore[type-arg]
    r = client.post("/api/answer", json={"question": question, **extra})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_french_question_cites_the_english_passage(client: TestClient) -> None:
    data = ask(client, "Combien de pays l'équipe du MEDEF a-t-elle visités ?")
    assert data["language"] == "fr" and data["abstained"] is False
    first = data["citations"][0]
    assert first["language"] == "en" and "21 countries" in first["text"]
    assert data["answer"]["citation"] == 0 and "21 countries" in data["answer"]["text"]
    assert data["index_version"] and data["took_ms"] >= 0


def test_english_question_cites_the_french_passage(client: TestClient) -> None:
    data = ask(client, "How many companies are in the French Tech Corporate Community?")
    first = data["citations"][0]
    assert data["language"] == "en"
    assert first["document_id"] == "fr-french-tech-corporate-community" and "90 entreprises" in first["text"]


def test_every_offset_matches_the_served_document(client: TestClient) -> None:
    for question in ("Qui coordonne la French Tech Corporate Community ?", "What are the three goals of the Lab?"):
        data = ask(client, question, top_k=5)
        assert len(data["citations"]) == 5
        texts = {}
        for c in data["citations"]:
            if c["document_id"] not in texts:
                r = client.get(f"/api/documents/{c['document_id']}")
                assert r.status_code == 200
                texts[c["document_id"]] = r.json()["text"]
            assert texts[c["document_id"]][c["start"] : c["end"]] == c["text"]
        span = data["answer"]
        cited = data["citations"][span["citation"]]
        assert texts[cited["document_id"]][span["start"] : span["end"]] == span["text"]


def test_abstains_on_off_topic_questions(client: TestClient) -> None:
    data = ask(client, "Quelle est la recette de la tarte tatin ?")
    assert data["abstained"] is True and data["answer"] is None
    assert data["language"] == "fr" and "documents ne permettent pas" in data["message"]
    assert data["citations"], "the closest passages are still listed"


def test_follow_up_with_history(client: TestClient) -> None:
    history = [{"question": "What is the French Tech Corporate Community?", "answer": None}]
    data = ask(client, "Who coordinates it?", history=history)
    assert data["citations"][0]["document_id"] == "fr-french-tech-corporate-community"
    assert "coordinateurs" in data["citations"][0]["text"]


def test_documents_list_and_detail(client: TestClient) -> None:
    docs = client.get("/api/documents").json()
    assert {d["id"]: d["language"] for d in docs} == {
        "en-medef-digital-disruption-lab": "en",
        "fr-french-tech-corporate-community": "fr",
    }
    assert all(d["passages"] >= 2 and d["title"] and d["source"].endswith(".txt") for d in docs)
    detail = client.get("/api/documents/fr-french-tech-corporate-community").json()
    assert "90 entreprises" in detail["text"] and detail["language"] == "fr"


@pytest.mark.parametrize(
    "path",
    [
        "/api/documents/nope",
        "/api/documents/..%2F..%2Fetc%2Fpasswd",
        "/api/documents/%2e%2e%2fcorpus%2fmetadata.json",
        "/api/documents/en-medef-digital-disruption-lab.txt",
        "/api/documents/%2Fetc%2Fpasswd",
    ],
)
def test_unknown_or_path_like_ids_are_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404 and "detail" in r.json()
    assert "root:" not in r.text


def test_health(client: TestClient) -> None:
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["documents"] == 2 and h["passages"] >= 4
    assert h["model"].startswith("multilingual-e5-small") and h["index_version"]
    assert h["reader"].startswith("reader@")  # the answer reader, named by its weights' checksum


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"question": ""}, "empty"),
        ({"question": " \n\t "}, "empty"),
        ({"question": "x" * 2001}, "2000"),
        ({"question": "ok", "top_k": 0}, "top_k"),
        ({"question": "ok", "top_k": 21}, "top_k"),
        ({"question": "ok", "history": [{"question": "q"}] * 21}, "history"),
        ({}, "question"),
        ({"question": 42}, "question"),
    ],
)
def test_bad_requests_are_422_with_a_message(client: TestClient, body: dict, needle: str) -> None:  # type: ignore[type-arg]
    r = client.post("/api/answer", json=body)
    assert r.status_code == 422
    assert needle in r.json()["detail"]


def test_malformed_json_is_422(client: TestClient) -> None:
    r = client.post("/api/answer", content=b'{"question": ', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "malformed JSON" in r.json()["detail"]


def test_no_index_is_503_with_the_command(tmp_path: Path, assistant: Assistant) -> None:
    settings = Settings(corpus=tmp_path, index=tmp_path / "index")
    with TestClient(create_app(settings, Assistant(settings, assistant.embedder))) as c:
        r = c.post("/api/answer", json={"question": "Où est le rapport ?"})
        assert r.status_code == 503 and "assistant index" in r.json()["detail"]
        assert c.get("/api/documents").status_code == 503
        assert c.get("/api/health").json()["status"] == "no_index"


def test_openapi_schema_declares_the_response_models(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    answer = schema["paths"]["/api/answer"]["post"]
    assert answer["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AnswerResponse")
    props = schema["components"]["schemas"]["CitationOut"]["properties"]
    assert set(props) >= {"rank", "document_id", "title", "source", "language", "text", "start", "end", "score"}
    assert {"similarity", "matched_terms"} <= set(props)  # why each passage matched


def test_page_is_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"


def test_api_docs_work_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200


def test_the_settings_drive_the_http_limits(built: Settings, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = built.model_copy(update={"top_k": 3, "max_question_chars": 3000})
    with TestClient(create_app(settings, Assistant(settings, embedder))) as c:
        assert c.get("/api/health").json()["limits"] == {"max_question_chars": 3000, "top_k": 3, "max_top_k": 20}
        assert len(ask(c, "Who leads the Digital Disruption Lab missions?")["citations"]) == 3
        assert len(ask(c, "Who leads the Digital Disruption Lab missions?", top_k=4)["citations"]) == 4
        long = "Who leads the Digital Disruption Lab missions? " + "Please answer. " * 160  # 2,447 characters
        assert 2000 < len(long.strip()) <= 3000
        assert ask(c, long)["citations"]
        assert ask(c, "And who else?", history=[{"question": long, "answer": None}])["citations"]
        too_long = c.post("/api/answer", json={"question": "x" * 3001})
        assert too_long.status_code == 422 and "3000" in too_long.json()["detail"]
        history = c.post("/api/answer", json={"question": "And?", "history": [{"question": "x" * 3001}]})
        assert history.status_code == 422 and "3000" in history.json()["detail"]
