"""NGINX with no application behind it, and the production rate limits.

The web UI still works (NGINX serves it from disk), every application path answers in
the API's error envelope, and the rate limits answer 429 before a request could ever
reach a worker.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from dev.nginx import nginx_command, render_nginx_conf
from dev.stack import free_port
from fastboard.nginx_conf import RateLimits
from fastboard.resources import web_root
from tests.stack.processes import serving

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

DOWN = {"errors": {"body": ["the application is unavailable, try again shortly"]}}


@pytest.fixture
def lone_nginx(nginx: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    conf = render_nginx_conf(
        listen_port=port,
        upstream_socket=tmp_path / "nobody-listens-here.sock",
        web_root=web_root(),
        workdir=tmp_path,
        limits=RateLimits(),  # the production defaults
    )
    url = f"http://127.0.0.1:{port}"
    with serving(
        nginx_command(conf, nginx),
        probe=f"{url}/",
        output=tmp_path / "logs" / "nginx.log",
        boot_timeout=15,
        stop=signal.SIGQUIT,
        stop_timeout=15,
    ):
        yield url


@pytest.fixture
async def client(lone_nginx: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=lone_nginx, timeout=15) as client:
        yield client


async def test_web_ui_needs_no_application(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html"
    for asset in (
        "/assets/style.css",
        "/app/main.js",
        "/assets/favicon.svg",
        "/vendor/marked.esm.js",
        "/vendor/purify.es.mjs",
        "/article/some-slug",
        "/settings",
    ):
        assert (await client.get(asset)).status_code == 200, asset


@pytest.mark.parametrize(
    "path", ["/api/articles", "/health", "/ready", "/docs", "/openapi.json", "/docs/assets/x.css"]
)
async def test_application_down_is_a_json_502(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 502
    # Even where the path ends in .json or .css: the error is never typed by extension.
    assert response.headers["content-type"] == "application/json"
    assert response.json() == DOWN
    assert response.headers["x-request-id"]


async def test_login_attempts_are_rate_limited(client: httpx.AsyncClient) -> None:
    body = {"user": {"email": "ada@example.org", "password": "guess"}}
    responses = [await client.post("/api/users/login", json=body) for _ in range(12)]
    statuses = Counter(response.status_code for response in responses)
    # 10 per minute with a burst of 5: at most 6 of 12 immediate attempts get through.
    assert set(statuses) == {502, 429}
    assert statuses[429] >= 6
    limited = next(response for response in responses if response.status_code == 429)
    assert limited.json() == {"errors": {"body": ["too many requests, slow down"]}}
    assert limited.headers["content-type"] == "application/json"
    assert limited.headers["retry-after"] == "6"  # one token of 10 per minute
    assert limited.headers["x-request-id"]
    assert limited.headers["x-content-type-options"] == "nosniff"


async def test_the_form_login_is_under_the_login_limit(client: httpx.AsyncClient) -> None:
    """POST /api/users/token checks a password as the JSON login does: the same budget."""
    form = {"username": "ada@example.org", "password": "guess"}
    statuses = Counter(
        [(await client.post("/api/users/token", data=form)).status_code for _ in range(12)]
    )
    assert set(statuses) == {502, 429}
    assert statuses[429] >= 6
    login = await client.post(
        "/api/users/login", json={"user": {"email": "ada@example.org", "password": "guess"}}
    )
    assert login.status_code == 429
    assert login.headers["retry-after"] == "6"


async def test_registration_shares_the_login_limit(client: httpx.AsyncClient) -> None:
    """One budget per address for both: sign-up attempts use up the logins too."""
    registrations = Counter(
        [(await client.post("/api/users", json={"user": {}})).status_code for _ in range(12)]
    )
    assert registrations[429] >= 6
    login = await client.post(
        "/api/users/login", json={"user": {"email": "ada@example.org", "password": "guess"}}
    )
    # Never tried before, yet refused: the registrations spent its budget.
    assert login.status_code == 429
    assert login.json() == {"errors": {"body": ["too many requests, slow down"]}}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/api/user/password", {"user": {"currentPassword": "guess", "newPassword": "x"}}),
        ("DELETE", "/api/user", {"user": {"password": "guess"}}),
    ],
)
async def test_requests_that_check_a_password_share_the_login_limit(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, object]
) -> None:
    """A stolen token is no way around the login limit: guessing the current password
    through a password change or an account deletion spends the same budget."""
    statuses = Counter(
        [(await client.request(method, path, json=body)).status_code for _ in range(12)]
    )
    assert set(statuses) == {502, 429}
    assert statuses[429] >= 6
    login = await client.post(
        "/api/users/login", json={"user": {"email": "ada@example.org", "password": "guess"}}
    )
    assert login.status_code == 429
    assert login.headers["retry-after"] == "6"


async def test_reading_the_user_is_not_under_the_login_limit(client: httpx.AsyncClient) -> None:
    statuses = Counter([(await client.get("/api/user")).status_code for _ in range(12)])
    assert statuses == Counter({502: 12})  # the app is down, but nothing was limited


async def test_api_is_rate_limited_but_probes_are_not(client: httpx.AsyncClient) -> None:
    api = [await client.get("/api/tags") for _ in range(120)]
    probes = Counter([(await client.get("/health")).status_code for _ in range(120)])
    assert {response.status_code for response in api} == {502, 429}
    assert probes == Counter({502: 120})
    limited = next(response for response in api if response.status_code == 429)
    assert limited.headers["retry-after"] == "1"  # one token of 20 per second


async def test_search_has_a_tighter_limit_of_its_own(client: httpx.AsyncClient) -> None:
    search = [await client.get("/api/search", params={"q": "x"}) for _ in range(60)]

    statuses = Counter(response.status_code for response in search)
    assert set(statuses) == {502, 429}
    # Fewer got through than the general zone's burst alone would let through (40).
    assert statuses[502] < 40
    limited = next(response for response in search if response.status_code == 429)
    assert limited.headers["retry-after"] == "1"  # one token of 5 per second
    assert limited.json() == {"errors": {"body": ["too many requests, slow down"]}}
