"""Every error a client sees is the RealWorld envelope ``{"errors": {field: [messages]}}``."""

from __future__ import annotations

import errno
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from fastboard.app import create_app
from fastboard.errors import (
    AppError,
    Forbidden,
    Invalid,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from tests.conftest import create_article, make_settings

pytestmark = pytest.mark.anyio

# The copy kept in the repository (spec/README.md says where it comes from).
SPEC = Path(__file__).resolve().parents[1] / "spec" / "realworld-openapi.yml"


class Widget(BaseModel):
    name: str
    size: int


class WidgetRequest(BaseModel):
    widget: Widget


RAISERS: dict[str, BaseException] = {
    "app-error": AppError("bad request"),
    "unauthorized": Unauthorized("who are you", field="token"),
    "forbidden": Forbidden("not yours"),
    "not-found": NotFound("no such thing", field="widget"),
    "invalid": Invalid("has already been taken", field="name"),
    "unavailable": ServiceUnavailable("later"),
    "bug": RuntimeError("secret internals"),
    "integrity": IntegrityError("INSERT …", {}, Exception("duplicate key secret")),
    "operational": OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    "pool-timeout": PoolTimeoutError("QueuePool limit reached"),
    "refused": ConnectionRefusedError(111, "Connect call failed"),
    "timeout": TimeoutError(),
    "dns": socket.gaierror(-2, "Name or service not known"),
    "unreachable": OSError(errno.ENETUNREACH, "Network is unreachable"),
    "permission": PermissionError(errno.EACCES, "Permission denied: /secret/file"),
}


@pytest.fixture(scope="module")
def bare_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The real app plus a few routes that fail on purpose; no database needed, so one
    app serves the module."""
    var = tmp_path_factory.mktemp("errors")
    app = create_app(make_settings(f"sqlite+aiosqlite:///{var}/unused.db", var))

    @app.get("/_test/raise/{name}")
    async def raiser(name: str) -> None:
        raise RAISERS[name]

    @app.post("/_test/widgets")
    async def widgets(body: WidgetRequest, limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    return app


@pytest.fixture
async def bare_client(bare_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # The server-error middleware re-raises after answering; a real server logs that.
    transport = httpx.ASGITransport(app=bare_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    # Connections belong to this test's event loop: none may outlive it.
    await bare_app.state.database.dispose()


@pytest.mark.parametrize(
    "path", ["/assets/nope.css", "/api/nope", "/api/users/nope/deeper", "/nope.txt"]
)
async def test_unknown_route_is_404_envelope(bare_client: httpx.AsyncClient, path: str) -> None:
    response = await bare_client.get(path)

    assert response.status_code == 404
    assert response.json() == {"errors": {"body": ["Not Found"]}}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/users", "POST"),
        ("PATCH", "/api/user", None),
        ("GET", "/api/users/login", "POST"),
    ],
)
async def test_wrong_method_is_405_envelope(
    bare_client: httpx.AsyncClient, method: str, path: str, allow: str | None
) -> None:
    response = await bare_client.request(method, path)

    assert response.status_code == 405
    assert response.json() == {"errors": {"body": ["Method Not Allowed"]}}
    assert "allow" in response.headers
    if allow is not None:
        assert response.headers["allow"] == allow


@pytest.mark.parametrize(
    ("name", "status", "errors"),
    [
        ("app-error", 400, {"body": ["bad request"]}),
        ("unauthorized", 401, {"token": ["who are you"]}),
        ("forbidden", 403, {"body": ["not yours"]}),
        ("not-found", 404, {"widget": ["no such thing"]}),
        ("invalid", 422, {"name": ["has already been taken"]}),
        ("unavailable", 503, {"body": ["later"]}),
    ],
)
async def test_app_errors_render_their_status_and_field(
    bare_client: httpx.AsyncClient, name: str, status: int, errors: dict[str, list[str]]
) -> None:
    response = await bare_client.get(f"/_test/raise/{name}")

    assert response.status_code == status
    assert response.json() == {"errors": errors}
    assert ("www-authenticate" in response.headers) is (status == 401)


@pytest.mark.parametrize("name", ["bug", "integrity", "permission"])
async def test_unexpected_errors_are_500_envelope_without_internals(
    bare_client: httpx.AsyncClient, name: str
) -> None:
    response = await bare_client.get(f"/_test/raise/{name}")

    assert response.status_code == 500
    assert response.json() == {"errors": {"body": ["internal server error"]}}
    assert "secret" not in response.text


@pytest.mark.parametrize(
    "name", ["operational", "pool-timeout", "refused", "timeout", "dns", "unreachable"]
)
async def test_database_unavailability_is_503_envelope_with_retry_after(
    bare_client: httpx.AsyncClient, name: str
) -> None:
    response = await bare_client.get(f"/_test/raise/{name}")

    assert response.status_code == 503
    assert response.json() == {"errors": {"database": ["is unavailable, try again shortly"]}}
    assert response.headers["retry-after"] == "5"


@pytest.mark.parametrize(
    ("query", "body", "errors"),
    [
        ("", {"widget": {"name": "w"}}, {"size": ["can't be blank"]}),
        ("", {"widget": {"name": "w", "size": "big"}}, {"size": None}),
        ("?limit=many", {"widget": {"name": "w", "size": 1}}, {"limit": None}),
        ("", {}, {"body": ["can't be blank"]}),
        ("", [], {"body": ["must be a JSON object"]}),
        ("", {"widget": {}}, {"name": ["can't be blank"], "size": ["can't be blank"]}),
    ],
    ids=["missing-field", "wrong-type", "bad-query", "no-envelope", "array", "empty-envelope"],
)
async def test_validation_errors_name_the_client_facing_field(
    bare_client: httpx.AsyncClient,
    query: str,
    body: Any,
    errors: dict[str, list[str] | None],
) -> None:
    response = await bare_client.post(f"/_test/widgets{query}", json=body)

    assert response.status_code == 422
    got = response.json()["errors"]
    assert set(got) == set(errors)
    for field, messages in errors.items():
        assert got[field], field
        if messages is not None:
            assert got[field] == messages


async def test_malformed_json_is_422_envelope(bare_client: httpx.AsyncClient) -> None:
    response = await bare_client.post(
        "/_test/widgets", content=b'{"widget": ', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json() == {"errors": {"body": ["is not valid JSON"]}}


def _spec_operations() -> list[tuple[str, str]]:
    spec = yaml.safe_load(SPEC.read_text())
    operations: list[tuple[str, str]] = []
    for path, methods in spec["paths"].items():
        concrete = path.replace("{slug}", "no-such-slug").replace("{username}", "nobody")
        concrete = concrete.replace("{id}", "not-a-number")
        operations.extend((method.upper(), "/api" + concrete) for method in methods)
    return operations


BAD_HEADERS = [{}, {"Authorization": "Token not.a.jwt"}, {"Authorization": "Bearer"}]
BAD_BODIES = [b"[]", b"{", b'{"x": "\\u0000"}']


@pytest.mark.parametrize(("method", "path"), _spec_operations())
async def test_no_error_body_is_shaped_like_fastapi_detail(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    """Every spec operation, sent bad tokens and bad bodies, answers in the envelope."""
    for headers in BAD_HEADERS:
        for content in BAD_BODIES:
            response = await client.request(
                method,
                path,
                content=content,
                headers={"Content-Type": "application/json", **headers},
            )
            case = (headers, content, response.text)
            assert response.status_code < 500, case
            assert "detail" not in response.text, case
            if response.status_code >= 400:
                assert set(response.json()) == {"errors"}, case


async def _profile_fields(client: httpx.AsyncClient, token: dict[str, str]) -> dict[str, Any]:
    user: dict[str, Any] = (await client.get("/api/user", headers=token)).json()["user"]
    del user["token"]  # issued afresh on every call
    return user


# Bodies that are not what an endpoint takes, on the endpoints that take one. The token,
# where one is needed, is alice's; "{slug}" is an article of hers.
FRAMING = [
    ("POST", "/api/users", False, {}, b"", 422, "body"),
    ("PUT", "/api/user", True, {}, b"", 422, "body"),
    ("POST", "/api/users", False, {"content-type": "text/plain"}, b'{"user": {}}', 422, "body"),
    (
        "POST",
        "/api/users/login",
        False,
        {"content-type": "application/x-www-form-urlencoded"},
        b'{"user": {}}',
        422,
        "body",
    ),
    ("POST", "/api/users", False, {}, b'{"user": {"username": "\xff"}}', 422, "body"),
    ("PUT", "/api/user", True, {}, b'{"user": null}', 422, "body"),
    ("PUT", "/api/user", True, {}, b'{"user": []}', 422, "body"),
    ("POST", "/api/users/login", False, {}, b'{"user": null}', 422, "body"),
    ("POST", "/api/articles/{slug}/comments", True, {}, b'{"comment": null}', 422, "body"),
    ("POST", "/api/articles/{slug}/comments", True, {}, b'{"comment": "x"}', 422, "body"),
    ("POST", "/api/articles/{slug}/comments", True, {}, b"[]", 422, "body"),
]


@pytest.mark.parametrize(
    ("method", "path", "signed_in", "headers", "content", "status", "field"),
    FRAMING,
    ids=[f"{case[0]} {case[1]} {case[4][:20]!r}" for case in FRAMING],
)
async def test_badly_framed_bodies_get_an_envelope_and_change_nothing(
    client: httpx.AsyncClient,
    alice: dict[str, Any],
    method: str,
    path: str,
    signed_in: bool,
    headers: dict[str, str],
    content: bytes,
    status: int,
    field: str,
) -> None:
    token = {"Authorization": f"Token {alice['token']}"}
    slug = (await create_article(client, alice["token"]))["slug"]
    me_before = await _profile_fields(client, token)
    sent = {"content-type": "application/json", **headers, **(token if signed_in else {})}

    response = await client.request(method, path.format(slug=slug), content=content, headers=sent)

    assert response.status_code == status, response.text
    assert list(response.json()["errors"]) == [field]
    assert await _profile_fields(client, token) == me_before
    assert (await client.get(f"/api/articles/{slug}/comments")).json() == {"comments": []}
