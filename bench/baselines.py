"""The two floors fastboard is measured against, serving bytes captured from fastboard itself.

(1) ``bare_app``: a raw ASGI callable, no framework: the server's own floor.
(2) ``fastapi_app``: FastAPI routes that return the same bytes: the framework's floor, that
is routing, dependency resolution and the response class, with no database and no models.

Both read the captured bodies from the JSON file named by ``BENCH_BODIES`` (scenario name to
body text), written by ``bench.run`` after seeding. Each path gets the body that fastboard
answered for it, so every target sends the same bytes over the wire. Factories, so nothing
happens at import: ``gunicorn 'bench.baselines:bare_app()'`` or ``uvicorn --factory``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi import FastAPI, Response
from starlette.types import Receive, Scope, Send

BODIES_ENV = "BENCH_BODIES"
JSON_HEADERS = [(b"content-type", b"application/json")]


def load_bodies(path: Path | None = None) -> dict[str, bytes]:
    source = path or Path(os.environ[BODIES_ENV])
    texts: dict[str, str] = json.loads(source.read_text())
    return {name: text.encode() for name, text in texts.items()}


def scenario_for(path: str) -> str | None:
    """Which captured body answers ``path`` (the query string plays no part)."""
    if path == "/health":
        return "health"
    if path == "/api/articles":
        return "articles"
    if path == "/api/articles/feed":
        return "feed"
    if path.startswith("/api/articles/") and path.count("/") == 3:
        return "article"
    return None


class BareApp:
    """An ASGI application in a dozen lines: look the body up, send it."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.responses = {
            name: (
                [*JSON_HEADERS, (b"content-length", str(len(body)).encode())],
                {"type": "http.response.body", "body": body},
            )
            for name, body in bodies.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        name = scenario_for(scope["path"])
        if name is None or name not in self.responses:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        headers, body = self.responses[name]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(body)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def bare_app() -> BareApp:
    return BareApp(load_bodies())


def fastapi_app() -> FastAPI:
    """The same four routes fastboard serves, each returning its pre-rendered bytes."""
    bodies = load_bodies()
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/health")
    async def health() -> Response:
        return Response(bodies["health"], media_type="application/json")

    @app.get("/api/articles")
    async def articles() -> Response:
        return Response(bodies["articles"], media_type="application/json")

    @app.get("/api/articles/feed")
    async def feed() -> Response:
        return Response(bodies["feed"], media_type="application/json")

    @app.get("/api/articles/{slug}")
    async def article(slug: str) -> Response:
        return Response(bodies["article"], media_type="application/json")

    return app
