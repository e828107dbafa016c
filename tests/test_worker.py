"""The Gunicorn worker class, in process: its Uvicorn settings, forwarded headers and the
quick stop. (The stack tests drive the same class in real Gunicorn processes.)"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import FrameType, SimpleNamespace
from typing import Any

import anyio
import pytest
import uvicorn_worker
from gunicorn.config import Config
from gunicorn.glogging import Logger
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config as UvicornConfig
from uvicorn.server import Server

from fastboard import worker as worker_module
from fastboard.nginx_conf import NGINX_UPSTREAM_KEEPALIVE_TIMEOUT
from fastboard.recycling import RecyclePolicy
from fastboard.worker import (
    DRAIN_IDLE_SECONDS,
    DrainingHttpProtocol,
    RecyclingServer,
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
    assert (config.loop, config.http, config.lifespan) == ("uvloop", DrainingHttpProtocol, "on")
    # The worker's own server applies the request limit, with the memory and age limits.
    assert config.limit_max_requests is None
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


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    headers = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


REQUEST = b"GET / HTTP/1.1\r\nHost: fastboard\r\n\r\n"


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    return head.lower(), await reader.readexactly(2)


@pytest.fixture
async def draining_server(tmp_path: Path) -> AsyncIterator[tuple[Server, Path, asyncio.Task[None]]]:
    """Uvicorn on a unix socket with the worker's protocol, started in this event loop."""
    path = tmp_path / "s.sock"
    config = UvicornConfig(
        app=hello, uds=str(path), http=DrainingHttpProtocol, lifespan="off", log_config=None
    )
    server = Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - Uvicorn sets a flag, no event
        await asyncio.sleep(0.01)
    yield server, path, task
    server.force_exit = server.should_exit = True
    with anyio.fail_after(10):
        await task


async def stop_accepting(server: Server, path: Path) -> None:
    """Ask the server to stop, and wait until it no longer accepts."""
    server.should_exit = True
    with anyio.fail_after(10):
        while True:
            try:
                _, writer = await asyncio.open_unix_connection(str(path))
            except OSError:
                return
            writer.close()
            await asyncio.sleep(0.02)


async def test_a_stopping_worker_answers_the_next_request_on_an_idle_connection(
    draining_server: tuple[Server, Path, asyncio.Task[None]],
) -> None:
    """Uvicorn alone closes it at once: a request sent that moment meets a closed socket."""
    server, path, task = draining_server
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(REQUEST)
    head, _ = await read_response(reader)
    assert b"connection: close" not in head  # kept alive, now idle

    await stop_accepting(server, path)
    writer.write(REQUEST)
    with anyio.fail_after(10):
        head, body = await read_response(reader)
        assert head.startswith(b"http/1.1 200")
        assert b"connection: close" in head
        assert body == b"ok"
        assert await reader.read() == b""  # closed after the answer, not before
        await task  # and with no connection left, the server is done
    writer.close()


