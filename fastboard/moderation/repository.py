"""Every query of moderation: roles and suspensions of users, locks, the log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.articles.models import Article
from fastboard.moderation.models import ModerationEntry
from fastboard.users.models import User
from fastboard.users.roles import Role


async def role_of(session: AsyncSession, user_id: int) -> str | None:
    return await session.scalar(select(User.role).where(User.id == user_id))


async def lock_admins(session: AsyncSession) -> list[int]:
    """The admins' ids, their rows locked until the transaction ends: two admins stepping
    down at once cannot both see the other one still there (SQLite lets one writer in)."""
    query = select(User.id).where(User.role == Role.ADMIN).with_for_update()
    return list(await session.scalars(query))


async def set_locked_at(session: AsyncSession, article_id: int, locked_at: datetime | None) -> None:
    await session.execute(
        update(Article).where(Article.id == article_id).values(locked_at=locked_at)
    )


async def article_lock(session: AsyncSession, slug: str) -> tuple[int, int, datetime | None] | None:
    """The article's id, author and lock time; None without such article."""
    query = select(Article.id, Article.author_id, Article.locked_at).where(Article.slug == slug)
    row = (await session.execute(query)).first()
    return None if row is None else (row.id, row.author_id, row.locked_at)


async def add_entry(session: AsyncSession, entry: ModerationEntry) -> None:
    session.add(entry)
    await session.flush()


@cache
def _page_statement() -> Select[Any]:
    # The total rides along as an uncorrelated scalar subquery: one round trip a page.
    total = select(func.count()).select_from(ModerationEntry).scalar_subquery().label("total")
    return (
        select(*ModerationEntry.__table__.columns, total)
        .order_by(ModerationEntry.created_at.desc(), ModerationEntry.id.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


async def log_page(session: AsyncSession, *, limit: int, offset: int) -> tuple[Sequence[Any], int]:
    """One page of the log, newest first, and its length: one statement (two past the end)."""
    connection = await session.connection()
    params = {"limit": limit, "offset": offset}
    rows = (await connection.execute(_page_statement(), params)).all()
    if rows:
        return rows, rows[0].total
    total = await session.scalar(select(func.count()).select_from(ModerationEntry))
    return [], int(total or 0)
