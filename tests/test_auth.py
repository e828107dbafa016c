"""The token dependencies: a verified token is remembered, never past its expiry."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

import fastboard.auth
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
