"""Signing keys rotate: tokens name their key (``kid``), the current key signs, previous
keys still verify until their grace period ends; an unknown key or algorithm is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from pydantic import SecretStr, ValidationError

from fastboard import security
from fastboard.settings import Settings, key_id
from tests.conftest import TEST_SECRET, auth, make_settings, register

pytestmark = pytest.mark.anyio

NEW_SECRET = "the-new-signing-key-after-rotation-0123456789abcdef"
OTHER_SECRET = "a-key-this-deployment-never-had-0123456789abcdefgh"
INVALID = {"errors": {"token": ["token is invalid or has expired"]}}


@pytest.fixture
def settings(session_settings: Settings) -> Settings:
    """Rotated: the suite's usual key (``TEST_SECRET``) is the previous one, for an hour."""
    return session_settings.model_copy(
        update={
            "secret_key": SecretStr(NEW_SECRET),
            "previous_secret_keys": [SecretStr(TEST_SECRET)],
            "previous_keys_valid_until": datetime.now(UTC) + timedelta(hours=1),
        }
    )


def _claims(user_id: int, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"sub": str(user_id), "ver": 0, "iat": now, "exp": now + timedelta(hours=1), **extra}


def _raw_token(header: dict[str, Any], claims: dict[str, Any], secret: str) -> str:
    """An HS256 token with exactly ``header``, even one PyJWT would not write."""
    encoded = jwt.encode(claims, secret, algorithm="HS256")
    payload = encoded.split(".")[1]
    head = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    signed = f"{head}.{payload}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{head}.{payload}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


async def _user_id(client: httpx.AsyncClient, settings: Settings) -> tuple[int, str]:
    alice = await register(client, "alice")
    verified = security.verify_token(alice["token"], settings)
    assert verified is not None
    return verified.user_id, alice["token"]


async def test_new_tokens_are_signed_by_the_current_key_and_name_it(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, token = await _user_id(client, settings)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "kid": key_id(NEW_SECRET), "typ": "JWT"}
    jwt.decode(token, NEW_SECRET, algorithms=["HS256"])  # raises if another key signed it
    assert (await client.get("/api/user", headers=auth(token))).status_code == 200


async def test_a_token_of_the_previous_key_verifies_within_the_grace_period(
    client: httpx.AsyncClient, settings: Settings, session_settings: Settings
) -> None:
    user_id, _ = await _user_id(client, settings)
    # Issued before the rotation, by the key that signed then.
    old = security.create_token(user_id, session_settings)
    assert jwt.get_unverified_header(old)["kid"] == key_id(TEST_SECRET)

    response = await client.get("/api/user", headers=auth(old))

    assert response.status_code == 200, response.text
    assert response.json()["user"]["username"] == "alice"


def test_after_the_grace_period_the_previous_key_verifies_nothing(
    settings: Settings, session_settings: Settings
) -> None:
    old = security.create_token(5, session_settings)
    within = security.verify_token(old, settings)
    assert within is not None
    until = settings.previous_keys_valid_until
    assert until is not None
    # Remembered as verified no longer than its key verifies (auth._verified).
    assert within.expires_at == until.timestamp()

    ended = settings.model_copy(
        update={"previous_keys_valid_until": datetime.now(UTC) - timedelta(seconds=1)}
    )
    assert security.verify_token(old, ended) is None
    # The current key's tokens are unaffected.
    assert security.verify_token(security.create_token(5, ended), ended) is not None


async def test_the_grace_period_ends_for_the_api_too(
    tmp_path: Path, session_settings: Settings
) -> None:
    from fastboard.app import create_app

    ended = session_settings.model_copy(
        update={
            "secret_key": SecretStr(NEW_SECRET),
            "previous_secret_keys": [SecretStr(TEST_SECRET)],
            "previous_keys_valid_until": datetime.now(UTC) - timedelta(seconds=1),
            "database_url": f"sqlite+aiosqlite:///{tmp_path}/unused.db",
        }
    )
    app = create_app(ended)
    transport = httpx.ASGITransport(app=app)
    old = security.create_token(5, session_settings)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/api/user", headers=auth(old))
    await app.state.database.dispose()
    # Refused on the token alone: no database was needed (it has no tables).
    assert response.status_code == 401
    assert response.json() == INVALID


