"""Current-user dependencies: ``Authorization: Token <jwt>`` (RealWorld) or ``Bearer <jwt>``."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy import BigInteger, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from fastboard.db import SAFE_METHODS, ReadSessionDep, SessionDep
from fastboard.errors import Unauthorized
from fastboard.prepared import read_rows
from fastboard.security import VerifiedToken, verify_token
from fastboard.settings import Settings
from fastboard.users.models import User

# Two schemes for one header, both documented: "Token" as the RealWorld spec says, and an
# OAuth2 password flow so the /docs "Authorize" button can log in and send "Bearer".
_token_header = APIKeyHeader(
    name="Authorization",
    scheme_name="Token",
    description="`Token <jwt>` as returned by login or registration (`Bearer <jwt>` works too).",
    auto_error=False,
)
_oauth2 = OAuth2PasswordBearer(tokenUrl="/api/users/token", scheme_name="OAuth2", auto_error=False)


async def get_settings(request: Request) -> Settings:
    # async: a plain def would make FastAPI hop to the thread pool on every request.
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def _token_from(header: str | None) -> str | None:
    """The token in an Authorization header; raises when a header is present but malformed."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() not in ("token", "bearer") or not token.strip():
        raise Unauthorized("authorization header must be 'Token <jwt>'", field="token")
    return token.strip()


_USER_BY_ID = select(*User.__table__.columns).where(User.id == bindparam("id", type_=BigInteger))


async def _user(session: AsyncSession, user_id: int, method: str) -> User | None:
    # One row made into an instance costs a fraction of the ORM's identity-map load.
    rows = await read_rows(session, _USER_BY_ID, {"id": user_id})
    if not rows:
        return None
    user = User(**rows[0])
    if method not in SAFE_METHODS:
        # Writes get it as the session's own instance, as if the session had loaded it
        # (its first look at this user): changes to it are flushed with the rest.
        make_transient_to_detached(user)
        session.add(user)
    return user


# Tokens already verified, (secret, token) -> whom and until when: a reader sends the same
# token with every request, and checking its signature again costs more than the rest of
# the authentication. The expiry is still checked on every use.
_verified: dict[tuple[str, str], VerifiedToken] = {}
_VERIFIED_MAX = 10_000


def _verified_user_id(token: str, settings: Settings) -> int | None:
    key = (settings.jwt_secret(), token)
    known = _verified.get(key)
    if known is not None and time.time() < known.expires_at:
        return known.user_id
    verified = verify_token(token, settings)
    if verified is None:
        return None
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[key] = verified
    return verified.user_id


async def token_user_id(
    request: Request,
    header: Annotated[str | None, Depends(_token_header)],
    _bearer: Annotated[str | None, Depends(_oauth2)],
) -> int | None:
    """The user id a valid token names, None without a token. Not looked up yet: a route
    taking it checks in its own query that the user still exists, which saves a round
    trip (the list and the feed do, with the viewer's flags)."""
    token = _token_from(header)
    if token is None:
        return None
    # The settings from the app itself rather than SettingsDep: one dependency less to
    # solve on every request.
    user_id = _verified_user_id(token, request.app.state.settings)
    if user_id is None:
        raise Unauthorized("token is invalid or has expired", field="token")
    return user_id


async def required_token_user_id(
    user_id: Annotated[int | None, Depends(token_user_id)],
) -> int:
    if user_id is None:
        raise Unauthorized("missing authorization credentials", field="token")
    return user_id


async def _token_user(session: AsyncSession, user_id: int | None, method: str) -> User | None:
    """The user a valid token names, None without a token; the one check behind both
    ``optional_user`` and ``optional_viewer``."""
    if user_id is None:
        return None
    user = await _user(session, user_id, method)
    if user is None:
        raise Unauthorized("token is invalid or has expired", field="token")
    return user


async def optional_user(
    request: Request,
    session: SessionDep,
    user_id: Annotated[int | None, Depends(token_user_id)],
) -> User | None:
    return await _token_user(session, user_id, request.method)


async def optional_viewer(
    session: ReadSessionDep,
    user_id: Annotated[int | None, Depends(token_user_id)],
) -> User | None:
    """``optional_user`` for routes that only read (``ReadSessionDep``)."""
    return await _token_user(session, user_id, "GET")


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized("missing authorization credentials", field="token")
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]
OptionalViewer = Annotated[User | None, Depends(optional_viewer)]
CurrentUser = Annotated[User, Depends(current_user)]
# The id in a valid token; whoever takes it must check that the user exists.
TokenUserId = Annotated[int | None, Depends(token_user_id)]
RequiredTokenUserId = Annotated[int, Depends(required_token_user_id)]
