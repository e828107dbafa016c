"""Throttling of the requests that check a password, per client address and per account,
shared by every worker and host through Redis.

NGINX limits requests per address too, but a direct Gunicorn deployment has no NGINX,
and NGINX knows nothing of accounts: ten guesses at one account from ten addresses pass
any per-address limit. So the app keeps two budgets of its own:

- per client address (IPv6: per /64, what one subscriber gets), every attempt at a
  credential endpoint (login, the form login, registration, password change, account
  deletion) spends one: ``throttle_address_limit`` per ``throttle_address_period_seconds``;
- per account (the email, hashed), every *failed* attempt spends one, from whatever
  address: ``throttle_account_limit`` per ``throttle_account_period_seconds``. Once spent,
  the account takes one more attempt per period/limit (90 s by default) until it has
  been left alone for the period, so a guesser is slowed to a crawl and the owner is
  never locked out for good; a successful sign-in clears it. An unknown email is counted
  like a known one, so the throttle reveals no more than the login does (nothing).

Both are GCRA (a token bucket held as one timestamp per key): one Lua script, one round
trip, atomic, with Redis's clock. The client address is ``request.client``: the peer, or
what the trusted proxy said (Gunicorn's ``forwarded_allow_ips``, fastboard.worker).

Without Redis (development, one process) the buckets live in the process. When Redis
fails, each worker throttles on its own for a few seconds (logged once per outage, never
a 500): weaker than shared buckets, still a limit.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException

from fastboard.openapi import GenericErrorModel
from fastboard.settings import Settings

log = logging.getLogger(__name__)

# After a Redis error, how long this worker counts on its own before trying Redis again.
BACKOFF_SECONDS = 5.0
# Keys kept in the process before the expired ones are swept out.
_MEMORY_SWEEP_AT = 10_000

Mode = Literal["peek", "hit", "force"]

# KEYS: the bucket. ARGV: period (ms), limit, mode. The key holds the bucket's theoretical
# arrival time (TAT, ms): each attempt moves it one interval (period / limit) later, and
# an attempt is allowed while the TAT stays within one period of now. Returns 0 when
# allowed (and counted, unless peeking), else the milliseconds until it would be.
# "force" counts without asking (a failure already happened).
_GCRA = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local period = tonumber(ARGV[1])
local interval = math.max(1, math.floor(period / tonumber(ARGV[2])))
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local wait = tat + interval - period - now
if ARGV[3] ~= 'force' and wait > 0 then return wait end
if ARGV[3] ~= 'peek' then
  local new = tat + interval
  redis.call('SET', KEYS[1], string.format('%d', new), 'PX', new - now)
end
return 0
"""

TOO_MANY_FROM_ADDRESS = "too many attempts from your address, try again in {seconds} s"
TOO_MANY_FOR_ACCOUNT = "too many failed attempts for this account, try again in {seconds} s"


# The 429 of a throttled route, for its OpenAPI ``responses``.
THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": GenericErrorModel,
        "description": "Too many attempts from this address, or failed ones for this account",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before the next attempt",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    }
}


