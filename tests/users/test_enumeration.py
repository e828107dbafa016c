"""Signing in tells nobody which emails are registered: an unknown email and a wrong
password get the same answer after the same work (one Argon2 verification). Registration
keeps the RealWorld spec's 422 for a taken email (see README, Accounts) after the same work
as a free one; the throttle (test_throttle.py) bounds how many emails one can try."""

from __future__ import annotations

import httpx
import pytest
from pwdlib import PasswordHash

from fastboard import security
from tests.conftest import register

pytestmark = pytest.mark.anyio


class CountingHasher:
    """The real hasher, counting what it is asked to do."""

    def __init__(self, inner: PasswordHash) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def hash(self, password: str) -> str:
        self.calls.append("hash")
        return self.inner.hash(password)

    def verify(self, password: str, password_hash: str) -> bool:
        self.calls.append("verify")
        return self.inner.verify(password, password_hash)

    def verify_and_update(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        self.calls.append("verify")
        return self.inner.verify_and_update(password, password_hash)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher(security._hasher)
    monkeypatch.setattr(security, "_hasher", counting)
    return counting


def _shown(response: httpx.Response) -> tuple[int, bytes, dict[str, str]]:
    """What a client learns from an answer, but for the per-request id."""
    headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}
    return response.status_code, response.content, headers


@pytest.mark.parametrize("form", [False, True], ids=["json-login", "form-login"])
async def test_unknown_email_and_wrong_password_answer_alike(
    client: httpx.AsyncClient, hasher: CountingHasher, form: bool
) -> None:
    await register(client, "alice")

    async def attempt(email: str) -> tuple[httpx.Response, list[str]]:
        hasher.calls.clear()
        if form:
            response = await client.post(
                "/api/users/token", data={"username": email, "password": "wrong-guess"}
            )
        else:
            body = {"user": {"email": email, "password": "wrong-guess"}}
            response = await client.post("/api/users/login", json=body)
        return response, list(hasher.calls)

    known, known_work = await attempt("alice@example.com")
    unknown, unknown_work = await attempt("nobody@example.com")
    again, again_work = await attempt("nobody-else@example.com")
    assert _shown(again) == _shown(unknown)
    assert again_work == ["verify"]

    assert _shown(known) == _shown(unknown)
    assert known.status_code == 401
    assert known.json() == {"errors": {"credentials": ["email or password is invalid"]}}
    # The same work: one Argon2 run each (a verification, or making the throwaway hash
    # an unknown email is verified against), so timing tells nothing either.
    assert known_work == ["verify"]
    assert len(unknown_work) == 1


async def test_a_deleted_accounts_email_answers_like_an_unknown_one(
    client: httpx.AsyncClient,
) -> None:
    alice = await register(client, "alice")
    gone = await client.request(
        "DELETE",
        "/api/user",
        json={"user": {"password": "correct-horse"}},
        headers={"Authorization": f"Token {alice['token']}"},
    )
    assert gone.status_code == 204
    body = {"user": {"email": "alice@example.com", "password": "correct-horse"}}
    deleted = await client.post("/api/users/login", json=body)
    body = {"user": {"email": "nobody@example.com", "password": "correct-horse"}}
    unknown = await client.post("/api/users/login", json=body)
    assert _shown(deleted) == _shown(unknown)


async def test_registration_does_the_same_work_for_a_taken_email(
    client: httpx.AsyncClient, hasher: CountingHasher
) -> None:
    """The spec's 422 says an email is taken (the only answer that does); the time it
    takes does not add to that: a free email and a taken one both cost one hash."""
    await register(client, "alice")
    hasher.calls.clear()
    taken = await client.post(
        "/api/users",
        json={"user": {"username": "alice2", "email": "alice@example.com", "password": "pw-pw-pw"}},
    )
    taken_work = list(hasher.calls)
    hasher.calls.clear()
    free = await client.post(
        "/api/users",
        json={"user": {"username": "carol", "email": "carol@example.com", "password": "pw-pw-pw"}},
    )
    assert taken.status_code == 422
    assert taken.json() == {"errors": {"email": ["has already been taken"]}}
    assert free.status_code == 201
    assert taken_work == list(hasher.calls) == ["hash"]
