"""Every query on comments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.comments.models import Comment
from fastboard.profiles.models import Follow
from fastboard.users.models import User


@dataclass(slots=True)
class CommentRow:
    id: int
    body: str
    created_at: datetime
    updated_at: datetime
    author_username: str
    author_bio: str
    author_image: str | None
    following: bool


def _following(viewer_id: int | None) -> ColumnElement[bool]:
    if viewer_id is None:
        return false().label("following")
    followed = exists().where(
        Follow.follower_id == viewer_id, Follow.followee_id == Comment.author_id
    )
    return followed.label("following")


def _select(viewer_id: int | None) -> Any:
    return select(
        Comment.id,
        Comment.body,
        Comment.created_at,
        Comment.updated_at,
        User.username.label("author_username"),
        User.bio.label("author_bio"),
        User.image.label("author_image"),
        _following(viewer_id),
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
    return [CommentRow(**row._mapping) for row in await session.execute(query)]


async def get(session: AsyncSession, comment_id: int) -> Comment | None:
    return await session.get(Comment, comment_id)


async def add(session: AsyncSession, comment: Comment) -> Comment:
    session.add(comment)
    await session.flush()
    return comment


async def remove(session: AsyncSession, comment_id: int) -> None:
    await session.execute(delete(Comment).where(Comment.id == comment_id))
