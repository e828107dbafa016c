"""Anonymous reads shared by every worker through Redis; a write evicts what it changed.

Most readers of a board are anonymous and see the same lists, articles and tags. A route
says its answers may be cached where it is declared (``@cacheable(...)``, naming the
models it reads); such an answer is kept in Redis with the *keys* it depends on, each at
its version. A committed write bumps the version of the keys it changed, after the commit
and before its own response goes out, and a cached answer is served only while every key
it depends on still has the version it was stored with. The API, for domains:

- reading: ``depends_on("article:12", "user:3")`` while building a cacheable answer names
  what it shows. ``@cacheable(Article, User)`` adds the safe default, ``table:<name>`` of
  each model's table; ``attach(data)`` keeps a few bytes with the answer for code that
  builds on it (``CachedAnswer``: a signed-in list is the cached page plus the
  viewer's own flags);
- writing: ``fastboard.db.changed(session, Article, keys=["article:12"])`` names what the
  transaction's writes to those tables changed. A table written without it bumps
  ``table:<name>``, which every answer read from that table depends on;
- each domain names its keys in ``fastboard/<domain>/cache_keys.py``, for readers and
  writers of any domain to agree on.

Races: versions are values of one counter (the clock) that every bump increments. A
reader notes the clock when it looks up, and stores its answer only if none of its keys
was bumped since; a bump after the store changes a version the entry holds. So an answer
read before a write is never served after it. A lookup, a store and a bump are each one
Lua script, one round trip, atomic. A lost key (restart, eviction) is a miss, never a
revived entry. Entries expire after ``cache_ttl_seconds`` (staleness should a change
bypass the API).

Redis trouble never fails a request: the cache steps aside and the database answers. A
bump that fails is not lost either: every entry also depends on one *generation* key
(kept without TTL), which a worker *advances* (bumps) whenever an invalidation may have
been lost: its own bump failed, or it found Redis restarted (a new ``run_id`` on any
connection it opens: data lost, or restored from a snapshot older than the last bumps). Until the
advance lands, in the background as soon as Redis answers it, that worker serves nothing
from the cache; on shutdown it makes one last bounded attempt (``CLOSE_ADVANCE_SECONDS``).

A failed lookup or store loses nothing: that worker alone steps aside, and serves from the
cache again once Redis has answered it for ``GRACE_SECONDS`` (no generation advance, no
other worker affected). A connection error is retried once at once on a fresh connection,
so a connection Redis closed while idle (its ``timeout``, a NAT, a managed Redis) costs
one round trip, not a bypass. The guarantee, for a write whose bump was lost:

- the writer serves nothing from the cache until its advance lands, which is within
  ``RESYNC_SECONDS`` + ``SOCKET_TIMEOUT_SECONDS`` (+ one round trip) of Redis answering it;
- a worker that saw errors meanwhile (a full outage: every busy worker did) serves again
  only ``GRACE_SECONDS`` after Redis answers it, longer than that bound: when Redis comes
  back for every worker at once, the writers' advances land first, and no answer stored
  before the lost bump is served after Redis returns (unless the writer's event loop is
  stalled longer than the grace);
- a worker that saw no error (Redis was lost for the writer only, or this worker sent
  nothing during the outage and finds its connection merely closed, or it first connected
  after Redis restarted from a snapshot) cannot tell, and may
  serve such an answer until the writer's advance: at most the writer's outage plus the
  bound above;
- a writer killed outright (SIGKILL, OOM) before its advance leaves such answers until
  they expire (``cache_ttl_seconds``).

One Redis server, not a Cluster (the scripts read keys named inside entries). The clients
are created on first use, in the worker's event loop (never before Gunicorn forks), like
the database engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextvars import Context, ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Request
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from starlette.applications import Starlette
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastboard.db import Base, Database, Written
from fastboard.metrics import metrics_for
from fastboard.middleware import ROUTE_TEMPLATE, route_table
from fastboard.responses import json_bytes
from fastboard.settings import Settings

log = logging.getLogger(__name__)

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
_READS = "__fastboard_cache_reads__"

# After Redis trouble, how often the cache tries Redis again (to advance the generation or
# to see it answer), all the while requests go straight to the database.
RESYNC_SECONDS = 0.5
# Redis sits next to the app: a reply slower than this means trouble, not load.
SOCKET_TIMEOUT_SECONDS = 0.5
# After a failed lookup or store, how long Redis must have answered before this worker
# serves from the cache again: longer than a writer that lost a bump takes to advance the
# generation once Redis answers it (a pause, plus an attempt under way timing out).
GRACE_SECONDS = 2 * RESYNC_SECONDS + SOCKET_TIMEOUT_SECONDS
# On shutdown, how long a worker that owes an advance tries to make it.
CLOSE_ADVANCE_SECONDS = 1.0
# A key's version outlives every entry stored with it; once gone, such entries are misses.
MIN_KEY_TTL_SECONDS = 86_400

JSON = b"application/json"


def table_key(table: str) -> str:
    """The key every answer read from ``table`` depends on, and that a write to it bumps
    unless the writer names finer keys."""
    return f"table:{table}"


def cacheable(*reads: type[Base], anonymous: bool = True) -> Callable[[Endpoint], Endpoint]:
    """Let the read cache answer this GET route to readers without credentials.

    ``reads`` names every model the answer is read from: a committed write to their
    tables that names no finer keys makes cached answers old. What the route answers must
    depend on its path and query string only, once the ``Authorization`` header is absent.
    ``anonymous=False``: no answer without credentials; the route keeps answers of its
    own through ``CachedAnswerDep`` (a reader's feed).
    """
    tables = frozenset(model.__tablename__ for model in reads)

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _READS, (tables, anonymous))
        return endpoint

    return mark


@dataclass(slots=True)
class _Reading:
    """What the answer being built depends on, and the bytes attached to it."""

    keys: set[str]
    extra: bytes = b""


_reading: ContextVar[_Reading | None] = ContextVar("fastboard_cache_reading", default=None)


def depends_on(*keys: str) -> None:
    """The cacheable answer being built shows what ``keys`` name: a write that bumps one
    of them evicts it. A no-op when no answer is being cached."""
    reading = _reading.get()
    if reading is not None:
        reading.keys.update(keys)


def attach(extra: bytes) -> None:
    """Keep ``extra`` (no newline) with the cacheable answer being built, for code that
    builds on the cached answer (``CachedAnswer``). A no-op when nothing is cached."""
    reading = _reading.get()
    if reading is not None:
        reading.extra = extra


@contextlib.contextmanager
def _recording(reading: _Reading) -> Iterator[_Reading]:
    token = _reading.set(reading)
    try:
        yield reading
    finally:
        _reading.reset(token)


@dataclass(frozen=True, slots=True)
class GetRoute:
    template: str
    pattern: re.Pattern[str]
    keys: frozenset[str] | None  # None: not cacheable
    anonymous: bool  # whether the middleware answers readers without credentials


def _route_keys(route: Any) -> tuple[frozenset[str] | None, bool]:
    """The table keys of a cacheable route's answers, and whether anonymous readers get
    them from the middleware."""
    marked: Any = getattr(getattr(route, "endpoint", None), _READS, None)
    if marked is None:
        return None, False
    tables, anonymous = marked
    return frozenset(map(table_key, tables)), anonymous


def _get_routes(app: Starlette) -> list[GetRoute]:
    """Every GET route of ``app`` in the order the router tries them, so the middleware
    matches a path as the router would (/api/articles/feed is not /api/articles/{slug})."""
    return [
        GetRoute(template, compile_path(template)[0], *_route_keys(route))
        for template, route in route_table(app)
        if "GET" in (getattr(route, "methods", None) or ())
    ]


def entry_key(scope: Scope) -> str:
    """The raw path and query string: decoded, /a%3Fb?c and /a?b?c would be one key, and
    with a repeated parameter the order decides which value counts."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    return f"{raw_path.decode('latin-1')}?{scope['query_string'].decode('latin-1')}"


def install_read_cache(app: Starlette, settings: Settings, database: Database) -> None:
    """Serve ``app``'s cacheable routes from the cache and let committed writes evict
    what they changed. Call it once the routes are in place, before adding any other
    middleware (the cache sits innermost)."""
    app.state.read_cache = ReadCache(settings)
    routes = _get_routes(app)
    read = frozenset[str]().union(*(route.keys for route in routes if route.keys))

    async def invalidate(written: Written) -> None:
        # Tables no cached answer reads need no bump.
        defaults = {table_key(table) for table in written.undescribed} & read
        if written.keys or defaults:
            cache: ReadCache = app.state.read_cache
            await cache.invalidate(written.keys | defaults)

    database.after_commit(invalidate)
    app.add_middleware(ReadCacheMiddleware, routes=routes)


# Every script first reads the clock. A missing clock (Redis restarted or evicted it) or
# one not written by us starts again at the time in microseconds: above every value the
# old clock reached (it started the same way and never gained a million a second).
_CLOCK = """
local function clock(key)
  local now = redis.call('GET', key)
  if now and string.match(now, '^%d+$') and #now < 18 then return now end
  local time = redis.call('TIME')
  now = time[1] .. string.format('%06d', tonumber(time[2]))
  redis.call('SET', key, now)
  return now
end
"""

# KEYS: entry, clock. An entry is "<version key> <version> …\\n<extra>\\n<body>".
# Returns {1, "<extra>\\n<body>"} while every version is still the stored one, else
# {0, clock}: the clock to note before reading the database.
_LOOKUP = (
    _CLOCK
    + """
local entry = redis.call('GET', KEYS[1])
if entry then
  local cut = string.find(entry, '\\n', 1, true)
  if cut then
    local keys, versions = {}, {}
    for key, version in string.gmatch(string.sub(entry, 1, cut - 1), '(%S+) (%S+)') do
      keys[#keys + 1] = key
      versions[#versions + 1] = version
    end
    if #keys > 0 then
      local current = redis.call('MGET', unpack(keys))
      local valid = true
      for i = 1, #keys do
        if current[i] ~= versions[i] then
          valid = false
          break
        end
      end
      if valid then return {1, string.sub(entry, cut + 1)} end
    end
  end
end
return {0, clock(KEYS[2])}
"""
)

# KEYS: entry, clock, generation. ARGV: the clock noted at lookup, entry TTL, version TTL,
# "<extra>\\n<body>", then the version keys. Stores nothing (returns 0) when a key was
# bumped since the clock was noted: the answer may predate that write. A key without a
# version gets the clock's value, which no version it had before a bump can equal. The
# generation is one key for all entries, kept without TTL (a version that expired would
# make every entry a miss at once); lost all the same (eviction), it comes back the same way.
_STORE = (
    _CLOCK
    + """
local noted = tonumber(ARGV[1])
local deps = {}
local function current(key, ttl)
  local version = redis.call('GET', key)
  if not version then
    version = clock(KEYS[2])
    if ttl then
      redis.call('SET', key, version, 'EX', ttl)
    else
      redis.call('SET', key, version)
    end
  end
  local number = tonumber(version)
  if not number or number > noted then return nil end
  deps[#deps + 1] = key .. ' ' .. version
  return version
end
for i = 5, #ARGV do
  if not current(ARGV[i], ARGV[3]) then return 0 end
end
if not current(KEYS[3], nil) then return 0 end
redis.call('SET', KEYS[1], table.concat(deps, ' ') .. '\\n' .. ARGV[4], 'EX', ARGV[2])
return 1
"""
)

# KEYS: clock, generation. ARGV: version TTL, "1" to advance the generation too, then the
# version keys to bump. Returns the new clock.
_BUMP = (
    _CLOCK
    + """
clock(KEYS[1])
local now = string.format('%d', redis.call('INCR', KEYS[1]))
for i = 3, #ARGV do
  redis.call('SET', ARGV[i], now, 'EX', ARGV[1])
end
if ARGV[2] == '1' then redis.call('SET', KEYS[2], now) end
return now
"""
)


@dataclass(frozen=True, slots=True)
class Found:
    """A cached answer: its body and the bytes attached to it."""

    body: bytes
    extra: bytes


@dataclass(frozen=True, slots=True)
class Lookup:
    found: Found | None
    # The clock before the database is read, to store the answer with; None when the
    # cache is unavailable (then nothing may be stored either).
    noted: bytes | None

    @property
    def outcome(self) -> str:
        return "hit" if self.found else "miss" if self.noted is not None else "unavailable"


_UNAVAILABLE = Lookup(None, None)


class _WatchedPool(ConnectionPool):
    """A connection pool that tells ``on_connect`` of every connection it opens or reopens,
    before the connection carries a command."""

    on_connect: Callable[[AbstractConnection], Awaitable[None]] | None = None

    def make_connection(self) -> AbstractConnection:
        connection: AbstractConnection = super().make_connection()  # type: ignore[no-untyped-call]
        connection.register_connect_callback(self._connected)  # type: ignore[no-untyped-call]
        return connection

    async def _connected(self, connection: AbstractConnection) -> None:
        if self.on_connect is not None:
            await self.on_connect(connection)


def _run_id(info: bytes) -> bytes:
    """The server's ``run_id`` (new at every start) from an ``INFO server`` reply."""
    for line in info.splitlines():
        if line.startswith(b"run_id:"):
            return line.removeprefix(b"run_id:").strip()
    return b""


class ReadCache:
    """One process's view of the shared cache; inert when no Redis URL is configured.

    Owing an advance: a bump of this worker failed, or Redis was found restarted, so an
    invalidation may be lost. It then serves and stores nothing, and a background task
    advances the generation, on which every entry depends, as soon as Redis answers: no
    answer stored before is served again, by any worker. Unsure: a lookup or store failed;
    it serves nothing until Redis has answered for ``GRACE_SECONDS``, evicting nothing.
    """

    def __init__(self, settings: Settings) -> None:
        self.enabled = bool(settings.redis_url) and settings.cache_ttl_seconds > 0
        self._url = settings.redis_url
        self._ttl = settings.cache_ttl_seconds
        self._key_ttl = max(MIN_KEY_TTL_SECONDS, 2 * settings.cache_ttl_seconds)
        self._prefix = f"{settings.redis_prefix}:read:"
        self._version_prefix = f"{settings.redis_prefix}:read-key:"
        self._clock = f"{settings.redis_prefix}:read-clock"
        # Outside the version keys' names (those are quoted): no domain key can be it.
        self._generation = f"{settings.redis_prefix}:read-generation"
        self._client: Redis | None = None
        self._separate: Redis | None = None
        self._scripts: tuple[AsyncScript, AsyncScript, AsyncScript] | None = None
        # Owing an advance while more invalidations may be lost than the last one covers.
        self._lost = 0
        self._covered = 0
        # Unsure while more lookups or stores failed than Redis answering since settled.
        self._failed = 0
        self._settled = 0
        self._run_id: bytes | None = None
        self._resync: asyncio.Task[None] | None = None

    @property
    def client(self) -> Redis:
        if self._client is None:
            assert self._url is not None
            pool = _WatchedPool.from_url(
                self._url,
                socket_timeout=SOCKET_TIMEOUT_SECONDS,
                socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
                # Retried by ``_call`` only: once, on a connection error, never after a
                # timeout (a stall is not to be waited out twice in a request).
                retry=Retry(NoBackoff(), 0),
            )
            pool.on_connect = self._on_connect
            self._client = Redis(connection_pool=pool)
        return self._client

    @property
    def separate_client(self) -> Redis:
        """A Redis client apart from the cache's, for the worker's other short commands
        (the throttle): their failures say nothing of the cache, and the cache's retries
        leave its pool alone. Made on first use, in the worker; closed with the cache."""
        if self._separate is None:
            assert self._url is not None
            self._separate = Redis.from_url(
                self._url,
                socket_timeout=SOCKET_TIMEOUT_SECONDS,
                socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), 0),
            )
        return self._separate

    @property
    def scripts(self) -> tuple[AsyncScript, AsyncScript, AsyncScript]:
        """lookup, store, bump: sent by hash (EVALSHA), by source once Redis lacks them."""
        if self._scripts is None:
            client = self.client
            self._scripts = (
                client.register_script(_LOOKUP),
                client.register_script(_STORE),
                client.register_script(_BUMP),
            )
        return self._scripts

    def version_key(self, key: str) -> str:
        # Quoted: an entry lists its keys separated by spaces.
        return self._version_prefix + quote(key, safe=":/-_.~")

    @property
    def owes_advance(self) -> bool:
        """Whether an invalidation of this worker may be lost and no advance covers it."""
        return self._lost != self._covered

    @property
    def in_sync(self) -> bool:
        """Whether this worker trusts the cache: nothing owed, no failure unsettled."""
        return not self.owes_advance and self._failed == self._settled

    def _available(self) -> bool:
        return self.enabled and self.in_sync

    async def _on_connect(self, connection: AbstractConnection) -> None:
        # Every connection, new or reopened (Redis closes idle ones: no trouble in itself).
        await connection.send_command("INFO", "server")
        try:
            run_id = _run_id(await connection.read_response())
        except ResponseError:  # INFO not allowed to this user: restarts go unseen
            return
        if self._run_id is not None and run_id != self._run_id:
            # Restarted: its data is lost, or restored from a snapshot older than the
            # last bumps.
            self._lost += 1
            self._trouble("Redis restarted")
        self._run_id = run_id

    def _trouble(self, reason: str) -> None:
        if self._resync is None or self._resync.done():
            log.warning("read cache bypassed until Redis answers: %s", reason)
            # A context of its own: not the request's that noticed (its request id).
            self._resync = asyncio.get_running_loop().create_task(
                self._resynchronise(), context=Context()
            )

    async def _resynchronise(self) -> None:
        """Until the cache is trusted again: advance the generation when owed, else wait
        for Redis to have answered ``GRACE_SECONDS``."""
        loop = asyncio.get_running_loop()
        answered_since: float | None = None
        failed = self._failed
        while not self.in_sync:
            await asyncio.sleep(RESYNC_SECONDS)
            lost, failed_now = self._lost, self._failed
            try:
                if lost != self._covered:
                    await self._bump([], generation=True)
                else:
                    await self._call(self.client.ping)
            except (RedisError, OSError):
                answered_since = None
                continue  # still away: said once already
            if lost != self._covered:
                # What was stored before the advance is old to every worker now: no
                # other writer's advance to wait for either.
                self._covered = max(self._covered, lost)
                self._settled = max(self._settled, failed_now)
            elif answered_since is None or failed != failed_now:
                answered_since, failed = loop.time(), failed_now
            elif loop.time() - answered_since >= GRACE_SECONDS:
                self._settled = max(self._settled, failed)
        log.info("read cache back: answers stored before the trouble are no longer served")

    async def _call(self, command: Callable[[], Awaitable[Any]]) -> Any:
        """``command``, once more on a fresh connection after a connection error: an idle
        connection Redis or the network dropped (a timeout is not retried)."""
        try:
            return await command()
        except RedisConnectionError:
            # Its idle fellows were likely dropped too: open anew rather than try each.
            await self.client.connection_pool.disconnect(inuse_connections=False)
            return await command()

    async def _bump(self, keys: Iterable[str], *, generation: bool) -> None:
        args: list[str | int] = [self._key_ttl, int(generation)]
        args += (self.version_key(name) for name in sorted(keys))
        await self._call(lambda: self.scripts[2](keys=[self._clock, self._generation], args=args))

    def _failure(self, what: str, error: Exception) -> None:
        # Nothing lost: this worker alone steps aside, evicting nothing.
        self._failed += 1
        self._trouble(f"{what} failed: {error!r}")

    async def lookup(self, key: str) -> Lookup:
        """The answer stored under ``key`` if it is current, and the clock to note."""
        if not self._available():
            return _UNAVAILABLE
        lost = self._lost
        keys = [self._prefix + key, self._clock]
        try:
            hit, value = await self._call(lambda: self.scripts[0](keys=keys))
        except (RedisError, OSError) as error:
            self._failure("lookup", error)
            return _UNAVAILABLE
        if self._lost != lost:
            return _UNAVAILABLE  # Redis found restarted meanwhile: the answer may be old
        if not hit:
            return Lookup(None, value)
        extra, _, body = value.partition(b"\n")
        return Lookup(Found(body, extra), None)

    async def store(
        self, key: str, noted: bytes, keys: Iterable[str], body: bytes, extra: bytes = b""
    ) -> bool:
        """Keep ``body`` under ``key`` as depending on ``keys``, unless one of them was
        bumped since ``noted`` was read from the clock. True when stored."""
        if not self._available() or b"\n" in extra:  # a newline ends ``extra`` in the entry
            return False
        args: list[bytes | str | int] = [noted, self._ttl, self._key_ttl, extra + b"\n" + body]
        args += (self.version_key(name) for name in sorted(keys))
        entry = [self._prefix + key, self._clock, self._generation]
        try:
            stored = await self._call(lambda: self.scripts[1](keys=entry, args=args))
        except (RedisError, OSError) as error:
            self._failure("store", error)
            return False
        return bool(stored)

    async def invalidate(self, keys: Iterable[str]) -> None:
        """Make every stored answer that depends on one of ``keys`` old."""
        if not self.enabled:
            return
        lost = self._lost
        owed = self.owes_advance
        try:
            # Owing one, it advances the generation too: a bump may have been lost.
            await self._bump(keys, generation=owed)
        except (RedisError, OSError) as error:
            # The write stands; what it changed is evicted once Redis answers again.
            self._lost += 1
            self._trouble(f"invalidation failed: {error!r}")
            return
        if owed:
            self._covered = max(self._covered, lost)

    async def close(self) -> None:
        await self._stop_resync()
        if self._client is not None and self.owes_advance:
            await self._last_advance()
            await self._stop_resync()  # one it started (finding Redis restarted, say)
        for client in (self._client, self._separate):
            if client is not None:
                await client.aclose(close_connection_pool=True)
        self._client = self._separate = None
        self._scripts = None

    async def _stop_resync(self) -> None:
        if self._resync is not None:
            self._resync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resync
            self._resync = None

    async def _last_advance(self) -> None:
        """One bounded attempt at the advance this worker owes: stopping (recycled, HUP,
        TERM) must not forget a lost invalidation while Redis answers."""
        try:
            async with asyncio.timeout(CLOSE_ADVANCE_SECONDS):
                await self._bump([], generation=True)
        except (RedisError, OSError, TimeoutError) as error:
            log.warning(
                "read cache closed owing an advance (%r): answers stored before a lost"
                " invalidation may be served until they expire",
                error,
            )
            return
        self._covered = self._lost
        log.info("read cache: the advance owed was made on closing")


