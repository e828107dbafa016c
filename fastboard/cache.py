"""Anonymous reads shared by every worker through Redis, invalidated by writes.

Anonymous readers all see the same article lists, articles and tags, and most readers of
a board are anonymous. Each such response is kept in Redis as its JSON bytes together
with the *generation* of the data it was read at. A committed write to a table these
responses read bumps the generation (INCR) before the writer's response is sent, so:

- a client never reads anything older than its own write;
- a response rendered by a reader that raced a write carries the generation read before
  its query, which the bump has made old: it is stored but never served;
- a lookup is one round trip (MGET of the generation and the entry).

Entries also expire after ``cache_ttl_seconds``, which bounds staleness should a bump be
lost (Redis unreachable at that instant) and keeps memory bounded. Redis trouble never
fails a request: the cache steps aside for a few seconds and the database answers.

The client is created on first use, in the worker's event loop (never before Gunicorn
forks), like the database engine.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Request, Response
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from fastboard.auth import OptionalUser
from fastboard.settings import Settings

log = logging.getLogger(__name__)

# What the cached responses are read from; a write to any other table leaves them valid.
READ_TABLES = frozenset({"articles", "article_tags", "tags", "favorites", "users"})

# After a Redis error, how long requests go straight to the database before trying again.
BACKOFF_SECONDS = 5.0
# Redis sits next to the app: a reply slower than this means trouble, not load.
SOCKET_TIMEOUT_SECONDS = 0.5

Page = TypeVar("Page", bound=BaseModel)


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
        current = int(generation)
        if isinstance(entry, bytes):
            stored, _, body = entry.partition(b":")
            if int(stored) == current:
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

    async def invalidate(self, written: set[str]) -> None:
        """Called after a commit with the tables it wrote."""
        if not self.enabled or written.isdisjoint(READ_TABLES):
            return
        try:
            # Even in backoff: a lost bump leaves stale pages until they expire.
            await self.client.incr(self._generation_key)
        except (RedisError, OSError) as error:
            self._failed("invalidation", error)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _key(request: Request) -> str:
    # Sorted: ?limit=20&offset=0 and ?offset=0&limit=20 are one page.
    query = urlencode(sorted(request.query_params.multi_items()))
    return f"{request.url.path}?{query}"


@dataclass(slots=True)
class CachedRead:
    """The cached response for this request, if any, and a way to keep a fresh one."""

    cache: ReadCache | None
    key: str = ""
    body: bytes | None = None
    generation: int | None = None

    @property
    def response(self) -> Response | None:
        return None if self.body is None else _json(self.body)

    async def keep(self, page: Page) -> Page | Response:
        """Store ``page`` and answer with it."""
        if self.cache is None or self.generation is None:
            return page
        body = page.model_dump_json().encode()
        await self.cache.store(self.key, self.generation, body)
        return _json(body)


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


async def _shared_read(request: Request) -> CachedRead:
    cache: ReadCache = request.app.state.read_cache
    if not cache.enabled:
        return CachedRead(None)
    key = _key(request)
    body, generation = await cache.lookup(key)
    return CachedRead(cache, key, body, generation)


async def _anonymous_read(request: Request, viewer: OptionalUser) -> CachedRead:
    if viewer is not None:
        return CachedRead(None)
    return await _shared_read(request)


# For responses that are the same for everyone.
SharedRead = Annotated[CachedRead, Depends(_shared_read)]
# For responses that depend on the viewer: cached for anonymous requests only.
AnonymousRead = Annotated[CachedRead, Depends(_anonymous_read)]
