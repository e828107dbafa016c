"""Password hashing (Argon2id via pwdlib) and JWT tokens (PyJWT, HS256, with a ``kid``)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import NamedTuple, TypeVar

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from fastboard.settings import Settings, VerificationKey, key_id

T = TypeVar("T")


def argon2id() -> PasswordHash:
    """Argon2id at OWASP's minimum: 19 MiB, 2 passes, 1 lane (libargon2 runs each lane in a
    thread of its own, so more lanes would let one login take every core). Hashes made
    with other parameters are upgraded at their next login."""
    return PasswordHash((Argon2Hasher(time_cost=2, memory_cost=19 * 1024, parallelism=1),))


_hasher = argon2id()
ALGORITHM = "HS256"


HASHING_THREAD = "fastboard-hashing"


@cache
def hashing_threads(size: int, nice: int) -> ThreadPoolExecutor:
    """The process's password hashing: at most ``size`` hashes at once, in threads of their
    own that run ``nice`` below the event loop, made on first use (after Gunicorn forks).

    A flood of logins waits in this queue, holding no thread of the shared pool, and Argon2
    gets the CPU that requests being served leave idle instead of competing with them.
    """
    return ThreadPoolExecutor(
        size, thread_name_prefix=HASHING_THREAD, initializer=_lower_priority, initargs=(nice,)
    )


def _lower_priority(nice: int) -> None:
    # Linux keeps a nice value per thread; elsewhere it would slow the whole process. A
    # sandbox that forbids it leaves hashing at normal priority rather than failing logins.
    if sys.platform == "linux" and nice:
        with suppress(OSError):
            os.nice(nice)


async def _hashing(settings: Settings, work: Callable[[], T]) -> T:
    # Argon2 is deliberately slow: off the event loop, few at a time, and last in line.
    threads = hashing_threads(settings.password_hash_concurrency, settings.password_hash_nice)
    return await asyncio.get_running_loop().run_in_executor(threads, work)


async def hash_password(password: str, settings: Settings) -> str:
    return await _hashing(settings, lambda: _hasher.hash(password))


async def verify_and_update(
    password: str, password_hash: str, settings: Settings
) -> tuple[bool, str | None]:
    """Whether ``password`` matches, and a new hash to store when ``password_hash`` was made
    with other parameters than today's (None when it is current or the password is wrong)."""
    return await _hashing(settings, lambda: _hasher.verify_and_update(password, password_hash))


# The throwaway hash an unknown email is verified against, with the hasher that made it.
_dummy: tuple[PasswordHash, str] | None = None


def _burn(password: str) -> None:
    global _dummy  # one per process, made on first use (two racing make two: harmless)
    hasher = _hasher
    if _dummy is None or _dummy[0] is not hasher:
        # Making it is one Argon2 run, as a verification is: the first unknown email
        # costs what every other one does, not twice as much.
        _dummy = (hasher, hasher.hash("fastboard-timing-equaliser"))
        return
    hasher.verify(password, _dummy[1])


async def burn_verify(password: str, settings: Settings) -> None:
    """One Argon2 run against a throwaway hash: an unknown email then costs the same time
    as a wrong password, so response timing does not reveal which emails are registered."""
    await _hashing(settings, lambda: _burn(password))


def create_token(
    user_id: int, settings: Settings, *, version: int = 0, now: datetime | None = None
) -> str:
    """A token for ``user_id`` at the account's ``token_version``: raising the version
    (password change, logout everywhere, account deletion) turns away every token issued
    before. Signed with the current key, which its ``kid`` header names."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "ver": version,
        "iat": issued,
        "exp": issued + timedelta(seconds=settings.jwt_ttl_seconds),
    }
    secret = settings.jwt_secret()
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": key_id(secret)})


class VerifiedToken(NamedTuple):
    user_id: int
    expires_at: float  # seconds since the epoch, the token's own ``exp``
    # The account's token_version when it was issued; tokens from before the claim
    # existed count as version 0. Whoever looks the user up compares it with the row.
    version: int = 0


def _keys_for(token: str, settings: Settings) -> list[VerificationKey]:
    """The keys that may have signed ``token``: the one its ``kid`` names, or for a token
    from before key ids, every key. None for an unknown kid: nothing to try."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except (jwt.PyJWTError, ValueError, TypeError):
        return []
    keys = settings.verification_keys()
    if kid is None:
        return list(keys.values())
    known = keys.get(kid) if isinstance(kid, str) else None
    return [known] if known is not None else []


def verify_token(token: str, settings: Settings) -> VerifiedToken | None:
    """Whom a valid token names and until when; None for a tampered, expired or malformed
    one, one whose key is unknown, and one whose previous key is past its grace period."""
    now = time.time()
    for key in _keys_for(token, settings):
        if key.until is not None and now >= key.until:
            continue
        try:
            claims = jwt.decode(
                token,
                key.secret,
                algorithms=[ALGORITHM],  # pinning the algorithm is what rejects alg=none
                options={"require": ["sub", "exp", "iat"]},
            )
        except jwt.InvalidSignatureError:
            continue  # a token without a kid: perhaps another key signed it
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        return _verified(claims, key)
    return None


def _verified(claims: dict[str, object], key: VerificationKey) -> VerifiedToken | None:
    try:
        user_id = int(claims["sub"])  # type: ignore[call-overload]
        expires_at = float(claims["exp"])  # type: ignore[arg-type]
    except (KeyError, ValueError, TypeError):
        return None
    version = claims.get("ver", 0)
    # A version that is no plain integer in range was never issued here.
    if type(version) is not int or not 0 <= version < 2**31 or not 0 < user_id < 2**63:
        return None
    if key.until is not None:
        # Remembered as verified (auth._verified) only while its key still verifies.
        expires_at = min(expires_at, key.until)
    return VerifiedToken(user_id, expires_at, version)


def decode_token(token: str, settings: Settings) -> int | None:
    """The user id in a valid token, or None for a tampered, expired or malformed one."""
    verified = verify_token(token, settings)
    return verified.user_id if verified is not None else None
