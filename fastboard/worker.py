"""The Gunicorn worker class: Uvicorn on uvloop + httptools, tuned to sit behind NGINX.

Use it as ``worker_class = "fastboard.worker.UvicornWorker"`` (``fastboard.gunicorn_conf``).
``uvicorn_worker.UvicornWorker`` hands Gunicorn's ``keepalive``, ``timeout`` and
``forwarded_allow_ips`` to Uvicorn; this subclass pins the event loop and parser, stops
without dropping a keep-alive request (``DrainingHttpProtocol``), retires on requests,
memory or age one worker at a time (``RecyclingServer``), and trusts forwarded headers
from unix-socket peers, which Uvicorn alone never does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from types import FrameType
from typing import Any, ClassVar

import uvicorn_worker
from gunicorn.arbiter import Arbiter
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import Server

from fastboard.nginx_conf import NGINX_UPSTREAM_KEEPALIVE_TIMEOUT
from fastboard.recycling import RecyclePolicy, RecycleTurns, resident_bytes
from fastboard.settings import get_settings

log = logging.getLogger("uvicorn.error")

# Time left after Uvicorn's graceful shutdown for the lifespan shutdown (closing the
# database pool) before Gunicorn's graceful_timeout runs out and it sends SIGKILL.
SHUTDOWN_MARGIN_SECONDS = 5


def graceful_shutdown_seconds(gunicorn_graceful_timeout: float) -> int:
    """Uvicorn's deadline for in-flight requests, strictly inside Gunicorn's.

    Without one Uvicorn waits for slow requests forever, Gunicorn kills the worker
    mid-response at ``graceful_timeout``, and the lifespan shutdown never runs.
    """
    return max(1, int(gunicorn_graceful_timeout) - SHUTDOWN_MARGIN_SECONDS)


# How long a stopping worker leaves an idle keep-alive connection open, waiting for a last
# request to answer with "Connection: close". Longer than NGINX's upstream keepalive_timeout,
# so NGINX closes its idle connections itself and never sends a request on one the worker is
# closing; Uvicorn's graceful deadline still bounds the whole stop.
DRAIN_IDLE_SECONDS = NGINX_UPSTREAM_KEEPALIVE_TIMEOUT + 1.0


class DrainingHttpProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol, with a graceful stop that costs no request.

    Uvicorn closes idle keep-alive connections the moment it stops, racing a client (or
    NGINX) that has just sent its next request on one: the request meets a reset. Here a
    stopping worker answers the next request of every connection with ``Connection:
    close``, and closes a connection that stays idle only after ``DRAIN_IDLE_SECONDS``.
    A response already under way when the stop begins went out promising keep-alive, so
    its connection is treated as idle once it ends, never closed straight after it.
    Pipelined requests already received are all answered, the last with ``Connection:
    close``; the idle close waits until no request is running.
    """

    draining = False

    def shutdown(self) -> None:
        self.draining = True
        if self.pipeline:
            # Uvicorn starts the queue from its right end: the left one is answered last.
            # Earlier ones keep their keep-alive, or closing after them drops the rest.
            self.pipeline[0][0].keep_alive = False
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if not cycle.response_started:
                cycle.keep_alive = False
            return
        self._close_if_idle_for(DRAIN_IDLE_SECONDS)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.draining and self.cycle is not None and not self.cycle.response_started:
            self.cycle.keep_alive = False

    def on_response_complete(self) -> None:
        # Uvicorn has already started the next pipelined request, if any (self.cycle is
        # the last one received): the idle close waits for the connection to be idle.
        super().on_response_complete()
        if self.draining and not self.transport.is_closing() and self._idle():
            self._close_if_idle_for(DRAIN_IDLE_SECONDS)

    def _idle(self) -> bool:
        return not self.pipeline and (self.cycle is None or self.cycle.response_complete)

    def _close_if_idle_for(self, seconds: float) -> None:
        # Uvicorn's own keep-alive timer, shortened: the next bytes received cancel it.
        self._unset_keepalive_if_required()
        self.timeout_keep_alive_task = self.loop.call_later(
            seconds, self.timeout_keep_alive_handler
        )


