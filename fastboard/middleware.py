"""The outermost ASGI middleware: request id, access log line and request metrics.

Pure ASGI rather than ``BaseHTTPMiddleware``: it wraps ``send`` and nothing else, so
streaming responses pass through untouched and a request costs a few function calls, not
an extra task and a memory stream.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import fastapi.routing
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastboard.errors import internal_error
from fastboard.logs import request_id_var
from fastboard.metrics import Metrics, metrics_for

access_log = logging.getLogger("fastboard.access")

REQUEST_ID_HEADER = b"x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

UNMATCHED = "<unmatched>"
# Set by middleware that answers a request itself, before routing (the read cache).
ROUTE_TEMPLATE = "fastboard.route_template"

# nginx's code for "the client went away before we answered".
CLIENT_CLOSED_REQUEST = 499


class _RequestIds:
    """New request ids: 32 hex digits, a random half per process and a counter.

    Unique like a uuid4 (the random half is drawn again in every forked worker) for a
    fraction of its cost: no system call per request.
    """

    def __init__(self) -> None:
        self._renew()
        os.register_at_fork(after_in_child=self._renew)

    def _renew(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count(secrets.randbits(48))

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


_new_ids = _RequestIds()


def request_id_from(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is safe to log and echo, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            candidate: str = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return _new_ids.new()


def path_for_log(scope: Scope) -> str:
    """The path as the client sent it (still percent-encoded), so control characters in
    a decoded path cannot forge log lines."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes) and raw:
        return raw.decode("ascii", "backslashreplace")
    return quote(scope.get("path", ""), safe="/:@!$&'()*+,;=-._~")


def client_of(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


class RouteTemplates:
    """Maps the route that served a request to its full template, ``/api/articles/{slug}``.

    Since FastAPI 0.137 ``scope["route"]`` for a route from an included router is the
    route as declared, without the include-time prefixes, so the full templates are read
    once from the app's route table (``fastapi.routing.iter_route_contexts``, public)
    and looked up by identity. Mounted sub-apps (static files) are recognised by their
    ASGI app in ``scope["endpoint"]``.
    """

    def __init__(self) -> None:
        self._app: Any = None
        self._templates: dict[int, str] = {}

    def resolve(self, scope: Scope) -> str:
        answered_by: str | None = scope.get(ROUTE_TEMPLATE)
        if answered_by is not None:
            return answered_by
        app = scope.get("app")
        if app is not None and app is not self._app:
            self._rebuild(app)
        route = scope.get("route")
        if route is None:
            return self._templates.get(id(scope.get("endpoint")), UNMATCHED)
        template = self._templates.get(id(route))
        if template is None:
            if app is not None:
                self._rebuild(app)  # a route added after the table was built
            template = self._templates.get(id(route)) or _declared_template(route)
            self._templates[id(route)] = template
        return template

    def _rebuild(self, app: Any) -> None:
        # Another app starts afresh; the same app keeps what was learnt about routes the
        # table does not list, so they are not looked for again on every request.
        templates = self._templates if app is self._app else {}
        self._app = app
        for template, original in route_table(app):
            templates[id(original)] = template
            mounted = getattr(original, "app", None)
            if mounted is not None and template.endswith("{path}"):
                templates[id(mounted)] = template
        self._templates = templates


def route_table(app: Any) -> Iterator[tuple[str, Any]]:
    """(full template, route as declared) for every route of ``app``, in matching order."""
    # Absent before FastAPI 0.137, whose routes already carry their full path.
    iter_contexts: Any = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_contexts is None:
        return
    for context in iter_contexts(getattr(app, "routes", ())):
        if context.path_format:
            yield context.path_format, context.original_route


def _declared_template(route: Any) -> str:
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED


class RequestContext:
    """Request id in, request id out, one access line and the request metrics.

    Added last in ``create_app()``, so it wraps every other user middleware and the
    routes, and the request id is set while they run. Starlette's
    ``ServerErrorMiddleware`` sits outside it; see ``_http`` for how a crash is handled.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
            return
        if scope["type"] == "lifespan":
            # Built at startup so a misconfigured multiprocess setup stops the worker
            # from booting instead of failing every request.
            metrics_for(scope["app"])
        await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_id_from(scope)
        token = request_id_var.set(request_id)
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        metrics = metrics_for(scope["app"])
        metrics.in_progress.inc()
        started = time.perf_counter()
        status: int | None = None
        finished: float | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    h for h in message.get("headers", ()) if h[0].lower() != REQUEST_ID_HEADER
                ]
                message = {**message, "headers": [*headers, header]}
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if status is None:
                # The 500 is otherwise rendered by ServerErrorMiddleware, outside this
                # middleware, and would go out without the request id. It still runs
                # the app's handler (which logs the traceback) and sends nothing more.
                with contextlib.suppress(Exception):
                    await internal_error()(scope, receive, send_with_id)
            raise
        except BaseException:
            status = status or CLIENT_CLOSED_REQUEST
            raise
        finally:
            metrics.in_progress.dec()
            seconds = (finished or time.perf_counter()) - started
            self._record(scope, metrics, status or 500, seconds)
        # Reset only on success: after an exception ServerErrorMiddleware logs the
        # traceback once this call has returned, and that line should carry the id.
        # Each request runs in its own task, so the value cannot leak to another.
        request_id_var.reset(token)

    def _record(self, scope: Scope, metrics: Metrics, status: int, seconds: float) -> None:
        route = self.routes.resolve(scope)
        method = scope["method"]
        metrics.observe_http(method, route, status, seconds)
        metrics.sample_pool(scope["app"])
        if not access_log.isEnabledFor(logging.INFO):
            return  # production logs at WARNING: build no line nobody writes
        duration_ms = round(seconds * 1000, 2)
        path = path_for_log(scope)
        access_log.info(
            "%s %s %s %.2fms",
            method,
            path,
            status,
            duration_ms,
            extra={
                "method": method,
                "route": route,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "client": client_of(scope),
            },
        )
