"""Current-user dependencies: ``Authorization: Token <jwt>`` (RealWorld) or ``Bearer <jwt>``."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy import BigInteger, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from fastboard.db import SAFE_METHODS, SessionDep, read_session, utcnow
from fastboard.errors import Forbidden, Unauthorized
from fastboard.prepared import read_rows
from fastboard.security import VerifiedToken, verify_token
from fastboard.settings import Settings
from fastboard.users.models import User
from fastboard.users.roles import Role
from fastboard.users.standing import INVALID_TOKEN, Standing, admit

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


# Tokens already verified, (secret, token) -> whom, at which version and until when: a
# reader sends the same token with every request, and checking its signature again costs
# more than the rest of the authentication. The expiry is still checked on every use; the
# version is a claim of the token, compared with the account's on every use by whoever
# looks the account up (optional_user, or the list's flags query).
_verified: dict[tuple[str, str], VerifiedToken] = {}
_VERIFIED_MAX = 10_000


def _verified_token(token: str, settings: Settings) -> VerifiedToken | None:
    key = (settings.jwt_secret(), token)
    known = _verified.get(key)
    if known is not None and time.time() < known.expires_at:
        return known
    verified = verify_token(token, settings)
    if verified is None:
        return None
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[key] = verified
    return verified


def _claims(request: Request, header: str | None) -> VerifiedToken | None:
    token = _token_from(header)
    if token is None:
        return None
    # The settings from the app itself rather than SettingsDep: one dependency less to
    # solve on every request.
    verified = _verified_token(token, request.app.state.settings)
    if verified is None:
        raise Unauthorized(INVALID_TOKEN, field="token")
    return verified


async def token_claims(
    request: Request,
    header: Annotated[str | None, Depends(_token_header)],
    _bearer: Annotated[str | None, Depends(_oauth2)],
) -> VerifiedToken | None:
    """Whom a valid token names, at which token version; None without a token. Not looked
    up yet: a route taking it checks in its own query that the user still exists at that
    version, which saves a round trip (the list and the feed do, with the viewer's flags)."""
    return _claims(request, header)


async def required_token_claims(
    claims: Annotated[VerifiedToken | None, Depends(token_claims)],
) -> VerifiedToken:
    if claims is None:
        raise Unauthorized("missing authorization credentials", field="token")
    return claims


def _admit(user: User | None, claims: VerifiedToken, method: str) -> User:
    """The token's account, if the token still speaks for it and it may do ``method``."""
    # A password change, logout everywhere or deletion raised the version: older tokens
    # are spent.
    if user is None or user.token_version != claims.version:
        raise Unauthorized(INVALID_TOKEN, field="token")
    admit(Standing(user.suspended_until, user.suspension_reason), method, utcnow())
    return user


async def _token_user(
    session: AsyncSession, claims: VerifiedToken | None, method: str
) -> User | None:
    """The account a valid token speaks for, None without a token; the one check behind
    both ``optional_user`` and ``optional_viewer``."""
    if claims is None:
        return None
    return _admit(await _user(session, claims.user_id, method), claims, method)


async def optional_user(
    request: Request,
    session: SessionDep,
    claims: Annotated[VerifiedToken | None, Depends(token_claims)],
) -> User | None:
    return await _token_user(session, claims, request.method)


async def optional_viewer(
    request: Request,
    header: Annotated[str | None, Depends(_token_header)],
    _bearer: Annotated[str | None, Depends(_oauth2)],
) -> User | None:
    """``optional_user`` for routes that only read (``ReadSessionDep``).

    The hot reads (an article, its comments) take it: it declares only the two header
    schemes, not ``token_claims`` nor the session, since every declared dependency costs
    a solving pass per request; the session (the route's own) is taken with a token only."""
    claims = _claims(request, header)
    if claims is None:
        return None
    return await _token_user(read_session(request), claims, "GET")


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized("missing authorization credentials", field="token")
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]
OptionalViewer = Annotated[User | None, Depends(optional_viewer)]
CurrentUser = Annotated[User, Depends(current_user)]
# A valid token's claims, not looked up: whoever takes them must check in their own query
# that the account exists at the token's version (articles.repository.viewer_flags does).
TokenClaims = Annotated[VerifiedToken | None, Depends(token_claims)]
RequiredTokenClaims = Annotated[VerifiedToken, Depends(required_token_claims)]


async def token_owner(session: SessionDep, claims: RequiredTokenClaims) -> User:
    """The account a valid token speaks for, suspended or not: for what a suspended user
    may still do to protect the account (signing out everywhere)."""
    return _admit(await _user(session, claims.user_id, "GET"), claims, "GET")


TokenOwner = Annotated[User, Depends(token_owner)]


async def moderator(user: CurrentUser) -> User:
    if not Role(user.role).at_least(Role.MODERATOR):
        raise Forbidden("only moderators and admins may do this", field="role")
    return user


async def admin(user: CurrentUser) -> User:
    if Role(user.role) is not Role.ADMIN:
        raise Forbidden("only admins may do this", field="role")
    return user


# A signed-in user of at least that role (401 without a valid token, 403 below the role).
Moderator = Annotated[User, Depends(moderator)]
Admin = Annotated[User, Depends(admin)]