class ReadCacheMiddleware:
    """Answers GETs without credentials for the cacheable routes from the read cache, and
    keeps the 200 JSON answers it had to ask the app for.

    It sits innermost among the middleware, so request ids, logs, metrics and CORS
    apply to cached answers as to any other; a hit costs no routing, no dependency
    solving and no database session. Requests carrying an Authorization header always
    go to the app: ``favorited`` and ``following`` are the viewer's own.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[GetRoute]) -> None:
        """``routes``: as ``_get_routes`` lists them."""
        self.app = app
        self.routes = [(route.pattern, route) for route in routes]

    def _route(self, scope: Scope) -> GetRoute | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        if any(name == b"authorization" for name, _ in scope["headers"]):
            return None
        path = scope["path"]
        for pattern, route in self.routes:
            if pattern.match(path):
                return route if route.keys is not None and route.anonymous else None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route(scope)
        cache: ReadCache = scope["app"].state.read_cache
        if route is None or route.keys is None or not cache.enabled:
            await self.app(scope, receive, send)
            return
        key = entry_key(scope)
        lookup = await cache.lookup(key)
        metrics_for(scope["app"]).count_lookup(lookup.outcome)
        if lookup.found is not None:
            scope[ROUTE_TEMPLATE] = route.template
            await _send_json(send, lookup.found.body)
            return
        if lookup.noted is None:
            await self.app(scope, receive, send)
            return
        answer = _Capture(send)
        with _recording(_Reading(set(route.keys))) as reading:
            await self.app(scope, receive, answer.send)
        if answer.cacheable:
            body = b"".join(answer.chunks)
            await cache.store(key, lookup.noted, reading.keys, body, reading.extra)


class CachedAnswer:
    """The part of this request's answer every reader shares, as the read cache holds it
    (``CachedAnswerDep``): what an anonymous reader gets, on which a route builds the
    signed-in answer (the page, then the viewer's own flags).

    ``get()`` looks it up; on a miss, build it inside ``reading()`` (where
    ``depends_on`` and ``attach`` record), then ``keep()`` it for the next reader.
    ``variant`` keys answers that differ for other reasons than the path and query
    string (a reader's feed: ``"feed-of:3"``).
    """

    def __init__(
        self,
        cache: ReadCache | None = None,
        app: Any = None,
        key: str = "",
        keys: Iterable[str] = (),
    ) -> None:
        """``cache`` None: the route is not cacheable or there is no cache."""
        self._cache = cache
        self._app = app
        self._key = key
        self._reading = _Reading(set(keys))
        self._noted: bytes | None = None

    @property
    def enabled(self) -> bool:
        """Whether there is a cache to build on (the route is cacheable, Redis configured)."""
        return self._cache is not None

    async def get(self, variant: str = "") -> Found | None:
        if self._cache is None:
            return None
        if variant:
            # A space: never part of a request target, so never of another entry's key.
            self._key = f"{self._key} {variant}"
        lookup = await self._cache.lookup(self._key)
        metrics_for(self._app).count_lookup(lookup.outcome)
        self._noted = lookup.noted
        return lookup.found

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        with _recording(self._reading):
            yield

    @property
    def attached(self) -> bytes:
        """What the answer built in ``reading()`` attached."""
        return self._reading.extra

    async def keep(self, content: Any) -> None:
        """Store ``content`` (rendered as JSON) with what ``reading()`` recorded."""
        if self._cache is not None and self._noted is not None:
            reading = self._reading
            body = json_bytes(content)
            await self._cache.store(self._key, self._noted, reading.keys, body, reading.extra)


async def cached_answer(request: Request) -> CachedAnswer:
    cache: ReadCache = request.app.state.read_cache
    keys, _ = _route_keys(request.scope.get("route"))
    if keys is None or not cache.enabled:
        return CachedAnswer()
    return CachedAnswer(cache, request.app, entry_key(request.scope), keys)


CachedAnswerDep = Annotated[CachedAnswer, Depends(cached_answer)]


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
