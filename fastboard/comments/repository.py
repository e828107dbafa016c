"""Every query on comments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import BigInteger, Table, Text, bindparam, delete, insert, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.articles.repository import id_at_slug
from fastboard.comments.models import Comment
from fastboard.db import UTCDateTime
from fastboard.profiles.repository import Author, author_columns
from fastboard.users.models import User


@dataclass(slots=True)
class CommentRow:
    id: int
    body: str
    created_at: datetime
    updated_at: datetime
    author: Author

    @classmethod
    def from_mapping(cls, row: RowMapping) -> CommentRow:
        return cls(
            id=row["id"],
            body=row["body"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            author=Author.from_mapping(row),
        )


def _select(viewer_id: int | None) -> Any:
    return select(
        Comment.id,
        Comment.body,
        Comment.created_at,
        Comment.updated_at,
        *author_columns(Comment.author_id, viewer_id),
    ).join(User, User.id == Comment.author_id)


async def for_article(
    session: AsyncSession, article_id: int, *, viewer_id: int | None
) -> list[CommentRow]:
    """All comments of an article with their authors, newest first: one statement."""
    query = (
        _select(viewer_id)
        .where(Comment.article_id == article_id)
        .order_by(Comment.created_at.desc(), Comment.id.desc())
    )
    return [CommentRow.from_mapping(row) for row in (await session.execute(query)).mappings()]


async def get(session: AsyncSession, comment_id: int) -> Comment | None:
    return await session.get(Comment, comment_id)


@cache
def _add_statement() -> Any:
    now = bindparam("now", type_=UTCDateTime)
    author_id, body = bindparam("author_id", type_=BigInteger), bindparam("body", type_=Text)
    columns = [
        Comment.article_id,
        Comment.author_id,
        Comment.body,
        Comment.created_at,
        Comment.updated_at,
    ]
    # The article is found by its slug inside the INSERT: no lookup of its own. (A table-
    # level statement: given a dict of parameters, the ORM would take it for rows.)
    chosen = id_at_slug().add_columns(author_id, body, now, now)
    comments = cast(Table, Comment.__table__)
    return insert(comments).from_select(columns, chosen).returning(Comment.id)


async def add(
    session: AsyncSession, slug: str, *, author_id: int, body: str, now: datetime
) -> int | None:
    """Comment on the article at ``slug``; the new comment's id, None without such article."""
    params = {"slug": slug, "author_id": author_id, "body": body, "now": now}
    comment_id: int | None = (await session.execute(_add_statement(), params)).scalar()
    return comment_id


async def remove(session: AsyncSession, comment_id: int) -> None:
    await session.execute(delete(Comment).where(Comment.id == comment_id))
