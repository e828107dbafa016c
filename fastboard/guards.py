"""ASGI middleware that turns input the database cannot store into a 422 at the edge."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

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
