"""Helpers of the stack tests: the servers' logs, API calls. The fixtures that start the
stack are in tests/stack/fixtures.py, a plugin shared with the browser tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from dev.stack import RunningStack
from tests.stack.fixtures import IN_CI, SECRET, StackFactory, stack_env, unavailable
from tests.stack.forwarder import TcpForwarder, forwarding

__all__ = [
    "IN_CI",
    "SECRET",
    "StackFactory",
    "app_errors",
    "app_log",
    "each_request_a_new_connection",
    "nginx_log",
    "register",
    "stack_env",
    "unavailable",
]


@pytest.fixture
def database_forwarder(stack_database_url: str) -> Iterator[tuple[TcpForwarder, str]]:
    """A forwarder to the stack's PostgreSQL that a test can cut (stop, stall, start), and
    the database URL through it."""
    with forwarding(stack_database_url, 5432) as forwarded:
        yield forwarded


def app_log(stack: RunningStack) -> list[dict[str, Any]]:
    """The app's JSON log records (the Gunicorn output), skipping any non-JSON line."""
    records = []
    for line in (stack.workdir / "logs" / "gunicorn.log").read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def app_errors(stack: RunningStack) -> list[str]:
    """The app's ERROR records, tracebacks included: the story behind a failed request."""
    return [
        f"{record.get('message')}\n{record.get('exc_info', '')}"
        for record in app_log(stack)
        if record.get("level") == "ERROR" and record.get("logger") != "gunicorn.error"
    ]


def nginx_log(stack: RunningStack) -> list[dict[str, Any]]:
    lines = (stack.workdir / "logs" / "access.log").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


async def register(client: httpx.AsyncClient) -> tuple[str, str]:
    """A new user through the API; returns (username, token)."""
    name = f"u{uuid4().hex[:12]}"
    response = await client.post(
        "/api/users",
        json={"user": {"username": name, "email": f"{name}@example.org", "password": "pw-" + name}},
    )
    assert response.status_code == 201, response.text
    return name, response.json()["user"]["token"]


def each_request_a_new_connection(stack: RunningStack) -> httpx.AsyncClient:
    """A client of Gunicorn's socket itself, opening a connection per request.

    NGINX keeps its upstream connections alive, and one worker may have accepted all of
    them: a test that needs both workers to serve sends its requests this way, so each
    one is a new accept that either worker may win.
    """
    transport = httpx.AsyncHTTPTransport(
        uds=str(stack.socket), limits=httpx.Limits(max_keepalive_connections=0)
    )
    return httpx.AsyncClient(transport=transport, base_url="http://fastboard", timeout=15)