async def test_a_stopping_worker_closes_a_connection_idle_past_the_drain_period(
    draining_server: tuple[Server, Path, asyncio.Task[None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "DRAIN_IDLE_SECONDS", 0.2)
    server, path, task = draining_server
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(REQUEST)
    await read_response(reader)

    await stop_accepting(server, path)
    with anyio.fail_after(10):
        assert await reader.read() == b""
        await task
    writer.close()


@pytest.mark.parametrize(("graceful_timeout", "warned"), [(10, True), (11, False), (30, False)])
def test_a_graceful_timeout_too_short_for_the_drain_is_warned_at_boot(
    caplog: pytest.LogCaptureFixture, graceful_timeout: int, warned: bool
) -> None:
    """At 10 s or less Uvicorn's deadline (5 s inside it) cuts idle connections no later
    than the drain would: NGINX may be sending on them."""
    cfg = Config()
    cfg.set("keepalive", NGINX_UPSTREAM_KEEPALIVE_TIMEOUT + 15)
    cfg.set("graceful_timeout", graceful_timeout)
    logger = Logger(cfg)
    logger.error_log.addHandler(caplog.handler)
    try:
        made = UvicornWorker(0, 0, [], SimpleNamespace(wsgi=Recorder), 30, cfg, logger)
        made.tmp.close()
    finally:
        logger.error_log.removeHandler(caplog.handler)
    warnings = [r.getMessage() for r in caplog.records if "graceful_timeout" in r.getMessage()]
    assert bool(warnings) is warned, warnings
    if warned:
        assert "FASTBOARD_GRACEFUL_TIMEOUT above 10" in warnings[0]


def test_drain_outlasts_nginx_idle_connections() -> None:
    """NGINX closes an idle upstream connection first: it never sends on one the worker
    is about to close."""
    assert DRAIN_IDLE_SECONDS > NGINX_UPSTREAM_KEEPALIVE_TIMEOUT
    assert graceful_shutdown_seconds(30) > DRAIN_IDLE_SECONDS


def test_the_master_creates_one_recycle_turn_for_all_its_workers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(UvicornWorker, "turns", None)
    cfg = Config()
    cfg.set("worker_tmp_dir", str(tmp_path))
    UvicornWorker.check_config(cfg, Logger(cfg))
    turns = UvicornWorker.turns
    assert turns is not None
    UvicornWorker.check_config(cfg, Logger(cfg))  # a HUP sets up again: the same turn
    assert UvicornWorker.turns is turns
    assert turns.take(101)
    assert not turns.take(102)
    turns.close()


async def test_a_draining_worker_keeps_notifying_the_master(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Else a drain longer than Gunicorn's timeout would be killed as a stuck worker."""
    monkeypatch.setattr(worker_module, "DRAIN_IDLE_SECONDS", 1.5)
    beats: list[bool] = []  # whether the server was stopping at each notification

    async def notify() -> None:
        beats.append(server.should_exit)

    path = tmp_path / "s.sock"
    config = UvicornConfig(
        app=hello,
        uds=str(path),
        http=DrainingHttpProtocol,
        lifespan="off",
        log_config=None,
        callback_notify=notify,
        timeout_notify=1,
    )
    server = RecyclingServer(config, RecyclePolicy(), None)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - Uvicorn sets a flag, no event
        await asyncio.sleep(0.01)
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(REQUEST)
    await read_response(reader)  # an idle keep-alive connection: the drain waits for it

    await stop_accepting(server, path)
    with anyio.fail_after(10):
        await task
    writer.close()
    assert beats.count(True) >= 2, beats


async def test_a_response_under_way_when_the_stop_begins_does_not_cut_its_connection(
    tmp_path: Path,
) -> None:
    """Its headers already promised keep-alive: closing right after it would race the
    client's next request, as closing an idle connection does."""
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] != "/slow":
            return await hello(scope, receive, send)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await release.wait()
        await send({"type": "http.response.body", "body": b"b"})
        return None

    path = tmp_path / "s.sock"
    config = UvicornConfig(
        app=app, uds=str(path), http=DrainingHttpProtocol, lifespan="off", log_config=None
    )
    server = Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - Uvicorn sets a flag, no event
        await asyncio.sleep(0.01)
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(b"GET /slow HTTP/1.1\r\nHost: fastboard\r\n\r\n")
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    assert b"connection: close" not in head

    await stop_accepting(server, path)
    release.set()
    with anyio.fail_after(10):
        assert (await reader.readuntil(b"0\r\n\r\n")).endswith(b"1\r\nb\r\n0\r\n\r\n")
        writer.write(REQUEST)
        head, body = await read_response(reader)
        assert head.startswith(b"http/1.1 200")
        assert b"connection: close" in head
        assert body == b"ok"
        assert await reader.read() == b""
        await task
    writer.close()


async def gated(
    scope: Scope, receive: Receive, send: Send, gates: dict[str, asyncio.Event]
) -> None:
    """Answers ``/<name>`` with ``<name>``, once ``gates[name]`` (if any) is set."""
    name = scope["path"].strip("/")
    if name in gates:
        await gates[name].wait()
    body = name.encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def pipelined_server(
    tmp_path: Path, gates: dict[str, asyncio.Event]
) -> tuple[Server, Path, asyncio.Task[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await gated(scope, receive, send, gates)

    path = tmp_path / "s.sock"
    config = UvicornConfig(
        app=app, uds=str(path), http=DrainingHttpProtocol, lifespan="off", log_config=None
    )
    server = Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - Uvicorn sets a flag, no event
        await asyncio.sleep(0.01)
    return server, path, task


def get(name: str) -> bytes:
    return f"GET /{name} HTTP/1.1\r\nHost: fastboard\r\n\r\n".encode()


async def read_named(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
    return head, await reader.readexactly(length)


async def test_a_pipelined_request_outlasting_the_drain_period_is_not_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The idle close is armed only once no request runs: before, it was armed when the
    first response ended, while Uvicorn was already running the queued one (cut at 5 s)."""
    monkeypatch.setattr(worker_module, "DRAIN_IDLE_SECONDS", 0.2)
    gates = {"first": asyncio.Event(), "second": asyncio.Event()}
    server, path, task = await pipelined_server(tmp_path, gates)
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(get("first") + get("second"))
    await asyncio.sleep(0.1)  # both received: the second waits in Uvicorn's queue

    await stop_accepting(server, path)
    gates["first"].set()
    with anyio.fail_after(10):
        head, body = await read_named(reader)
        assert (head.startswith(b"http/1.1 200"), body) == (True, b"first")
        # The second request runs for several drain periods before it answers.
        await asyncio.sleep(1.0)
        gates["second"].set()
        head, body = await read_named(reader)
        assert (head.startswith(b"http/1.1 200"), body) == (True, b"second")
        assert b"connection: close" in head
        assert await reader.read() == b""
        await task
    writer.close()


async def test_a_stopping_worker_answers_every_pipelined_request_then_closes(
    tmp_path: Path,
) -> None:
    gates = {"first": asyncio.Event()}
    server, path, task = await pipelined_server(tmp_path, gates)
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(get("first") + get("second") + get("third"))
    await asyncio.sleep(0.1)

    await stop_accepting(server, path)
    gates["first"].set()
    with anyio.fail_after(10):
        answers = [await read_named(reader) for _ in range(3)]
        assert [body for _, body in answers] == [b"first", b"second", b"third"]
        assert [b"connection: close" in head for head, _ in answers] == [False, False, True]
        assert await reader.read() == b""
        await task
    writer.close()
