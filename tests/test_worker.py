"""The Gunicorn worker class, in process: its Uvicorn settings, forwarded headers and the
quick stop. (The stack tests drive the same class in real Gunicorn processes.)"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from types import FrameType, SimpleNamespace
from typing import Any

import pytest
import uvicorn_worker
from gunicorn.config import Config
from gunicorn.glogging import Logger
from starlette.types import Receive, Scope, Send

from fastboard.nginx_conf import NGINX_UPSTREAM_KEEPALIVE_TIMEOUT
from fastboard.worker import (
    TrustedProxyHeaders,
    UvicornWorker,
    graceful_shutdown_seconds,
)

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(dict(scope))


async def _nothing() -> Any:
    raise AssertionError("not called")


async def _ignore(_message: Any) -> None:
    return None


def http_scope(*, client: tuple[str, int] | None, server: tuple[str, int | None]) -> Scope:
    return {
        "type": "http",
        "scheme": "http",
        "client": client,
        "server": server,
        "headers": [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https")],
    }


@pytest.mark.parametrize(
    ("client", "server", "forwarded"),
    [
        (None, ("/run/fastboard/gunicorn.sock", None), True),  # NGINX over the unix socket
        (("127.0.0.1", 50000), ("127.0.0.1", 8000), True),  # NGINX over loopback TCP
        (("10.1.2.3", 50000), ("10.0.0.1", 8000), False),  # anyone else
    ],
    ids=["unix-socket-peer", "trusted-tcp-peer", "untrusted-tcp-peer"],
)
async def test_forwarded_headers_are_trusted_only_from_the_proxy(
    client: tuple[str, int] | None, server: tuple[str, int | None], forwarded: bool
) -> None:
    app = Recorder()
    await TrustedProxyHeaders(app, ["127.0.0.1"])(
        http_scope(client=client, server=server), _nothing, _ignore
    )
    seen = app.scopes[0]
    if forwarded:
        assert seen["client"] == ("203.0.113.7", 0)
        assert seen["scheme"] == "https"
    else:
        assert seen["client"] == client
        assert seen["scheme"] == "http"


def test_uvicorn_stops_well_inside_gunicorns_graceful_timeout() -> None:
    assert graceful_shutdown_seconds(30) == 25
    assert graceful_shutdown_seconds(3) == 1


@pytest.fixture
def worker() -> Iterator[UvicornWorker]:
    cfg = Config()
    cfg.set("keepalive", NGINX_UPSTREAM_KEEPALIVE_TIMEOUT + 15)
    cfg.set("graceful_timeout", 30)
    cfg.set("forwarded_allow_ips", "127.0.0.1")
    app = SimpleNamespace(wsgi=lambda: Recorder())
    made = UvicornWorker(0, 0, [], app, 30, cfg, Logger(cfg))
    yield made
    made.tmp.close()


def test_worker_configures_uvicorn_for_running_behind_nginx(worker: UvicornWorker) -> None:
    assert isinstance(worker, uvicorn_worker.UvicornWorker)
    config = worker.config
    assert (config.loop, config.http, config.lifespan) == ("uvloop", "httptools", "on")
    assert config.timeout_keep_alive > NGINX_UPSTREAM_KEEPALIVE_TIMEOUT
    assert config.timeout_graceful_shutdown == 25
    assert config.server_header is False
    # Forwarded headers are applied by the worker's own wrapper, which also covers
    # unix sockets; Uvicorn must not apply them a second time.
    assert config.proxy_headers is False
    worker.load_wsgi()
    assert isinstance(worker.wsgi, TrustedProxyHeaders)


def test_quit_asks_uvicorn_for_its_quick_stop(worker: UvicornWorker) -> None:
    calls: list[int] = []

    def uvicorn_handler(signum: int, _frame: FrameType | None) -> None:
        calls.append(signum)

    previous = signal.signal(signal.SIGINT, uvicorn_handler)
    try:
        worker.handle_exit(signal.SIGQUIT, None)
    finally:
        signal.signal(signal.SIGINT, previous)
    # Uvicorn treats a second SIGINT as "force exit".
    assert calls == [signal.SIGINT, signal.SIGINT]
    assert worker.alive is False
