"""The credential throttle (fastboard/throttle.py): per client address and per account,
shared by workers through Redis, in the process without it, and never a 500 when Redis
fails. Every test runs with the buckets in Redis (when the suite has it) and in memory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fastboard import throttle
from fastboard.app import create_app
from fastboard.settings import Settings
from fastboard.throttle import account_key, address_key
from fastboard.worker import TrustedProxyHeaders
from tests.conftest import auth, require_redis

pytestmark = pytest.mark.anyio

PASSWORD = "correct-horse"
ADDRESS_LIMIT = 6
ACCOUNT_LIMIT = 4


@pytest.fixture(params=["redis", "memory"])
def backend(request: pytest.FixtureRequest, redis_url: str | None) -> str:
    if request.param == "redis":
        require_redis(redis_url)
    return str(request.param)


@pytest.fixture
def settings(session_settings: Settings, backend: str) -> Settings:
    """Throttled, with small budgets. Under the suite's Redis prefix: emptied after the test."""
    return session_settings.model_copy(
        update={
            "throttle": True,
            "throttle_address_limit": ADDRESS_LIMIT,
            "throttle_address_period_seconds": 60,
            "throttle_account_limit": ACCOUNT_LIMIT,
            "throttle_account_period_seconds": 600,
            **({"redis_url": None} if backend == "memory" else {}),
        }
    )


From = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def from_address(app: FastAPI) -> From:
    """``async with from_address("198.51.100.7") as http``: a client with that address."""

    @asynccontextmanager
    async def client(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http

    return client


async def _sign_up(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    body = {"user": {"username": name, "email": f"{name}@example.com", "password": PASSWORD}}
    response = await http.post("/api/users", json=body)
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()["user"]
    return user


async def _login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post(
        "/api/users/login", json={"user": {"email": email, "password": password}}
    )


def _assert_throttled(response: httpx.Response, message: str) -> int:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    assert response.json() == {"errors": {"body": [message.format(seconds=retry_after)]}}
    return retry_after


FROM_ADDRESS = "too many attempts from your address, try again in {seconds} s"
FOR_ACCOUNT = "too many failed attempts for this account, try again in {seconds} s"


async def test_one_address_gets_its_budget_of_attempts(from_address: From) -> None:
    async with from_address("198.51.100.7") as http:
        tries = [await _login(http, f"u{n}@example.com", "guess") for n in range(ADDRESS_LIMIT)]
        refused = await _login(http, "another@example.com", "guess")
        # Every credential endpoint spends the same budget.
        form = await http.post(
            "/api/users/token", data={"username": "x@example.com", "password": "p"}
        )
        sign_up = await http.post(
            "/api/users",
            json={
                "user": {"username": "newbie", "email": "newbie@example.com", "password": PASSWORD}
            },
        )
    assert [t.status_code for t in tries] == [401] * ADDRESS_LIMIT
    # A minute's budget spent at once: one more attempt per period / limit (10 s).
    assert _assert_throttled(refused, FROM_ADDRESS) == 10
    _assert_throttled(form, FROM_ADDRESS)
    _assert_throttled(sign_up, FROM_ADDRESS)
    # Another address is not affected.
    async with from_address("198.51.100.8") as other:
        assert (await _login(other, "u0@example.com", "guess")).status_code == 401


async def test_ipv6_addresses_share_their_64(from_address: From) -> None:
    for n in range(ADDRESS_LIMIT):
        async with from_address(f"2001:db8:1:2::{n + 1:x}") as http:
            assert (await _login(http, f"a{n}@example.com", "guess")).status_code == 401
    async with from_address("2001:db8:1:2:ffff::1") as same_64:
        _assert_throttled(await _login(same_64, "b@example.com", "guess"), FROM_ADDRESS)
    async with from_address("2001:db8:1:3::1") as next_64:
        assert (await _login(next_64, "b@example.com", "guess")).status_code == 401


async def test_failed_logins_from_many_addresses_slow_the_account_down(
    from_address: From,
) -> None:
    async with from_address("192.0.2.1") as owner:
        await _sign_up(owner, "alice")
    for n in range(ACCOUNT_LIMIT):
        async with from_address(f"203.0.113.{n + 1}") as guesser:
            assert (await _login(guesser, "alice@example.com", f"guess{n}")).status_code == 401
    async with from_address("203.0.113.200") as guesser:
        guess = await _login(guesser, "alice@example.com", "guess-again")
        form = await guesser.post(
            "/api/users/token", data={"username": "ALICE@example.com", "password": "guess"}
        )
    # Refused before the password is even checked: the right one gets no answer either.
    async with from_address("192.0.2.1") as owner:
        right = await _login(owner, "alice@example.com", PASSWORD)
    # 4 failures per 600 s: one more attempt every 150 s, not a lock for good.
    assert _assert_throttled(guess, FOR_ACCOUNT) == 150
    _assert_throttled(form, FOR_ACCOUNT)
    _assert_throttled(right, FOR_ACCOUNT)
    # Other accounts are not affected.
    async with from_address("203.0.113.201") as guesser:
        assert (await _login(guesser, "bob@example.com", "guess")).status_code == 401


@pytest.mark.own_app
async def test_the_account_recovers_once_the_wait_is_over(
    app: FastAPI, session_settings: Settings, backend: str
) -> None:
    """Not locked out for good: after Retry-After the owner signs in, and a success
    clears the failures."""
    quick = session_settings.model_copy(
        update={
            "throttle": True,
            "throttle_account_limit": 2,
            "throttle_account_period_seconds": 1,
            **({"redis_url": None} if backend == "memory" else {}),
        }
    )
    async with _own_app(quick) as (_, http):
        await _sign_up(http, "carol")
        for _ in range(2):
            assert (await _login(http, "carol@example.com", "guess")).status_code == 401
        wait = _assert_throttled(await _login(http, "carol@example.com", PASSWORD), FOR_ACCOUNT)
        assert wait == 1
        await asyncio.sleep(wait)
        assert (await _login(http, "carol@example.com", PASSWORD)).status_code == 200
        # The success cleared the failures: a full budget again at once.
        for _ in range(2):
            assert (await _login(http, "carol@example.com", "guess")).status_code == 401


async def test_unknown_and_known_emails_are_throttled_alike(from_address: From) -> None:
    """The throttle tells no more than the login: an email nobody has is counted and
    answered exactly like one that exists."""
    async with from_address("192.0.2.1") as owner:
        await _sign_up(owner, "dave")
    answers: dict[str, list[tuple[int, Any, str | None]]] = {}
    for n, email in enumerate(["dave@example.com", "nobody-here@example.com"]):
        answers[email] = []
        for attempt in range(ACCOUNT_LIMIT + 1):
            async with from_address(f"198.18.{n}.{attempt + 1}") as http:
                response = await _login(http, email, "guess")
            answers[email].append(
                (response.status_code, response.json(), response.headers.get("retry-after"))
            )
    assert answers["dave@example.com"] == answers["nobody-here@example.com"]
    assert [status for status, _, _ in answers["dave@example.com"]] == [401] * ACCOUNT_LIMIT + [429]


async def test_wrong_current_passwords_count_against_the_account(from_address: From) -> None:
    async with from_address("192.0.2.1") as http:
        erin = await _sign_up(http, "erin")
    wrong = {"user": {"currentPassword": "guess", "newPassword": "new-password-1"}}
    for n in range(ACCOUNT_LIMIT):
        async with from_address(f"198.19.0.{n + 1}") as http:
            response = await http.put("/api/user/password", json=wrong, headers=auth(erin["token"]))
            assert response.status_code == 422, response.text
    async with from_address("198.19.0.100") as http:
        change = await http.put("/api/user/password", json=wrong, headers=auth(erin["token"]))
        deletion = await http.request(
            "DELETE",
            "/api/user",
            json={"user": {"password": PASSWORD}},
            headers=auth(erin["token"]),
        )
        login = await _login(http, "erin@example.com", PASSWORD)
    for response in (change, deletion, login):
        _assert_throttled(response, FOR_ACCOUNT)


async def test_taken_emails_count_against_that_email(from_address: From) -> None:
    async with from_address("192.0.2.1") as http:
        await _sign_up(http, "frank")
    for n in range(ACCOUNT_LIMIT):
        async with from_address(f"198.20.0.{n + 1}") as http:
            body = {
                "user": {"username": f"f{n}", "email": "frank@example.com", "password": PASSWORD}
            }
            taken = await http.post("/api/users", json=body)
            assert taken.status_code == 422
            assert taken.json() == {"errors": {"email": ["has already been taken"]}}
    async with from_address("198.20.0.100") as http:
        body = {"user": {"username": "f-last", "email": "frank@example.com", "password": PASSWORD}}
        _assert_throttled(await http.post("/api/users", json=body), FOR_ACCOUNT)


async def test_the_address_is_the_one_the_trusted_proxy_gives(app: FastAPI) -> None:
    """Behind the trusted proxy each client has its own budget; a client that sends its
    own X-Forwarded-For is not trusted and keeps the budget of its real address."""
    proxied = TrustedProxyHeaders(app, "127.0.0.1")

    async def logins(peer: str, forwarded: list[str]) -> list[int]:
        transport = httpx.ASGITransport(app=proxied, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test:8000") as http:
            return [
                (
                    await http.post(
                        "/api/users/login",
                        json={"user": {"email": f"x{n}@example.com", "password": "guess"}},
                        headers={"X-Forwarded-For": address},
                    )
                ).status_code
                for n, address in enumerate(forwarded)
            ]

    # NGINX (trusted) forwards two clients: each has a budget of its own.
    behind = await logins("127.0.0.1", ["198.51.100.1"] * ADDRESS_LIMIT + ["198.51.100.2"])
    assert behind == [401] * ADDRESS_LIMIT + [401]
    # A client claiming a new address in every request still spends its own budget.
    spoofed = [f"10.0.0.{n}" for n in range(ADDRESS_LIMIT + 1)]
    assert await logins("203.0.113.50", spoofed) == [401] * ADDRESS_LIMIT + [429]


@asynccontextmanager
async def _own_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own (another worker, say), on the suite's database and Redis."""
    other = create_app(settings)
    transport = httpx.ASGITransport(app=other, client=("192.0.2.99", 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield other, http
    finally:
        await other.state.read_cache.close()
        await other.state.live.close()
        await other.state.database.dispose()


@pytest.mark.own_app
@pytest.mark.parametrize("backend", ["redis"], indirect=True)  # memory is one process's
async def test_workers_share_the_budgets_through_redis(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    # One address for everything here: only the account's budget is under test.
    settings = settings.model_copy(update={"throttle_address_limit": 100})
    async with _own_app(settings) as (_, worker_one), _own_app(settings) as (_, worker_two):
        await _sign_up(worker_one, "gina")
        for n in range(ACCOUNT_LIMIT):
            worker = worker_one if n % 2 else worker_two
            assert (await _login(worker, "gina@example.com", "guess")).status_code == 401
        _assert_throttled(await _login(worker_one, "gina@example.com", PASSWORD), FOR_ACCOUNT)
        _assert_throttled(await _login(worker_two, "gina@example.com", PASSWORD), FOR_ACCOUNT)


async def test_redis_down_throttles_per_worker_and_never_fails_a_request(
    session_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody listens on port 1: every Redis call fails. Logins still answer (no 500),
    the worker counts on its own, and the outage is logged once, not per request."""
    down = session_settings.model_copy(
        update={
            "throttle": True,
            "throttle_address_limit": ADDRESS_LIMIT,
            "redis_url": "redis://127.0.0.1:1/0",
        }
    )
    caplog.set_level(logging.INFO, logger="fastboard.throttle")
    async with _own_app(down) as (_, http):
        statuses = [
            (await _login(http, f"x{n}@example.com", "guess")).status_code
            for n in range(ADDRESS_LIMIT + 1)
        ]
    assert statuses == [401] * ADDRESS_LIMIT + [429]
    outages = [r for r in caplog.records if r.name == "fastboard.throttle"]
    assert len(outages) == 1
    assert "Redis failed" in outages[0].getMessage()


@pytest.mark.own_app
@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_the_throttle_has_a_redis_client_of_its_own(settings: Settings) -> None:
    """Its failures are none of the read cache's business, and the cache's reconnects
    leave its connections alone: one client each, both closed with the app."""
    async with _own_app(settings) as (app, http):
        await _sign_up(http, "hana")
        assert (await _login(http, "hana@example.com", "guess")).status_code == 401
        cache = app.state.read_cache
        throttle_redis = app.state.throttle._redis()
        assert throttle_redis is not cache.client
        assert throttle_redis.connection_pool is not cache.client.connection_pool
        assert throttle_redis.connection_pool.get_connection_count()  # it did the counting
    assert cache._client is None
    assert cache._separate is None


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::", "2001:db8:1:2::/64"),
        (None, "unknown"),
        ("", "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_address_keys(host: str | None, key: str) -> None:
    assert address_key(host) == key


def test_account_keys_follow_the_login_and_hide_the_email() -> None:
    assert account_key("Alice@Example.com ") == account_key("alice@example.com")
    assert "alice" not in account_key("alice@example.com")
    assert account_key("alice@example.com") != account_key("bob@example.com")


def test_the_in_process_buckets_stay_bounded(
    monkeypatch: pytest.MonkeyPatch, session_settings: Settings
) -> None:
    """A flood of new addresses cannot grow a worker's memory (or its sweeping) without end."""
    monkeypatch.setattr(throttle, "_MEMORY_SWEEP_AT", 100)
    memory = throttle.Throttle(
        session_settings.model_copy(update={"throttle": True, "redis_url": None}),
        lambda: pytest.fail("no Redis without a URL"),
    )
    rule = throttle.Rule(limit=5, period_ms=60_000)
    for n in range(1000):
        assert memory._apply_in_memory(f"addr:{n}", rule, "hit") == 0
        assert len(memory._memory) <= 100