@pytest.mark.parametrize(
    ("secret", "headers"),
    [
        # Signed by the current key, but naming a key that does not exist.
        (NEW_SECRET, {"kid": "0000000000000000"}),
        # A key the deployment never had, under its own name.
        (OTHER_SECRET, {"kid": key_id(OTHER_SECRET)}),
        # A key the deployment never had, claiming to be the current one.
        (OTHER_SECRET, {"kid": key_id(NEW_SECRET)}),
        # Not a string.
        (NEW_SECRET, {"kid": 7}),
        # No kid, and no key of ours signed it.
        (OTHER_SECRET, {}),
    ],
    ids=["unknown-kid", "foreign-key", "foreign-key-posing", "kid-not-a-string", "no-kid-foreign"],
)
async def test_a_token_of_an_unknown_key_is_refused(
    client: httpx.AsyncClient, settings: Settings, secret: str, headers: dict[str, Any]
) -> None:
    user_id, _ = await _user_id(client, settings)
    forged = _raw_token({"alg": "HS256", "typ": "JWT", **headers}, _claims(user_id), secret)

    response = await client.get("/api/user", headers=auth(forged))

    assert response.status_code == 401
    assert response.json() == INVALID


@pytest.mark.parametrize("secret", [NEW_SECRET, TEST_SECRET])
async def test_a_token_from_before_key_ids_verifies_with_any_current_key(
    client: httpx.AsyncClient, settings: Settings, secret: str
) -> None:
    """Tokens issued before tokens carried a kid stay valid through the upgrade."""
    user_id, _ = await _user_id(client, settings)
    legacy = jwt.encode(_claims(user_id), secret, algorithm="HS256")
    assert "kid" not in jwt.get_unverified_header(legacy)

    assert (await client.get("/api/user", headers=auth(legacy))).status_code == 200


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["none", "HS512", "HS384"])
async def test_only_hs256_is_accepted(
    client: httpx.AsyncClient, settings: Settings, algorithm: str
) -> None:
    user_id, _ = await _user_id(client, settings)
    key: Any = None if algorithm == "none" else NEW_SECRET
    token = jwt.encode(
        _claims(user_id), key, algorithm=algorithm, headers={"kid": key_id(NEW_SECRET)}
    )
    assert jwt.get_unverified_header(token)["alg"] == algorithm

    response = await client.get("/api/user", headers=auth(token))

    assert response.status_code == 401
    assert response.json() == INVALID


def test_previous_keys_need_an_end(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="FASTBOARD_PREVIOUS_KEYS_VALID_UNTIL"):
        make_settings("sqlite+aiosqlite:///unused.db", tmp_path, previous_secret_keys=[TEST_SECRET])
    with pytest.raises(ValidationError, match="at least 32"):
        make_settings(
            "sqlite+aiosqlite:///unused.db",
            tmp_path,
            previous_secret_keys=["short"],
            previous_keys_valid_until=datetime.now(UTC),
        )


def test_rotation_is_configured_through_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FASTBOARD_SECRET_KEY", NEW_SECRET)
    monkeypatch.setenv("FASTBOARD_PREVIOUS_SECRET_KEYS", f'["{TEST_SECRET}", "{OTHER_SECRET}"]')
    monkeypatch.setenv("FASTBOARD_PREVIOUS_KEYS_VALID_UNTIL", "2030-01-02T03:04:05")
    configured = Settings(var_dir=tmp_path, _env_file=None)

    keys = configured.verification_keys()

    assert list(keys) == [key_id(NEW_SECRET), key_id(TEST_SECRET), key_id(OTHER_SECRET)]
    assert keys[key_id(NEW_SECRET)].until is None
    # A time without a zone is UTC.
    expected = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    assert keys[key_id(TEST_SECRET)].until == expected
    assert "secret" not in repr(keys).replace("secret=***", "")
    assert TEST_SECRET not in repr(keys)
