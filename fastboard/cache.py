"""Anonymous reads shared by every worker through Redis, invalidated by writes.

Anonymous readers all see the same article lists, articles and tags, and most readers of
a board are anonymous. A route says so where it is declared (``@cacheable(...)``, naming
the models its answer reads). Each such response is kept in Redis as its JSON bytes
together with the *generation* of the data it was read at. A committed write to a table
these responses read bumps the generation (INCR) before the writer's response is sent, so:

- a client never reads anything older than its own write;
- a response rendered by a reader that raced a write carries the generation read before
  its query, which the bump has made old: it is stored but never served;
- a lookup is one round trip (MGET of the generation and the entry).

Entries also expire after ``cache_ttl_seconds``, which bounds staleness should a bump be
lost (Redis unreachable at that instant) or a change bypass the API (psql, a script), and
keeps memory bounded. Redis trouble never
fails a request: the cache steps aside for a few seconds and the database answers.

The client is created on first use, in the worker's event loop (never before Gunicorn
forks), like the database engine.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastboard.db import Base, Database
from fastboard.metrics import metrics_for
from fastboard.middleware import ROUTE_TEMPLATE, route_table
from fastboard.settings import Settings

log = logging.getLogger(__name__)

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
_READS = "__fastboard_cache_reads__"

# After a Redis error, how long requests go straight to the database before trying again.
BACKOFF_SECONDS = 5.0
# Redis sits next to the app: a reply slower than this means trouble, not load.
SOCKET_TIMEOUT_SECONDS = 0.5

JSON = b"application/json"


def cacheable(*reads: type[Base]) -> Callable[[Endpoint], Endpoint]:
    """Let the read cache answer this GET route to readers without credentials.

    ``reads`` names every model the answer is read from: a committed write to any of
    their tables makes cached answers old, a write to any other table leaves them be.
    What the route answers must depend on its path and query string only, once the
    ``Authorization`` header is absent.
    """
    tables = frozenset(model.__tablename__ for model in reads)

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _READS, tables)
        return endpoint

    return mark


@dataclass(frozen=True, slots=True)
class GetRoute:
    template: str
    pattern: re.Pattern[str]
    reads: frozenset[str] | None  # None: the cache does not answer this route


def _get_routes(app: Starlette) -> list[GetRoute]:
    """Every GET route of ``app`` in the order the router tries them, so the middleware
    matches a path as the router would (/api/articles/feed is not /api/articles/{slug})."""
    return [
        GetRoute(template, compile_path(template)[0], _reads(route))
        for template, route in route_table(app)
        if "GET" in (getattr(route, "methods", None) or ())
    ]


def _reads(route: Any) -> frozenset[str] | None:
    reads: frozenset[str] | None = getattr(getattr(route, "endpoint", None), _READS, None)
    return reads


def install_read_cache(app: Starlette, settings: Settings, database: Database) -> None:
    """Serve ``app``'s cacheable routes from the cache and let committed writes to the
    tables they read invalidate it. Call it once the routes are in place, before adding
    any other middleware (the cache sits innermost)."""
    app.state.read_cache = ReadCache(settings)
    routes = _get_routes(app)
    reads = frozenset[str]().union(*(route.reads for route in routes if route.reads))

    async def invalidate(written: frozenset[str]) -> None:
        if not written.isdisjoint(reads):
            cache: ReadCache = app.state.read_cache
            await cache.invalidate()

    database.after_commit(invalidate)
    app.add_middleware(ReadCacheMiddleware, routes=routes)


class ReadCache:
    """One process's view of the shared cache; inert when no Redis URL is configured."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = bool(settings.redis_url) and settings.cache_ttl_seconds > 0
        self._url = settings.redis_url
        self._ttl = settings.cache_ttl_seconds
        self._prefix = f"{settings.redis_prefix}:read:"
        self._generation_key = f"{settings.redis_prefix}:read-generation"
        self._client: Redis | None = None
        self._down_until = 0.0

    @property
    def client(self) -> Redis:
        if self._client is None:
            assert self._url is not None
            self._client = Redis.from_url(
                self._url,
                socket_timeout=SOCKET_TIMEOUT_SECONDS,
                socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            )
        return self._client

    def _available(self) -> bool:
        return self.enabled and time.monotonic() >= self._down_until

    def _failed(self, action: str, error: Exception) -> None:
        self._down_until = time.monotonic() + BACKOFF_SECONDS
        log.warning(
            "read cache %s failed, bypassing it for %.0fs: %r", action, BACKOFF_SECONDS, error
        )

    async def lookup(self, key: str) -> tuple[bytes | None, int | None]:
        """The body stored under ``key`` if it is current, and the current generation
        (None when the cache is unavailable: then nothing may be stored either)."""
        if not self._available():
            return None, None
        try:
            generation, entry = await self.client.mget(self._generation_key, self._prefix + key)
        except (RedisError, OSError) as error:
            self._failed("lookup", error)
            return None, None
        if generation is None:
            return None, await self._start_generation()
        try:
            current = int(generation)
        except ValueError:  # not ours (a shared Redis?): serve and store nothing
            return None, None
        if isinstance(entry, bytes):
            stored, _, body = entry.partition(b":")
            # Compared as bytes: an entry written by anything else is a miss, not an error.
            if stored == b"%d" % current:
                return body, current
        return None, current

    async def _start_generation(self) -> int | None:
        """First use, or Redis lost the key (restart, eviction): start from a random
        number, so entries left from before can never look current. None when another
        worker got there first (its number is unknown here)."""
        generation = secrets.randbits(62)
        try:
            started = await self.client.set(self._generation_key, generation, nx=True)
        except (RedisError, OSError) as error:
            self._failed("lookup", error)
            return None
        return generation if started else None

    async def store(self, key: str, generation: int, body: bytes) -> None:
        if not self._available():
            return
        try:
            await self.client.set(self._prefix + key, b"%d:%b" % (generation, body), ex=self._ttl)
        except (RedisError, OSError) as error:
            self._failed("store", error)

    async def invalidate(self) -> None:
        """Make every stored answer old: the data they were read from has changed."""
        if not self.enabled:
            return
        try:
            # Even in backoff: a lost bump leaves stale pages until they expire.
            if await self.client.incr(self._generation_key) == 1:
                # The key was gone (restart, eviction) and INCR restarted the count at
                # 1, a number an earlier count may have used: start afresh at random.
                await self.client.set(self._generation_key, secrets.randbits(62))
        except (RedisError, OSError) as error:
            self._failed("invalidation", error)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class ReadCacheMiddleware:
    """Answers GETs without credentials for the cacheable routes from the read cache, and
    keeps the 200 JSON answers it had to ask the app for.

    It sits innermost among the middleware, so request ids, logs, metrics and CORS
    apply to cached answers as to any other; a hit costs no routing, no dependency
    solving and no database session. What a route answers must depend on its path,
    its query string and the viewer only: requests carrying an Authorization header
    always go to the app, since ``favorited`` and ``following`` are the viewer's own.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[GetRoute]) -> None:
        """``routes``: as ``_get_routes`` lists them."""
        self.app = app
        self.routes = [(route.pattern, route.template, route.reads is not None) for route in routes]

    def _route(self, scope: Scope) -> str | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        if any(name == b"authorization" for name, _ in scope["headers"]):
            return None
        path = scope["path"]
        for pattern, template, cached in self.routes:
            if pattern.match(path):
                return template if cached else None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route(scope)
        cache: ReadCache = scope["app"].state.read_cache
        if route is None or not cache.enabled:
            await self.app(scope, receive, send)
            return
        # The raw query string, not a normalised one: with a repeated parameter the
        # order decides which value counts.
        # The raw path: decoded, /a%3Fb?c and /a?b?c would be one key.
        raw_path = scope.get("raw_path") or scope["path"].encode()
        key = f"{raw_path.decode('latin-1')}?{scope['query_string'].decode('latin-1')}"
        body, generation = await cache.lookup(key)
        outcome = "hit" if body is not None else "miss" if generation is not None else "unavailable"
        metrics_for(scope["app"]).read_cache.labels(outcome).inc()
        if body is not None:
            scope[ROUTE_TEMPLATE] = route
            await _send_json(send, body)
            return
        if generation is None:
            await self.app(scope, receive, send)
            return
        answer = _Capture(send)
        await self.app(scope, receive, answer.send)
        if answer.cacheable:
            await cache.store(key, generation, b"".join(answer.chunks))


class _Capture:
    """Passes a response through and keeps a copy when it is a 200 JSON answer."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.cacheable = False
        self.chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = dict(message.get("headers", ()))
            self.cacheable = message["status"] == 200 and headers.get(b"content-type") == JSON
        elif message["type"] == "http.response.body" and self.cacheable:
            self.chunks.append(message.get("body", b""))
        await self._send(message)


async def _send_json(send: Send, body: bytes) -> None:
    headers = [(b"content-type", JSON), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
