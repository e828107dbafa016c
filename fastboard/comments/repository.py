"""Every query on comments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    join,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.articles.models import Article
from fastboard.articles.repository import id_at_slug
from fastboard.comments.models import Comment
from fastboard.db import UTCDateTime
from fastboard.prepared import Row, read_rows, write_rows
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
    def from_mapping(cls, row: Row) -> CommentRow:
        return cls(
            id=row["id"],
            body=row["body"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            author=Author.from_mapping(row),
        )


@cache
def _for_article_statement(*, with_viewer: bool) -> Any:
    viewer_id = bindparam("viewer_id", type_=BigInteger) if with_viewer else None
    # From the article, comments outer-joined: an article without comments is one row of
    # NULLs, no article is no row at all, and neither needs a lookup of its own.
    commented = join(Comment, User, User.id == Comment.author_id)
    return (
        select(
            Comment.id,
            Comment.body,
            Comment.created_at,
            Comment.updated_at,
            *author_columns(Comment.author_id, viewer_id),
        )
        .select_from(Article)
        .outerjoin(commented, Comment.article_id == Article.id)
        .where(Article.slug == bindparam("slug", type_=String))
        .order_by(Comment.created_at.desc(), Comment.id.desc())
    )


async def for_article(
    session: AsyncSession, slug: str, *, viewer_id: int | None
) -> list[CommentRow] | None:
    """All comments of the article at ``slug`` with their authors, newest first, in one
    statement; None when there is no such article."""
    params: dict[str, Any] = {"slug": slug}
    if viewer_id is not None:
        params["viewer_id"] = viewer_id
    statement = _for_article_statement(with_viewer=viewer_id is not None)
    rows = await read_rows(session, statement, params)
    if not rows:
        return None
    return [CommentRow.from_mapping(row) for row in rows if row["id"] is not None]


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
    # A locked article is no target: None comes back, as for a missing one.
    chosen = id_at_slug().where(Article.locked_at.is_(None)).add_columns(author_id, body, now, now)
    comments = cast(Table, Comment.__table__)
    return insert(comments).from_select(columns, chosen).returning(Comment.id)


async def add(
    session: AsyncSession, slug: str, *, author_id: int, body: str, now: datetime
) -> int | None:
    """Comment on the article at ``slug``; the new comment's id, None without such article."""
    params = {"article_slug": slug, "author_id": author_id, "body": body, "now": now}
    added = await write_rows(session, _add_statement(), params, writes=(Comment,))
    return int(added[0]["id"]) if added else None


async def article_is_locked(session: AsyncSession, slug: str) -> bool:
    query = select(Article.locked_at.is_not(None)).where(Article.slug == slug)
    return bool(await session.scalar(query))


async def remove(session: AsyncSession, comment_id: int) -> None:
    await session.execute(delete(Comment).where(Comment.id == comment_id))


async def reassign_comments(session: AsyncSession, from_id: int, to_id: int) -> None:
    await session.execute(
        update(Comment)
        .where(Comment.author_id == from_id)
        .values(author_id=to_id)
        .execution_options(synchronize_session=False)
    )
