"""Every query on the users table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.users.models import User


async def get_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def get_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def taken_fields(
    session: AsyncSession, *, username: str | None, email: str | None, exclude_id: int | None = None
) -> set[str]:
    """Which of ``username`` / ``email`` already belong to another user (one query)."""
    conditions = []
    if username is not None:
        conditions.append(User.username == username)
    if email is not None:
        conditions.append(User.email == email)
    if not conditions:
        return set()
    query = select(User.username, User.email).where(or_(*conditions))
    if exclude_id is not None:
        query = query.where(User.id != exclude_id)
    taken: set[str] = set()
    for row in await session.execute(query):
        if username is not None and row.username == username:
            taken.add("username")
        if email is not None and row.email == email:
            taken.add("email")
    return taken


async def add(session: AsyncSession, *, username: str, email: str, password_hash: str) -> User:
    """Insert a user inside a savepoint, so a unique-constraint race can be reported
    without aborting the request's transaction (raises IntegrityError)."""
    user = User(username=username, email=email, password_hash=password_hash)
    async with session.begin_nested():
        session.add(user)
    return user


async def update_fields(session: AsyncSession, user: User, changes: dict[str, Any]) -> User:
    """Apply ``changes`` inside a savepoint (raises IntegrityError on a unique race)."""
    async with session.begin_nested():
        for name, value in changes.items():
            setattr(user, name, value)
    return user


async def replace_password_hash(session: AsyncSession, user: User, new_hash: str) -> None:
    """Store ``new_hash`` only if the row still holds the hash ``user`` was read with: a
    rehash computed outside the transaction must never undo a concurrent password change."""
    await session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == user.password_hash)
        .values(password_hash=new_hash)
    )