class RecyclingServer(Server):
    """Uvicorn's server, retiring by ``policy`` when ``turns`` allows, and notifying
    Gunicorn while it stops as well as while it serves.

    The heartbeat stays on the event loop (``on_tick``): a loop blocked by a request stops
    notifying, and Gunicorn replaces the worker after ``timeout``.
    """

    def __init__(self, config: Config, policy: RecyclePolicy, turns: RecycleTurns | None) -> None:
        super().__init__(config)
        self.policy = policy
        self.turns = turns
        self.born = time.monotonic()
        self.waiting_for_turn = False

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.turns is not None:
            self.turns.serving(os.getpid())

    async def on_tick(self, counter: int) -> bool:
        if await super().on_tick(counter):
            return True
        if counter % 10:  # limits are checked once a second
            return False
        reason = self.policy.reason(
            requests=self.server_state.total_requests,
            rss_bytes=resident_bytes() if self.policy.max_rss_bytes else None,
            age_seconds=time.monotonic() - self.born,
        )
        if reason is None:
            return False
        if self.turns is not None and not self.turns.take(os.getpid()):
            if not self.waiting_for_turn:
                log.info("Due for recycling; waiting while another worker recycles")
                self.waiting_for_turn = True
            return False
        log.info("%s; recycling the worker", reason)
        return True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        heartbeat = asyncio.create_task(self._notify_while_stopping())
        try:
            await super().shutdown(sockets)
        finally:
            heartbeat.cancel()

    async def _notify_while_stopping(self) -> None:
        # A drain may outlast Gunicorn's timeout (timeout < graceful_timeout): without
        # this the master would take a stopping worker for a stuck one and kill it.
        notify = self.config.callback_notify
        while notify is not None:
            await notify()
            await asyncio.sleep(max(self.config.timeout_notify / 2, 0.5))


class TrustedProxyHeaders:
    """Apply ``X-Forwarded-For``/``-Proto`` from trusted peers, unix-socket peers included.

    A unix-socket connection has no peer address, so Uvicorn's own middleware never
    trusts it and every request behind NGINX would look anonymous. Reaching the socket
    already requires filesystem permission to its directory, which is the same trust
    Gunicorn itself gives unix-socket peers; TCP peers are still checked against
    ``forwarded_allow_ips``.
    """

    def __init__(self, app: ASGIApp, trusted_hosts: list[str] | str) -> None:
        self._tcp = ProxyHeadersMiddleware(app, trusted_hosts=trusted_hosts)  # type: ignore[arg-type]
        self._unix = ProxyHeadersMiddleware(app, trusted_hosts="*")  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        on_unix_socket = server is not None and server[1] is None
        middleware = self._unix if on_unix_socket else self._tcp
        await middleware(scope, receive, send)  # type: ignore[arg-type]


