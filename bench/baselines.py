"""The two floors fastboard is measured against, serving answers captured from fastboard itself.

(1) ``bare_app``: a raw ASGI callable, no framework: the server's own floor.
(2) ``fastapi_app``: FastAPI routes that return the same bytes: the framework's floor, that
is routing, dependency resolution and the response class, with no database and no models.

Both read the captured answers from the JSON file named by ``BENCH_BODIES`` (request kind
to ``{"status": …, "body": …}``), written by ``bench.run`` after seeding. Each route
answers with the status and bytes fastboard answered for its kind (``bench.scenarios``),
writes included, so every target sends the same bytes over the wire. The list is the one
path whose answer depends on a header: with ``Authorization`` it is the signed-in list.
Factories, so nothing happens at import: ``gunicorn 'bench.baselines:bare_app()'``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request, Response
from starlette.types import Receive, Scope, Send

BODIES_ENV = "BENCH_BODIES"
JSON_HEADERS = [(b"content-type", b"application/json")]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


def load_answers(path: Path | None = None) -> dict[str, Answer]:
    source = path or Path(os.environ[BODIES_ENV])
    captured: dict[str, dict[str, object]] = json.loads(source.read_text())
    return {
        kind: Answer(int(str(answer["status"])), str(answer["body"]).encode())
        for kind, answer in captured.items()
    }


def kind_for(method: str, path: str, signed_in: bool) -> str | None:
    """Which captured answer the bare floor sends (the query string plays no part)."""
    parts = path.split("/")  # "", "api", "articles", slug, ...
    article = len(parts) >= 4 and parts[:3] == ["", "api", "articles"] and parts[3] != "feed"
    last = parts[4] if article and len(parts) == 5 else None
    if method == "GET":
        if path == "/api/articles":
            return "articles_signed_in" if signed_in else "articles"
        fixed = {
            "/health": "health",
            "/api/tags": "tags",
            "/api/articles/feed": "feed",
            "/api/search": "search",
        }
        if path in fixed:
            return fixed[path]
        if article and len(parts) == 4:
            return "article"
        return "comments" if last == "comments" else None
    if method == "POST":
        if path == "/api/users/login":
            return "login"
        return {"favorite": "favorite", "comments": "comment_create"}.get(last or "")
    if method == "DELETE" and last == "favorite":
        return "unfavorite"
    return None


class BareApp:
    """An ASGI application in a few lines: look the answer up, send it."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.responses = {
            kind: (
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": [
                        *JSON_HEADERS,
                        (b"content-length", str(len(answer.body)).encode()),
                    ],
                },
                {"type": "http.response.body", "body": answer.body},
            )
            for kind, answer in answers.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        signed_in = any(name == b"authorization" for name, _ in scope["headers"])
        kind = kind_for(scope["method"], scope["path"], signed_in)
        if kind is None or kind not in self.responses:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        start, body = self.responses[kind]
        await send(start)
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
    return BareApp(load_answers())


# (method, path, kind) of every route the floor serves, in the order fastboard's router
# tries them (/api/articles/feed before /api/articles/{slug}).
ROUTES = (
    ("GET", "/health", "health"),
    ("GET", "/api/tags", "tags"),
    ("GET", "/api/search", "search"),
    ("GET", "/api/articles/feed", "feed"),
    ("GET", "/api/articles/{slug}", "article"),
    ("GET", "/api/articles/{slug}/comments", "comments"),
    ("POST", "/api/articles/{slug}/comments", "comment_create"),
    ("POST", "/api/articles/{slug}/favorite", "favorite"),
    ("DELETE", "/api/articles/{slug}/favorite", "unfavorite"),
    ("POST", "/api/users/login", "login"),
)


def _replying(answer: Answer, slug: bool) -> Callable[..., Awaitable[Response]]:
    """A route handler that sends ``answer``; ``slug``: it takes the path's slug, as
    fastboard's handlers do (FastAPI then extracts and validates it)."""

    def respond() -> Response:
        return Response(answer.body, status_code=answer.status, media_type="application/json")

    async def with_slug(slug: str) -> Response:
        return respond()

    async def without() -> Response:
        return respond()

    return with_slug if slug else without


def fastapi_app() -> FastAPI:
    """The routes of fastboard the scenarios use, each returning its pre-rendered bytes."""
    answers = load_answers()
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/api/articles")
    async def articles(request: Request) -> Response:
        answer = answers["articles_signed_in" if "authorization" in request.headers else "articles"]
        return Response(answer.body, status_code=answer.status, media_type="application/json")

    for method, path, kind in ROUTES:
        app.add_api_route(path, _replying(answers[kind], "{slug}" in path), methods=[method])
    return app