@dataclass(frozen=True, slots=True)
class Rule:
    limit: int
    period_ms: int

    def interval(self) -> int:
        return max(1, self.period_ms // self.limit)


class Throttled(HTTPException):
    """429 with ``Retry-After``, rendered in the error envelope like any HTTP error."""

    def __init__(self, message: str, wait_ms: int) -> None:
        seconds = max(1, math.ceil(wait_ms / 1000))
        super().__init__(
            429, message.format(seconds=seconds), headers={"Retry-After": str(seconds)}
        )


def address_key(host: str | None) -> str:
    """The bucket of a client address: IPv6 by /64 (one subscriber's share; any address
    in it is theirs to use), IPv4 by address."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def account_key(email: str) -> str:
    """The bucket of an account, by email as the login looks it up, hashed: no address
    lands in Redis in the clear."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class Throttle:
    """One process's view of the credential budgets."""

    def __init__(self, settings: Settings, redis: Callable[[], Redis]) -> None:
        """``redis``: the worker's Redis client for the throttle (apart from the read
        cache's own: a throttle failure is none of the cache's trouble; closed with the
        app)."""
        self.enabled = settings.throttle
        self._shared = settings.redis_url is not None
        self._redis = redis
        self._prefix = f"{settings.redis_prefix}:throttle:"
        self.address_rule = Rule(
            settings.throttle_address_limit, settings.throttle_address_period_seconds * 1000
        )
        self.account_rule = Rule(
            settings.throttle_account_limit, settings.throttle_account_period_seconds * 1000
        )
        self._script: tuple[Redis, AsyncScript] | None = None
        self._down_until = 0.0
        self._down = False
        self._memory: dict[str, int] = {}

    # -- the buckets -------------------------------------------------------------------

    def _gcra(self) -> AsyncScript:
        client = self._redis()
        if self._script is None or self._script[0] is not client:
            self._script = (client, client.register_script(_GCRA))
        return self._script[1]

    async def _apply(self, key: str, rule: Rule, mode: Mode) -> int:
        """0 when allowed (counted, unless peeking), else the milliseconds to wait."""
        if self._shared and time.monotonic() >= self._down_until:
            try:
                wait = await self._gcra()(
                    keys=[self._prefix + key], args=[rule.period_ms, rule.limit, mode]
                )
            except (RedisError, OSError) as error:
                self._failed(error)
            else:
                if self._down:
                    self._down = False
                    log.info("throttle: Redis is back, budgets are shared again")
                return int(wait)
        return self._apply_in_memory(key, rule, mode)

    def _failed(self, error: Exception) -> None:
        self._down_until = time.monotonic() + BACKOFF_SECONDS
        if not self._down:
            self._down = True
            log.warning(
                "throttle: Redis failed (%r); each worker counts on its own until it is back",
                error,
            )

    def _apply_in_memory(self, key: str, rule: Rule, mode: Mode) -> int:
        now = int(time.time() * 1000)
        tat = max(self._memory.get(key, now), now)
        wait = tat + rule.interval() - rule.period_ms - now
        if mode != "force" and wait > 0:
            return wait
        if mode != "peek":
            if len(self._memory) >= _MEMORY_SWEEP_AT:
                self._memory = {k: v for k, v in self._memory.items() if v > now}
                if len(self._memory) >= _MEMORY_SWEEP_AT // 2:
                    # A flood of live keys: start afresh rather than sweep on every
                    # request (a moment without limits beats a worker busy sweeping).
                    self._memory.clear()
            self._memory[key] = tat + rule.interval()
        return 0

    async def _forget(self, key: str) -> None:
        self._memory.pop(key, None)
        if self._shared and time.monotonic() >= self._down_until:
            try:
                await self._redis().delete(self._prefix + key)
            except (RedisError, OSError) as error:
                self._failed(error)

    # -- what the routes use -----------------------------------------------------------

    @asynccontextmanager
    async def attempt(
        self,
        address: str | None,
        account: str,
        failures: tuple[type[Exception], ...],
    ) -> AsyncIterator[None]:
        """Guard one attempt at ``account`` (an email) from ``address``: refused (429) when
        either budget is spent; an exception of ``failures`` raised inside counts against
        the account, success clears the account's failures."""
        if not self.enabled:
            yield
            return
        wait = await self._apply("addr:" + address_key(address), self.address_rule, "hit")
        if wait:
            raise Throttled(TOO_MANY_FROM_ADDRESS, wait)
        account_bucket = "acct:" + account_key(account)
        wait = await self._apply(account_bucket, self.account_rule, "peek")
        if wait:
            raise Throttled(TOO_MANY_FOR_ACCOUNT, wait)
        try:
            yield
        except failures:
            await self._apply(account_bucket, self.account_rule, "force")
            raise
        await self._forget(account_bucket)


def throttle_of(request: Request) -> Throttle:
    """The app's throttle, made on first use (in the worker, after Gunicorn forks)."""
    state = request.app.state
    throttle: Throttle | None = getattr(state, "throttle", None)
    if throttle is None:
        throttle = Throttle(state.settings, lambda: state.read_cache.separate_client)
        state.throttle = throttle
    return throttle


ThrottleDep = Annotated[Throttle, Depends(throttle_of)]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None