class UvicornWorker(uvicorn_worker.UvicornWorker):  # type: ignore[misc]
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        # Pinned rather than "auto": a missing uvloop or httptools fails the boot loudly
        # instead of silently halving throughput with the pure-Python fallbacks.
        "loop": "uvloop",
        "http": DrainingHttpProtocol,
        # Uvicorn's websockets implementation, on the library's sans-I/O core (the older
        # "websockets" one is deprecated). Pinned like the parser: /api/live needs it.
        "ws": "websockets-sansio",
        # Protocol pings every 20 s find dead peers within 40 s, and keep NGINX's
        # proxy_read_timeout for /api/live (60 s) from cutting a quiet connection.
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        # No permessage-deflate: a live event is encoded once for all its subscribers, and
        # deflate would compress it again per connection (CPU times subscribers) and keep
        # zlib state in every idle connection, for JSON events of a few hundred bytes.
        "ws_per_message_deflate": False,
        # "on", not "auto": an exception in the lifespan startup stops the worker from
        # booting instead of being logged and ignored.
        "lifespan": "on",
        # Applied in load_wsgi by TrustedProxyHeaders, which also covers unix sockets.
        "proxy_headers": False,
        # NGINX answers clients; naming the server behind it only helps fingerprinting.
        "server_header": False,
    }

    # Created in the master (check_config), inherited by every worker it forks.
    turns: ClassVar[RecycleTurns | None] = None

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        if cls.turns is None:
            # A retirement takes at most a drain (graceful_timeout) and a boot (timeout).
            stale_after = cfg.graceful_timeout + cfg.timeout
            cls.turns = RecycleTurns.create(stale_after, directory=cfg.worker_tmp_dir)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.timeout_graceful_shutdown = graceful_shutdown_seconds(self.cfg.graceful_timeout)
        # RecyclingServer applies the request limit along with the others.
        self.config.limit_max_requests = None
        if self.cfg.keepalive <= NGINX_UPSTREAM_KEEPALIVE_TIMEOUT:
            self.log.warning(
                "keepalive=%ss is not longer than NGINX's upstream keepalive_timeout (%ss): "
                "expect sporadic 502s; fastboard.gunicorn_conf sets a safe value",
                self.cfg.keepalive,
                NGINX_UPSTREAM_KEEPALIVE_TIMEOUT,
            )
        if self.config.timeout_graceful_shutdown <= DRAIN_IDLE_SECONDS:
            # Not clamped: a longer drain would overrun graceful_timeout, and Gunicorn
            # would kill the worker before its lifespan shutdown closes the pool.
            self.log.warning(
                "graceful_timeout=%ss leaves Uvicorn %ss to stop, not more than the %ss a "
                "stopping worker waits for NGINX to close its idle connections: they are cut "
                "while NGINX may still send on them (expect 502s on every stop); set "
                "FASTBOARD_GRACEFUL_TIMEOUT above %s",
                self.cfg.graceful_timeout,
                self.config.timeout_graceful_shutdown,
                DRAIN_IDLE_SECONDS,
                int(DRAIN_IDLE_SECONDS) + SHUTDOWN_MARGIN_SECONDS,
            )

    def run(self) -> None:
        # Uvicorn gets the listening sockets themselves, not Gunicorn's wrappers: uvloop
        # duplicates a real socket but adopts the descriptor of anything else, closes it
        # when the server stops, and Gunicorn's close then fails ("Bad file descriptor").
        listeners: list[Any] = self.sockets  # type: ignore[has-type]
        self.sockets = [getattr(sock, "sock", sock) for sock in listeners]
        super().run()

    def recycle_policy(self) -> RecyclePolicy:
        """Gunicorn's max_requests (jitter applied, sys.maxsize when off), fastboard's
        memory and age limits."""
        settings = get_settings()
        max_requests: int = self.max_requests
        return RecyclePolicy.build(
            max_requests=max_requests if max_requests < sys.maxsize else None,
            max_memory_mb=settings.max_worker_memory_mb,
            max_age_seconds=settings.max_worker_age_seconds,
        )

    async def _serve(self) -> None:
        # uvicorn_worker's own, with the recycling server.
        self.config.app = self.wsgi
        server = RecyclingServer(self.config, self.recycle_policy(), self.turns)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app: ASGIApp = self.wsgi  # type: ignore[has-type]
        self.wsgi = TrustedProxyHeaders(app, self.cfg.forwarded_allow_ips)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGQUIT, Gunicorn's quick stop, which uvicorn-worker routes here.

        The base method only clears ``alive``, which the Uvicorn server never reads: the
        worker would carry on serving until Gunicorn's graceful_timeout ran out and it was
        killed. Uvicorn's own quick stop is a second Ctrl-C, so its SIGINT handler gets
        called twice: stop accepting, drop open connections, exit. (SIGTERM, the graceful
        stop, is handled by Uvicorn directly and never comes here.)
        """
        super().handle_exit(sig, frame)
        uvicorn_handler = signal.getsignal(signal.SIGINT)
        if sig == signal.SIGQUIT and callable(uvicorn_handler):
            uvicorn_handler(signal.SIGINT, frame)
            uvicorn_handler(signal.SIGINT, frame)
