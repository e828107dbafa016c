"""Registration, login and profile updates. No FastAPI here: plain async functions."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard import security
from fastboard.db import changed, release_connection
from fastboard.errors import Invalid, Unauthorized
from fastboard.live import events as live
from fastboard.settings import Settings
from fastboard.users import cache_keys, repository
from fastboard.users.models import User
from fastboard.users.schemas import NewUser, UpdateUser
from fastboard.users.schemas import User as UserOut

BAD_CREDENTIALS = "email or password is invalid"


class BadCredentials(Unauthorized):
    """A wrong password or an unknown email: the same answer for both."""


class Taken(Invalid):
    """A username or email another account has."""


def signed_in(user: User, settings: Settings) -> UserOut:
    """The user as they see themselves, with a fresh token."""
    return UserOut(
        email=user.email,
        token=security.create_token(user.id, settings, version=user.token_version),
        username=user.username,
        bio=user.bio,
        image=user.image or "",
        role=user.role,
    )


async def _raise_if_taken(
    session: AsyncSession, *, username: str | None, email: str | None, exclude_id: int | None = None
) -> None:
    taken = await repository.taken_fields(
        session, username=username, email=email, exclude_id=exclude_id
    )
    if taken:
        raise _taken_error(taken)


def _taken_error(taken: set[str]) -> Taken:
    field = "email" if "email" in taken else "username"
    return Taken("has already been taken", field=field)


async def register(session: AsyncSession, data: NewUser, settings: Settings) -> UserOut:
    # Hash before the first statement: the transaction holds no connection meanwhile.
    password_hash = await security.hash_password(data.password, settings)
    await _raise_if_taken(session, username=data.username, email=data.email)
    try:
        user = await repository.add(
            session, username=data.username, email=data.email, password_hash=password_hash
        )
    except IntegrityError:
        # Lost a race with a concurrent registration: name the field that was taken.
        await _raise_if_taken(session, username=data.username, email=data.email)
        raise
    # A new user has written nothing and favorited nothing: no cached answer shows them.
    changed(session, User)
    return signed_in(user, settings)


async def login(session: AsyncSession, email: str, password: str, settings: Settings) -> UserOut:
    user = await repository.get_by_email(session, email.lower())
    await release_connection(session)
    if user is None:
        await security.burn_verify(password, settings)
        raise BadCredentials(BAD_CREDENTIALS, field="credentials")
    valid, rehashed = await security.verify_and_update(password, user.password_hash, settings)
    if not valid:
        raise BadCredentials(BAD_CREDENTIALS, field="credentials")
    if rehashed is not None:
        # Made with older parameters: store today's, unless the password changed meanwhile.
        await repository.replace_password_hash(session, user, rehashed)
        changed(session, User)  # no cached answer shows a password hash
    return signed_in(user, settings)


async def update(
    session: AsyncSession, user: User, data: UpdateUser, settings: Settings
) -> UserOut:
    given = data.model_dump(exclude_unset=True)
    if not given:
        raise Invalid("at least one field is required", field="user")
    changes: dict[str, Any] = {}
    for name in ("username", "email"):
        if given.get(name) is not None and given[name] != getattr(user, name):
            changes[name] = given[name]
    if "bio" in given:
        changes["bio"] = given["bio"] or ""
    if "image" in given:
        changes["image"] = given["image"] or None
    if given.get("password"):
        # The user was read to authenticate the request; nothing is written yet.
        await release_connection(session)
        changes["password_hash"] = await security.hash_password(given["password"], settings)
        # As PUT /api/user/password does: the tokens issued before are spent.
        changes["token_version"] = user.token_version + 1
    # Read before the savepoint: rolling it back expires `user`, and reloading an expired
    # attribute is lazy IO, which fails under asyncio.
    user_id = user.id
    await _raise_if_taken(
        session, username=changes.get("username"), email=changes.get("email"), exclude_id=user_id
    )
    try:
        updated = await repository.update_fields(session, user, changes)
    except IntegrityError:
        await _raise_if_taken(
            session,
            username=changes.get("username"),
            email=changes.get("email"),
            exclude_id=user_id,
        )
        raise
    shown = [cache_keys.user(user_id)]
    if "username" in changes:
        shown.append(cache_keys.USERNAMES)  # lists filtered by author or favorited
    changed(session, User, keys=shown)
    if "token_version" in changes:
        live.tokens_spent(session, user_id, changes["token_version"])
    return signed_in(updated, settings)
