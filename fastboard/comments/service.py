"""Comment rules: who may comment, who may delete. No FastAPI here."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.articles import service as articles
from fastboard.comments import repository
from fastboard.comments.models import Comment
from fastboard.comments.repository import CommentRow
from fastboard.comments.schemas import Comment as CommentOut
from fastboard.db import utcnow
from fastboard.errors import Forbidden, NotFound
from fastboard.profiles.repository import Author
from fastboard.profiles.service import profile_out
from fastboard.users.models import User


def comment_out(row: CommentRow) -> CommentOut:
    return CommentOut(
        id=row.id,
        createdAt=row.created_at,
        updatedAt=row.updated_at,
        body=row.body,
        author=profile_out(row.author),
    )


async def list_for(session: AsyncSession, slug: str, viewer: User | None) -> list[CommentOut]:
    article_id = await articles.article_id(session, slug)
    rows = await repository.for_article(
        session, article_id, viewer_id=viewer.id if viewer else None
    )
    return [comment_out(row) for row in rows]


async def add(session: AsyncSession, slug: str, body: str, author: User) -> CommentOut:
    now = utcnow()
    comment = Comment(
        article_id=await articles.article_id(session, slug),
        author_id=author.id,
        body=body,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, comment)
    row = CommentRow(
        id=comment.id,
        body=comment.body,
        created_at=comment.created_at,
        updated_at=comment.updated_at,
        author=Author.of(author, following=False),  # nobody follows themselves
    )
    return comment_out(row)


async def delete(session: AsyncSession, slug: str, comment_id: int, user: User) -> None:
    article_id = await articles.article_id(session, slug)
    comment = await repository.get(session, comment_id)
    if comment is None or comment.article_id != article_id:
        raise NotFound("comment not found", field="comment")
    if comment.author_id != user.id:
        raise Forbidden("only the author may delete this comment", field="comment")
    await repository.remove(session, comment.id)
