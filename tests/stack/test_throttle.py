"""The app's credential throttle across hosts: two Gunicorn instances (each its own
workers) share one account's budget through Redis, and the 429 passes NGINX unchanged."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import require_redis
from tests.stack.conftest import StackFactory

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

PASSWORD = "correct-horse-battery"


def straight_to(socket: Path) -> httpx.AsyncClient:
    """One host's Gunicorn itself, past NGINX."""
    transport = httpx.AsyncHTTPTransport(uds=str(socket))
    return httpx.AsyncClient(transport=transport, base_url="http://localhost", timeout=15)


async def test_failed_logins_on_two_hosts_add_up_for_the_account(
    make_stack: StackFactory, redis_url: str | None
) -> None:
    require_redis(redis_url)
    # The app's throttle at its defaults (the stack tests turn it off); NGINX unlimited.
    stack = make_stack(workers=2, hosts=2, FASTBOARD_THROTTLE="true")
    sockets = [stack.socket, *(path for _, path in stack.more)]
    user = {"username": "target", "email": "target@example.org", "password": PASSWORD}
    async with (
        httpx.AsyncClient(base_url=stack.url, timeout=15) as through_nginx,
        straight_to(sockets[0]) as first,
        straight_to(sockets[1]) as second,
    ):
        assert (await through_nginx.post("/api/users", json={"user": user})).status_code == 201
        # Five wrong passwords on each host: under any one host's own count of ten.
        guesses = []
        for n in range(10):
            host = first if n % 2 else second
            guess = {"user": {"email": "target@example.org", "password": f"guess-{n}"}}
            guesses.append(await host.post("/api/users/login", json=guess))
        # The owner, on either host and through NGINX, now has to wait too.
        owner = {"user": {"email": "target@example.org", "password": PASSWORD}}
        refused = [
            await first.post("/api/users/login", json=owner),
            await second.post("/api/users/login", json=owner),
            await through_nginx.post("/api/users/login", json=owner),
        ]
        other = await through_nginx.post(
            "/api/users/login", json={"user": {"email": "other@example.org", "password": "x"}}
        )

    assert [guess.status_code for guess in guesses] == [401] * 10
    for response in refused:
        assert response.status_code == 429, response.text
        # Ten failures per 15 minutes: one more attempt every 90 s.
        assert 85 <= int(response.headers["retry-after"]) <= 90
        assert response.json() == {
            "errors": {
                "body": [
                    "too many failed attempts for this account, try again in "
                    f"{response.headers['retry-after']} s"
                ]
            }
        }
        assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    # Another account is not affected.
    assert other.status_code == 401
