"""The request middleware: request ids in and out, one access line per request."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from fastboard.settings import Settings
from tests.conftest import auth, make_settings, register

pytestmark = pytest.mark.anyio

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "var", log_json=True)


def log_lines(
    capsys: pytest.CaptureFixture[str], logger: str | None = None
) -> list[dict[str, Any]]:
    """The JSON lines written to stderr since the last call, optionally of one logger."""
    written = capsys.readouterr().err.splitlines()
    lines = [json.loads(line) for line in written if line.startswith("{")]
    return [line for line in lines if logger is None or line["logger"] == logger]


def access_line(capsys: pytest.CaptureFixture[str], path: str) -> dict[str, Any]:
    matching = [line for line in log_lines(capsys, "fastboard.access") if line["path"] == path]
    assert len(matching) == 1, matching
    return matching[0]


async def test_access_line_is_json_with_request_id_route_template_and_raw_path(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = await client.get("/api/profiles/someone")

    line = access_line(capsys, "/api/profiles/someone")
    assert response.status_code == 404
    assert line["request_id"] == response.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(line["request_id"])
    assert line["route"] == "/api/profiles/{username}"
    assert line["method"] == "GET"
    assert line["status"] == 404
    assert isinstance(line["duration_ms"], float)
    assert line["client"] == "127.0.0.1"


async def test_a_sane_request_id_is_echoed_and_logged(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "nginx-3f2a.b_c"})

    assert response.headers["x-request-id"] == "nginx-3f2a.b_c"
    assert access_line(capsys, "/health")["request_id"] == "nginx-3f2a.b_c"


@pytest.mark.parametrize(
    "given",
    ["has space", "x" * 129, "semi;colon", "new\\nline", "ünïcode", ""],
)
async def test_an_unsafe_request_id_is_replaced(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    response = await client.get("/health", headers={b"X-Request-ID": given.encode()})

    echoed = response.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(echoed)
    assert access_line(capsys, "/health")["request_id"] == echoed


async def test_the_longest_allowed_request_id_is_kept(client: httpx.AsyncClient) -> None:
    given = "a" * 128
    response = await client.get("/health", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given


async def test_each_request_gets_its_own_id(client: httpx.AsyncClient) -> None:
    first = await client.get("/health")
    second = await client.get("/health")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_responses_from_inner_middleware_and_error_handlers_carry_the_id(
    client: httpx.AsyncClient,
) -> None:
    rejected_by_guard = await client.get("/api/articles", params={"tag": "a\x00b"})
    invalid = await client.post("/api/users", json={"user": {}})
    unauthenticated = await client.get("/api/user")
    unmatched = await client.get("/api/no/such/page")

    assert [r.status_code for r in (rejected_by_guard, invalid, unauthenticated, unmatched)] == [
        422,
        422,
        401,
        404,
    ]
    for response in (rejected_by_guard, invalid, unauthenticated, unmatched):
        assert GENERATED_ID.fullmatch(response.headers["x-request-id"])
        assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]


async def test_a_crash_answers_500_with_the_id_and_logs_the_traceback_under_it(
    app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    @app.get("/test-crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/test-crash", headers={"X-Request-ID": "crash-1"})

    lines = log_lines(capsys)
    access = [line for line in lines if line["logger"] == "fastboard.access"]
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert response.status_code == 500
    assert response.json() == {"errors": {"body": ["internal server error"]}}
    assert response.headers["x-request-id"] == "crash-1"
    assert access[-1]["status"] == 500
    assert access[-1]["route"] == "/test-crash"
    assert errors, "the traceback must be logged"
    assert all(line["request_id"] == "crash-1" for line in errors)
    assert "RuntimeError: boom" in errors[0]["exc_info"]


async def test_unmatched_paths_are_logged_with_the_raw_path_but_no_route(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    await client.get("/api/no/such/page")

    line = access_line(capsys, "/api/no/such/page")
    assert line["route"] == "<unmatched>"
    assert line["status"] == 404


async def test_control_characters_in_the_path_stay_encoded_in_the_log(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    await client.get("/api/profiles/evil%0Aline")

    assert access_line(capsys, "/api/profiles/evil%0Aline")["route"] == "/api/profiles/{username}"


async def test_credentials_never_reach_the_logs(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    password = "hunter2-correct-horse"
    user = await register(client, password=password)
    login = {"user": {"email": user["email"], "password": password}}
    await client.post("/api/users/login", json=login)
    await client.get("/api/user", headers=auth(user["token"]))
    await client.get("/api/user", headers=auth("not-a-real-token-but-secret"))

    logged = capsys.readouterr().err
    assert "/api/user" in logged
    assert user["token"] not in logged
    assert "not-a-real-token-but-secret" not in logged
    assert password not in logged
    assert "authorization" not in logged.lower()


async def test_streaming_responses_pass_through_with_the_id(app: FastAPI) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for number in range(3):
            yield f"chunk{number};".encode()

    @app.get("/test-stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/plain")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/test-stream", headers={"X-Request-ID": "stream-1"})

    assert response.text == "chunk0;chunk1;chunk2;"
    assert response.headers["x-request-id"] == "stream-1"
