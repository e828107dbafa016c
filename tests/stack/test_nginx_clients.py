"""Who the client is behind a load balancer (trusted proxies), and what a flood of refused
requests costs NGINX (next to nothing: no error-log line each, a sample in the access log).

Loopback has a whole /8: a client bound to 127.0.0.20 is "the load balancer", one bound to
127.0.0.21 an outsider, without any network set-up.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from uuid import uuid4

import httpx
import pytest

from dev.stack import RunningStack
from fastboard.nginx_conf import RateLimits
from tests.stack.conftest import StackFactory, app_log, nginx_log, unavailable
from tests.stack.test_front import logged

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

PROXY = "127.0.0.20"
OUTSIDER = "127.0.0.21"
# 1 a minute with a burst of 2: three requests pass, the fourth is refused, per address.
TIGHT = RateLimits(general="1r/m", general_burst=2)


@asynccontextmanager
async def client_from(stack: RunningStack, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=stack.url, transport=transport, timeout=15) as client:
        yield client


async def tags(client: httpx.AsyncClient, forwarded_for: str | None = None) -> httpx.Response:
    """GET /api/tags with a fresh request id (and the X-Forwarded-For given)."""
    headers = {"X-Request-ID": f"test-{uuid4().hex}"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    return await client.get("/api/tags", headers=headers)


async def seen_as(stack: RunningStack, response: httpx.Response) -> tuple[str, str]:
    """(NGINX's client address, the app's) for one answered request."""
    rid = response.headers["x-request-id"]
    at_nginx = await logged(partial(nginx_log, stack), rid)
    at_app = await logged(partial(app_log, stack), rid)
    return at_nginx["remote_addr"], at_app["client"]


async def test_a_trusted_proxy_names_the_client_and_an_outsider_cannot(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(workers=1, trusted_proxies=[PROXY])
    async with client_from(stack, PROXY) as proxy, client_from(stack, OUTSIDER) as outsider:
        assert await seen_as(stack, await tags(proxy, "203.0.113.7")) == ("203.0.113.7",) * 2
        # The client sent its own X-Forwarded-For and the proxy appended the address it
        # saw: the address the proxy vouches for wins, and the app gets it alone (NGINX
        # overwrites the header instead of passing the client's list on).
        spoofed = await tags(proxy, "198.51.100.1, 203.0.113.8")
        assert await seen_as(stack, spoofed) == ("203.0.113.8",) * 2
        # Not from a trusted proxy: the header is ignored, the connection's address stands.
        assert await seen_as(stack, await tags(outsider, "203.0.113.9")) == (OUTSIDER,) * 2


async def test_without_trusted_proxies_nobody_can_name_the_client(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(workers=1)
    async with client_from(stack, PROXY) as proxy:
        assert await seen_as(stack, await tags(proxy, "203.0.113.7")) == (PROXY,) * 2


async def test_clients_behind_one_proxy_have_rate_limits_of_their_own(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(workers=1, limits=TIGHT, trusted_proxies=[PROXY])
    async with client_from(stack, PROXY) as proxy, client_from(stack, OUTSIDER) as outsider:
        first = Counter([(await tags(proxy, "203.0.113.1")).status_code for _ in range(5)])
        assert first == Counter({200: 3, 429: 2})
        # The proxy's own address was never the bucket: the next client starts afresh.
        second = Counter([(await tags(proxy, "203.0.113.2")).status_code for _ in range(4)])
        assert second == Counter({200: 3, 429: 1})
        # An outsider naming a limited client gets its own budget, not that client's.
        assert (await tags(outsider, "203.0.113.1")).status_code == 200


def error_log_lines(stack: RunningStack) -> list[str]:
    return (stack.workdir / "logs" / "error.log").read_text().splitlines()


def wrk_counts(output: str) -> tuple[int, int]:
    """(responses, of which not 2xx/3xx) from wrk's summary."""
    total = re.search(r"(\d+) requests in", output)
    assert total is not None, output
    other = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return int(total.group(1)), int(other.group(1)) if other else 0


def test_a_flood_of_refused_requests_costs_no_error_log_and_a_sample_of_access_log(
    make_stack: StackFactory,
) -> None:
    """A flood once wrote 7 GB of logs in minutes: an error-log line per 429 and an
    access-log line per 429. Now: none of the first, about 1 % of the second, and every
    request that was answered is still logged."""
    wrk = shutil.which("wrk")
    if wrk is None:
        unavailable("wrk is not installed")
    assert wrk is not None
    stack = make_stack(workers=1, limits=RateLimits(general="2r/s", general_burst=5))
    errors_before = len(error_log_lines(stack))
    flood = subprocess.run(
        [wrk, "-t", "2", "-c", "32", "-d", "3s", f"{stack.url}/api/tags"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answered, refused = wrk_counts(flood.stdout)
    # A graceful stop writes out the access-log buffers of every NGINX worker.
    stack.nginx.send_signal(signal.SIGQUIT)
    assert stack.nginx.wait(timeout=30) == 0

    statuses = Counter(record["status"] for record in nginx_log(stack))
    print(f"flood: {answered} answers, {refused} refused; logged {dict(statuses)}")
    assert refused >= 1000  # the flood was one
    # 499: requests wrk cut off when its time was up.
    assert set(statuses) <= {200, 429, 499}
    # Every answered request is in the log (wrk may not count the last few it cut off).
    assert statuses[200] >= answered - refused
    # Sampled, not dropped: about 1 in 100 (at least 1000 refused: none logged would
    # happen with odds of about e^-10 if the sampling worked).
    assert 1 <= statuses[429] <= refused / 20
    new_errors = error_log_lines(stack)[errors_before:]
    assert len(new_errors) <= 3, new_errors[:5]


async def test_the_apps_own_refusals_are_all_logged(make_stack: StackFactory) -> None:
    """Only NGINX's 429s are sampled: one from the app's credential throttle reached a
    worker, and each is worth a line."""
    stack = make_stack(workers=1, FASTBOARD_THROTTLE="true")  # NGINX unlimited
    guess = {"user": {"email": "nobody@example.org", "password": "guess"}}
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as client:
        statuses = Counter(
            [(await client.post("/api/users/login", json=guess)).status_code for _ in range(25)]
        )
        marker = await tags(client)
    assert statuses[429] >= 5  # the app's address budget is 20 a minute
    await logged(partial(nginx_log, stack), marker.headers["x-request-id"])
    logins = [record for record in nginx_log(stack) if record["uri"] == "/api/users/login"]
    assert Counter(record["status"] for record in logins) == statuses
    assert {record["upstream_status"] for record in logins if record["status"] == 429} == {"429"}
