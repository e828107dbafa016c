"""Comment rules: who may comment, edit, vote and delete. No FastAPI here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fastboard import cache
from fastboard.articles import service as articles
from fastboard.comments import repository
from fastboard.comments.cache_keys import comments_on
from fastboard.comments.models import Comment, CommentVote
from fastboard.comments.repository import CommentRow, Locked
from fastboard.db import changed, utcnow
from fastboard.errors import Forbidden, NotFound
from fastboard.fields import iso_millis
from fastboard.history import service as history
from fastboard.history.models import CommentVersion
from fastboard.live import events as live
from fastboard.moderation import service as moderation
from fastboard.moderation.models import Action, Target
from fastboard.profiles.service import profile_json
from fastboard.security import VerifiedToken
from fastboard.users import cache_keys as user_keys
from fastboard.users.models import User
from fastboard.users.standing import admit

# Shaped as the wire model ``Comment`` (comments.schemas), keys in its order.
CommentJSON = dict[str, Any]
LOCKED = "this article is locked: it takes no new comments"


def _comment_json(row: CommentRow) -> CommentJSON:
    return {
        "id": row.id,
        "createdAt": iso_millis(row.created_at),
        "updatedAt": iso_millis(row.updated_at),
        "body": row.body,
        "author": profile_json(row.author, following=row.author.following),
        "score": row.score,
        "myVote": row.my_vote,
    }


async def list_for(
    session: AsyncSession, slug: str, viewer: User | None, *, order: str = "new"
) -> list[CommentJSON]:
    viewer_id = viewer.id if viewer else None
    rows = await repository.for_article(session, slug, viewer_id=viewer_id, order=order)
    if rows is None:
        raise NotFound("article not found", field="article")
    cache.depends_on(comments_on(slug), *(user_keys.user(row.author.id) for row in rows))
    return [_comment_json(row) for row in rows]


async def add(session: AsyncSession, slug: str, body: str, token: VerifiedToken) -> CommentJSON:
    """The token's account is checked by the write itself (no load of its own): it writes
    only for an account that exists at the token's version and is not suspended."""
    now = utcnow()
    viewer = (token.user_id, token.version)
    done = await repository.add_as(session, viewer, slug, body=body, now=now)
    admit(done.standing, "POST", now)
    if done.thread is None:
        raise NotFound("article not found", field="article")
    if done.locked:
        raise Forbidden(LOCKED, field="article")
    added, author = done.added, done.author
    if added is None or author is None:  # neither can be once the checks above passed
        raise RuntimeError("a comment admitted was not written")
    if not added.versioned:
        await history.record_comment(
            session, added.id, added.article_id, body, editor_id=token.user_id, now=now
        )
    # The history is never cached: its rows change no key.
    changed(session, Comment, CommentVersion, keys=[comments_on(slug)])
    row = CommentRow(id=added.id, body=body, created_at=now, updated_at=now, author=author)
    thread = (done.thread.owner, done.thread.commenters)
    return live.comment_added(session, slug, _comment_json(row), token.user_id, thread)


async def _locked(session: AsyncSession, slug: str, comment_id: int, user: User) -> Locked:
    """The comment, locked for a change by ``user``; raises NotFound."""
    found = await repository.lock(session, slug, comment_id, viewer_id=user.id)
    if found is None:
        await articles.article_id(session, slug)  # 404 naming the article when it is gone
        raise NotFound("comment not found", field="comment")
    return found


async def edit(
    session: AsyncSession, slug: str, comment_id: int, body: str, user: User
) -> CommentJSON:
    """The author edits their comment; the version it replaces stays in its history."""
    locked = await _locked(session, slug, comment_id, user)
    comment = locked.comment
    if comment.author.id != user.id:
        raise Forbidden("only the author may edit this comment", field="comment")
    if locked.article_locked:
        raise Forbidden("this article is locked: its comments cannot be edited", field="article")
    comment.my_vote = await repository.vote_of(session, comment.id, user.id)
    if body == comment.body:
        return _comment_json(comment)  # nothing changes, nothing to record
    now = utcnow()
    await repository.edit(session, comment.id, body=body, now=now)
    await history.record_comment(
        session, comment.id, locked.article_id, body, editor_id=user.id, now=now
    )
    changed(session, Comment, CommentVersion, keys=[comments_on(slug)])
    comment.body, comment.updated_at = body, now
    return live.comment_updated(session, slug, _comment_json(comment))


async def vote(
    session: AsyncSession, slug: str, comment_id: int, user: User, value: int | None
) -> CommentJSON:
    """Make ``user``'s vote on the comment ``value`` (1 or -1; None takes it back). The
    comment's row is locked first, so votes on one comment follow one another and its
    score stays the sum of its votes."""
    locked = await _locked(session, slug, comment_id, user)
    comment = locked.comment
    before = await repository.vote_of(session, comment.id, user.id)
    if value != before:
        await repository.set_vote(session, comment.id, user.id, value, utcnow())
        comment.score = await repository.bump_score(
            session, comment.id, (value or 0) - (before or 0)
        )
        changed(session, Comment, CommentVote, keys=[comments_on(slug)])
    comment.my_vote = value
    return _comment_json(comment)


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
