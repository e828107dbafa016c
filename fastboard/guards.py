"""ASGI middleware at the edge: input the database cannot store (422), and input beyond
the app's limits (413, 414, 422, 431), refused before any route runs."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastboard.errors import error_response


class RejectNulBytes:
    """Reject NUL in the path or query string (PostgreSQL text cannot hold it).

    Bodies are checked field by field by the schemas; this covers path and query
    parameters, which every endpoint would otherwise have to validate itself.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")
        ):
            response = error_response(422, {"body": ["must not contain NUL characters"]})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


# JSON nested deeper than this is refused before it is parsed: no schema here nests past
# a handful of levels, and the parser would recurse once per level.
MAX_JSON_DEPTH = 64
# Query strings and headers are bounded by the server too (Uvicorn's h11 parser refuses
# a request head over 16 KiB with a bare 400; httptools has no limit of its own): these
# answer in the envelope, whatever server runs the app.
MAX_QUERY_BYTES = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_INNERMOST = re.compile(rb"\[\]|\{\}")


class _BodyTooLarge(Exception):
    pass


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` nests arrays and objects more than ``limit`` deep.

    Without recursion, in a bounded number of passes over the bytes: strings are blanked
    out, then each pass removes the innermost empty pairs. Unbalanced input is left for
    the JSON parser to refuse.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the usual body: cannot be that deep, and nothing else to do
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", body))
    for _ in range(limit):
        if not brackets:
            return False
        shorter = _INNERMOST.sub(b"", brackets)
        if len(shorter) == len(brackets):
            return False  # not balanced: not JSON, the parser says so
        brackets = shorter
    return bool(brackets) and _INNERMOST.search(brackets) is not None


class InputLimits:
    """Request bodies, JSON nesting, query strings and headers within bounds, in the app.

    NGINX enforces a body size of its own; a direct Gunicorn deployment has only this.
    A body is read whole here (the routes read it whole anyway) and handed on as one
    message; too large answers 413 as soon as the declared or received length passes
    the limit, without reading the rest.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self._head_problem(scope)
        if problem is not None:
            status, errors = problem
            # The body is not read: the connection cannot carry another request after it.
            headers = {"Connection": "close"} if status == 413 else None
            await error_response(status, errors, headers)(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(receive)
        except _BodyTooLarge:
            limit = f"request body is too large (limit: {self.max_body_bytes} bytes)"
            await error_response(413, {"body": [limit]}, {"Connection": "close"})(
                scope, receive, send
            )
            return
        if body is None:
            return  # the client went away
        if _is_json(scope) and json_depth_exceeds(body):
            nested = f"is nested too deeply (limit: {MAX_JSON_DEPTH} levels)"
            await error_response(422, {"body": [nested]})(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _head_problem(self, scope: Scope) -> tuple[int, dict[str, list[str]]] | None:
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            return 414, {"query": [f"is too long (limit: {MAX_QUERY_BYTES} bytes)"]}
        size = 0
        declared: int | None = None
        for name, value in scope.get("headers", ()):
            size += len(name) + len(value) + 4
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
        if size > MAX_HEADER_BYTES:
            return 431, {"headers": [f"are too large (limit: {MAX_HEADER_BYTES} bytes)"]}
        if declared is not None and declared > self.max_body_bytes:
            limit = f"request body is too large (limit: {self.max_body_bytes} bytes)"
            return 413, {"body": [limit]}
        return None

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return b"json" in value.lower()
    return False


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the disconnect, when it comes

    return replay
