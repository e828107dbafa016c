"""Password hashing (Argon2id via pwdlib) and JWT tokens (PyJWT, HS256)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

import anyio.to_thread
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from fastboard.settings import Settings

_hasher = PasswordHash((Argon2Hasher(),))
ALGORITHM = "HS256"


async def hash_password(password: str) -> str:
    # Argon2 is deliberately slow: keep it off the event loop.
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password: str, password_hash: str) -> bool:
    return await anyio.to_thread.run_sync(_hasher.verify, password, password_hash)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("fastboard-timing-equaliser")


async def burn_verify(password: str) -> None:
    """Verify against a throwaway hash: an unknown email then costs the same time as a
    wrong password, so response timing does not reveal which emails are registered."""
    dummy = await anyio.to_thread.run_sync(_dummy_hash)
    await verify_password(password, dummy)


def create_token(user_id: int, settings: Settings, *, now: datetime | None = None) -> str:
    issued = now or datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iat": issued,
        "exp": issued + timedelta(seconds=settings.jwt_ttl_seconds),
    }
    return jwt.encode(claims, settings.jwt_secret(), algorithm=ALGORITHM)


def decode_token(token: str, settings: Settings) -> int | None:
    """The user id in a valid token, or None for a tampered, expired or malformed one."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret(),
            algorithms=[ALGORITHM],  # pinning the algorithm is what rejects alg=none
            options={"require": ["sub", "exp", "iat"]},
        )
        user_id = int(claims["sub"])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    return user_id if 0 < user_id < 2**63 else None
