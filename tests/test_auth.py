"""The token dependencies: a verified token is remembered, never past its expiry."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr

import fastboard.auth
from fastboard.auth import OptionalViewer
from fastboard.db import ReadSessionDep, read_session
from fastboard.settings import Settings
from tests.conftest import auth

pytestmark = pytest.mark.anyio


@pytest.fixture
async def headers(client: httpx.AsyncClient, alice: dict[str, Any]) -> dict[str, str]:
    """Alice's token, verified once already."""
    headers = auth(alice["token"])
    assert (await client.get("/api/articles", headers=headers)).status_code == 200
    return headers


async def test_a_remembered_token_is_not_verified_again_until_it_expires(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # From now on verification would refuse the token, as it does once a token expired.
    monkeypatch.setattr(fastboard.auth, "verify_token", lambda *_: None)

    remembered = await client.get("/api/articles", headers=headers)
    expires = time.time() + settings.jwt_ttl_seconds
    monkeypatch.setattr("fastboard.auth.time.time", lambda: expires + 1)
    expired = await client.get("/api/articles", headers=headers)

    assert remembered.status_code == 200
    assert expired.status_code == 401
    assert expired.json() == {"errors": {"token": ["token is invalid or has expired"]}}


async def test_a_token_is_remembered_only_under_the_key_that_signed_it(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "secret_key", SecretStr("another-key-" + "0123456789" * 4))
    response = await client.get("/api/articles", headers=headers)

    assert response.status_code == 401


@pytest.mark.own_app  # it adds a route
async def test_the_viewer_is_looked_up_on_the_requests_one_read_session(
    app: FastAPI, client: httpx.AsyncClient, headers: dict[str, str], alice: dict[str, Any]
) -> None:
    seen: list[Any] = []

    # The viewer first: it opens the session the route then gets, not one of its own.
    @app.get("/test-viewer-and-session")
    async def read(request: Request, viewer: OptionalViewer, session: ReadSessionDep) -> None:
        seen.extend([viewer, session, read_session(request)])

    signed_in = await client.get("/test-viewer-and-session", headers=headers)
    anonymous = await client.get("/test-viewer-and-session")
    refused = await client.get("/test-viewer-and-session", headers=auth("not.a.jwt"))

    assert (signed_in.status_code, anonymous.status_code) == (200, 200)
    viewer, session, again = seen[:3]
    assert viewer.username == alice["username"]
    assert session is again
    assert seen[3] is None  # anonymous
    assert refused.status_code == 401
    assert refused.json() == {"errors": {"token": ["token is invalid or has expired"]}}
    assert len(seen) == 6
