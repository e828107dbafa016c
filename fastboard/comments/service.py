"""Comment rules: who may comment, who may delete. No FastAPI here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fastboard import cache
from fastboard.articles import service as articles
from fastboard.comments import repository
from fastboard.comments.cache_keys import comments_on
from fastboard.comments.models import Comment
from fastboard.comments.repository import CommentRow
from fastboard.db import changed, utcnow
from fastboard.errors import Forbidden, NotFound
from fastboard.fields import iso_millis
from fastboard.live import events as live
from fastboard.moderation import service as moderation
from fastboard.moderation.models import Action, Target
from fastboard.profiles.repository import Author
from fastboard.profiles.service import profile_json
from fastboard.users import cache_keys as user_keys
from fastboard.users.models import User

# Shaped as the wire model ``Comment`` (comments.schemas), keys in its order.
CommentJSON = dict[str, Any]


def _comment_json(row: CommentRow) -> CommentJSON:
    return {
        "id": row.id,
        "createdAt": iso_millis(row.created_at),
        "updatedAt": iso_millis(row.updated_at),
        "body": row.body,
        "author": profile_json(row.author, following=row.author.following),
    }


async def list_for(session: AsyncSession, slug: str, viewer: User | None) -> list[CommentJSON]:
    rows = await repository.for_article(session, slug, viewer_id=viewer.id if viewer else None)
    if rows is None:
        raise NotFound("article not found", field="article")
    cache.depends_on(comments_on(slug), *(user_keys.user(row.author.id) for row in rows))
    return [_comment_json(row) for row in rows]


async def add(session: AsyncSession, slug: str, body: str, author: User) -> CommentJSON:
    now = utcnow()
    comment_id = await repository.add(session, slug, author_id=author.id, body=body, now=now)
    if comment_id is None:
        # Only an unlocked article takes the comment: find out which it was.
        if await repository.article_is_locked(session, slug):
            raise Forbidden("this article is locked: it takes no new comments", field="article")
        raise NotFound("article not found", field="article")
    changed(session, Comment, keys=[comments_on(slug)])
    row = CommentRow(
        id=comment_id,
        body=body,
        created_at=now,
        updated_at=now,
        author=Author.of(author, following=False),  # nobody follows themselves
    )
    return await live.comment_added(session, slug, _comment_json(row), author.id)


async def delete(
    session: AsyncSession, slug: str, comment_id: int, user: User, *, reason: str | None = None
) -> None:
    """The author deletes their comment; a moderator anyone's of a lower role (logged)."""
    article_id = await articles.article_id(session, slug)
    comment = await repository.get(session, comment_id)
    if comment is None or comment.article_id != article_id:
        raise NotFound("comment not found", field="comment")
    if comment.author_id != user.id:
        await moderation.authorize(session, user, comment.author_id, field="comment")
        target = (Target.COMMENT, str(comment.id))
        detail = f"on {slug}"
        await moderation.record(
            session, user, Action.DELETE_COMMENT, target, reason=reason, detail=detail
        )
    await repository.remove(session, comment.id)
    changed(session, Comment, keys=[comments_on(slug)])
    live.publish(session, f"article:{slug}", "comment.deleted", {"id": comment.id, "article": slug})
