"""Publishing live events from the services: named in the transaction, sent once it commits.

A service calls ``publish(session, topic, event, data)`` (or one of the helpers below,
which know each event's topics) while it writes; the after-commit hook ``install_live``
registers publishes them all, so a rolled-back write publishes nothing. ``data`` is what
the REST API answers, as an anonymous reader sees it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette

from fastboard.articles.models import Article
from fastboard.boards.models import Board
from fastboard.db import Database, Written, after_commit_note
from fastboard.live.hub import CONTROL, Hub
from fastboard.live.protocol import Close
from fastboard.metrics import metrics_for
from fastboard.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveEvent:
    topic: str
    event: str
    data: Any
    # At most one per window per topic and event name, the latest data winning.
    coalesced: bool = False


def publish(
    session: AsyncSession, topic: str, event: str, data: Any, *, coalesced: bool = False
) -> None:
    """Publish ``event`` on ``topic`` once this session's transaction commits."""
    after_commit_note(session, LiveEvent(topic, event, data, coalesced))


def install_live(app: Starlette, settings: Settings, database: Database) -> None:
    """The worker's hub (started by its first client) and the hook that publishes."""
    hub = Hub(settings, lambda: metrics_for(app))
    app.state.live = hub

    async def publish_committed(written: Written) -> None:
        events = [note for note in written.notes if isinstance(note, LiveEvent)]
        now = [(event.topic, event.event, event.data) for event in events if not event.coalesced]
        if now:
            await hub.publish(now)
        for event in events:
            if event.coalesced:
                await hub.publish_coalesced((event.topic, event.event, event.data))

    database.after_commit(publish_committed)


def _anonymous(article: dict[str, Any]) -> dict[str, Any]:
    """An article as a reader without credentials gets it."""
    return {**article, "favorited": False, "author": {**article["author"], "following": False}}


def article_created(session: AsyncSession, article: dict[str, Any]) -> dict[str, Any]:
    return _article_changed(session, "article.created", article)


def article_updated(
    session: AsyncSession, article: dict[str, Any], *, previous_slug: str | None = None
) -> dict[str, Any]:
    """An edit. A new title gives a new slug: the readers of the old one's topic get the
    event too, its ``slug`` saying where the article (and its later events) went."""
    _article_changed(session, "article.updated", article)
    if previous_slug is not None and previous_slug != article["slug"]:
        publish(session, f"article:{previous_slug}", "article.updated", _anonymous(article))
    return article


def _article_changed(session: AsyncSession, event: str, article: dict[str, Any]) -> dict[str, Any]:
    """``article.created`` / ``article.updated``: on its board, on ``articles``, and (an
    edit) on its own topic. Returns ``article``, for the service to answer."""
    data = _anonymous(article)
    publish(session, f"board:{article['board']}", event, data)
    publish(session, "articles", event, data)
    if event != "article.created":
        publish(session, f"article:{article['slug']}", event, data)
    return article


async def _article_place(session: AsyncSession, slug: str) -> tuple[int, str] | None:
    """The article's author and board slug."""
    query = (
        select(Article.author_id, Board.slug)
        .join(Board, Board.id == Article.board_id)
        .where(Article.slug == slug)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def article_gone(session: AsyncSession, slug: str) -> None:
    """``article.deleted``; call it before the delete."""
    place = await _article_place(session, slug)
    if place is None:
        return
    data = {"slug": slug, "board": place[1]}
    for topic in (f"board:{place[1]}", "articles", f"article:{slug}"):
        publish(session, topic, "article.deleted", data)


async def article_locked(session: AsyncSession, lock: dict[str, Any]) -> None:
    """``article.locked`` / ``article.unlocked`` with the lock state the API answers."""
    place = await _article_place(session, lock["slug"])
    if place is None:
        return
    event = "article.locked" if lock["locked"] else "article.unlocked"
    for topic in (f"board:{place[1]}", "articles", f"article:{lock['slug']}"):
        publish(session, topic, event, lock)


def comment_added(
    session: AsyncSession,
    slug: str,
    comment: dict[str, Any],
    author_id: int,
    thread: tuple[int, list[int]] | None,
) -> dict[str, Any]:
    """``comment.created`` on the article's topic and on the article author's ``me``;
    ``comment.reply`` on the ``me`` of everyone else who commented there before.
    ``thread``: the article's author and its other commenters, most recent first (read
    by the comment's own statement; at most one more than ``MAX_REPLY_NOTIFICATIONS``).
    Returns ``comment``, for the service to answer."""
    data = {**comment, "author": {**comment["author"], "following": False}, "article": slug}
    publish(session, f"article:{slug}", "comment.created", data)
    if thread is None:
        return comment
    owner, others = thread
    if owner != author_id:
        publish(session, f"user:{owner}", "comment.created", data)
    commenters = [commenter for commenter in others if commenter not in (author_id, owner)]
    for commenter in commenters[:MAX_REPLY_NOTIFICATIONS]:
        publish(session, f"user:{commenter}", "comment.reply", data)
    return comment


def comment_updated(session: AsyncSession, slug: str, comment: dict[str, Any]) -> dict[str, Any]:
    """``comment.updated`` on the article's topic, the comment as an anonymous reader
    sees it. Returns ``comment``, for the service to answer."""
    author = {**comment["author"], "following": False}
    data = {**comment, "author": author, "myVote": None, "article": slug}
    publish(session, f"article:{slug}", "comment.updated", data)
    return comment


# A thread with more commenters notifies the most recent ones only: a comment's cost
# stays bounded.
MAX_REPLY_NOTIFICATIONS = 100


def favorites_counted(session: AsyncSession, article: dict[str, Any]) -> dict[str, Any]:
    """``article.favorites`` on the article's topic, coalesced (a burst of favorites is
    two events, the last with the final count). Returns ``article``, for the service."""
    data = {"slug": article["slug"], "favoritesCount": article["favoritesCount"]}
    publish(session, f"article:{article['slug']}", "article.favorites", data, coalesced=True)
    return article


def followed(session: AsyncSession, followee_id: int, follower: dict[str, Any]) -> None:
    """``profile.followed`` on the followee's ``me``, with the follower's profile."""
    publish(session, f"user:{followee_id}", "profile.followed", follower)


def account_closed(session: AsyncSession, user_id: int, code: Close, reason: str) -> None:
    """Every worker closes the user's live connections with ``code`` (suspended: 4403;
    deleted: 4401)."""
    publish(session, CONTROL, "account.closed", {"user": user_id, "code": code, "reason": reason})


def tokens_spent(session: AsyncSession, user_id: int, version: int) -> None:
    """Every worker closes (4401) the user's live connections signed in with a token from
    before ``version``; those signed in with a new token stay."""
    data = {"user": user_id, "code": Close.UNAUTHORIZED, "reason": "token spent", "below": version}
    publish(session, CONTROL, "account.closed", data)
