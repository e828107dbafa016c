"""Password hashing and tokens: Argon2id off the event loop, HS256 JWTs that expire."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pwdlib import PasswordHash
from sqlalchemy import select

from fastboard import security
from fastboard.settings import Settings
from fastboard.users.models import User
from tests.conftest import TEST_SECRET, make_settings, register

pytestmark = pytest.mark.anyio


class RecordingHasher:
    """Wraps the real hasher and records which thread each call runs on."""

    def __init__(self, inner: PasswordHash) -> None:
        self.inner = inner
        self.threads: list[tuple[str, int]] = []

    def hash(self, password: str) -> str:
        self.threads.append(("hash", threading.get_ident()))
        return self.inner.hash(password)

    def verify(self, password: str, password_hash: str) -> bool:
        self.threads.append(("verify", threading.get_ident()))
        return self.inner.verify(password, password_hash)

    def verify_and_update(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        self.threads.append(("verify", threading.get_ident()))
        return self.inner.verify_and_update(password, password_hash)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> RecordingHasher:
    recording = RecordingHasher(security._hasher)
    monkeypatch.setattr(security, "_hasher", recording)
    return recording


@pytest.fixture
def token_settings(tmp_path: Path) -> Settings:
    return make_settings("sqlite+aiosqlite:///unused.db", tmp_path / "var")


# Passwords ------------------------------------------------------------------------------


async def test_registration_stores_an_argon2id_hash(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    await register(client, "alice", password="correct-horse")

    async with app.state.database.writer() as session:
        stored = await session.scalar(select(User.password_hash).where(User.username == "alice"))

    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert "correct-horse" not in stored
    assert await security.verify_and_update("correct-horse", stored, settings) == (True, None)


async def test_hash_and_verify_run_in_a_worker_thread(
    recorder: RecordingHasher, token_settings: Settings
) -> None:
    loop_thread = threading.get_ident()

    hashed = await security.hash_password("correct-horse", token_settings)
    await security.verify_and_update("correct-horse", hashed, token_settings)

    assert [name for name, _ in recorder.threads] == ["hash", "verify"]
    assert all(thread != loop_thread for _, thread in recorder.threads)


async def test_register_and_login_hash_off_the_event_loop(
    client: httpx.AsyncClient, recorder: RecordingHasher
) -> None:
    loop_thread = threading.get_ident()
    await register(client, "alice", password="correct-horse")
    await client.post(
        "/api/users/login",
        json={"user": {"email": "alice@example.com", "password": "correct-horse"}},
    )

    assert {name for name, _ in recorder.threads} == {"hash", "verify"}
    assert all(thread != loop_thread for _, thread in recorder.threads)


async def test_login_with_unknown_email_still_verifies_a_hash(
    client: httpx.AsyncClient, recorder: RecordingHasher
) -> None:
    """The timing equaliser: an unknown email costs an Argon2 verify like a wrong password."""
    response = await client.post(
        "/api/users/login",
        json={"user": {"email": "nobody@example.com", "password": "correct-horse"}},
    )

    assert response.status_code == 401
    # One Argon2 run, off the event loop: verifying against a throwaway hash, or (the
    # first time) making it, which costs the same.
    assert len(recorder.threads) == 1
    assert recorder.threads[0][1] != threading.get_ident()


# Tokens ---------------------------------------------------------------------------------


def test_token_round_trips_the_user_id(token_settings: Settings) -> None:
    token = security.create_token(42, token_settings)

    assert security.decode_token(token, token_settings) == 42


def test_token_is_hs256_with_sub_iat_and_exp(token_settings: Settings) -> None:
    issued = datetime(2030, 1, 1, tzinfo=UTC)
    token = security.create_token(7, token_settings, now=issued)

    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(
        token, TEST_SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert claims == {
        "sub": "7",
        "ver": 0,
        "iat": int(issued.timestamp()),
        "exp": int(issued.timestamp()) + token_settings.jwt_ttl_seconds,
    }


def test_token_expires_after_the_configured_ttl(tmp_path: Path) -> None:
    settings = make_settings("sqlite+aiosqlite:///unused.db", tmp_path, jwt_ttl_seconds=60)
    now = datetime.now(UTC)

    live = security.create_token(1, settings, now=now - timedelta(seconds=50))
    expired = security.create_token(1, settings, now=now - timedelta(seconds=70))

    assert security.decode_token(live, settings) == 1
    assert security.decode_token(expired, settings) is None


def test_token_from_another_secret_is_rejected(token_settings: Settings, tmp_path: Path) -> None:
    other = make_settings("sqlite+aiosqlite:///unused.db", tmp_path / "other", secret_key="x" * 40)

    assert security.decode_token(security.create_token(1, other), token_settings) is None


@pytest.mark.parametrize(
    "algorithm",
    ["none", "HS512"],
)
def test_token_with_another_algorithm_is_rejected(token_settings: Settings, algorithm: str) -> None:
    now = datetime.now(UTC)
    claims = {"sub": "1", "iat": now, "exp": now + timedelta(hours=1)}
    key = "" if algorithm == "none" else TEST_SECRET * 2

    token = jwt.encode(claims, key, algorithm=algorithm)

    assert security.decode_token(token, token_settings) is None


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b", "...."])
def test_malformed_token_is_rejected(token_settings: Settings, token: str) -> None:
    assert security.decode_token(token, token_settings) is None


def test_token_carries_the_accounts_token_version(token_settings: Settings) -> None:
    token = security.create_token(7, token_settings, version=3)

    verified = security.verify_token(token, token_settings)

    assert verified is not None
    assert (verified.user_id, verified.version) == (7, 3)


def test_a_token_from_before_versions_counts_as_version_0(token_settings: Settings) -> None:
    now = datetime.now(UTC)
    token = jwt.encode(
        {"sub": "7", "iat": now, "exp": now + timedelta(hours=1)}, TEST_SECRET, algorithm="HS256"
    )

    verified = security.verify_token(token, token_settings)

    assert verified is not None
    assert verified.version == 0


@pytest.mark.parametrize("version", [-1, 2**31, "1", 1.5, None, True, [1]])
def test_a_token_version_never_issued_is_rejected(
    token_settings: Settings, version: object
) -> None:
    now = datetime.now(UTC)
    claims = {"sub": "7", "ver": version, "iat": now, "exp": now + timedelta(hours=1)}

    token = jwt.encode(claims, TEST_SECRET, algorithm="HS256")

    assert security.verify_token(token, token_settings) is None
