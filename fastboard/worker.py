"""The Gunicorn worker class: Uvicorn on uvloop + httptools, tuned to sit behind NGINX.

Use it as ``worker_class = "fastboard.worker.UvicornWorker"`` (``fastboard.gunicorn_conf``).
``uvicorn_worker.UvicornWorker`` already hands Gunicorn's ``keepalive``, ``timeout``,
``max_requests`` (with jitter) and ``forwarded_allow_ips`` to Uvicorn; this subclass pins
the event loop and parser, derives Uvicorn's shutdown deadline from Gunicorn's, and
trusts forwarded headers from unix-socket peers, which Uvicorn alone never does.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any, ClassVar

import uvicorn_worker
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from fastboard.nginx_conf import NGINX_UPSTREAM_KEEPALIVE_TIMEOUT

# Time left after Uvicorn's graceful shutdown for the lifespan shutdown (closing the
# database pool) before Gunicorn's graceful_timeout runs out and it sends SIGKILL.
SHUTDOWN_MARGIN_SECONDS = 5


def graceful_shutdown_seconds(gunicorn_graceful_timeout: float) -> int:
    """Uvicorn's deadline for in-flight requests, strictly inside Gunicorn's.

    Without one Uvicorn waits for slow requests forever, Gunicorn kills the worker
    mid-response at ``graceful_timeout``, and the lifespan shutdown never runs.
    """
    return max(1, int(gunicorn_graceful_timeout) - SHUTDOWN_MARGIN_SECONDS)


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
        "http": "httptools",
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.timeout_graceful_shutdown = graceful_shutdown_seconds(self.cfg.graceful_timeout)
        if self.cfg.keepalive <= NGINX_UPSTREAM_KEEPALIVE_TIMEOUT:
            self.log.warning(
                "keepalive=%ss is not longer than NGINX's upstream keepalive_timeout (%ss): "
                "expect sporadic 502s; fastboard.gunicorn_conf sets a safe value",
                self.cfg.keepalive,
                NGINX_UPSTREAM_KEEPALIVE_TIMEOUT,
            )

    def run(self) -> None:
        # Uvicorn gets the listening sockets themselves, not Gunicorn's wrappers: uvloop
        # duplicates a real socket but adopts the descriptor of anything else, closes it
        # when the server stops, and Gunicorn's close then fails ("Bad file descriptor").
        listeners: list[Any] = self.sockets  # type: ignore[has-type]
        self.sockets = [getattr(sock, "sock", sock) for sock in listeners]
        super().run()

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
