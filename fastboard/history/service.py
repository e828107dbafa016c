"""History rules: what is recorded, who may read it, how versions are compared. No FastAPI
here.

Every article and comment has its whole content recorded as version 1 when posted and as
a new version whenever an edit changes it. Anyone may read the history of what is there;
that of a deleted article or comment (its rows outlive it) only moderators and admins.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.errors import NotFound
from fastboard.fields import iso_millis
from fastboard.history import repository
from fastboard.history.repository import ArticleContent, Target, VersionRow
from fastboard.profiles.service import profile_json
from fastboard.users.models import User
from fastboard.users.roles import Role

# Shaped as the wire models ``ArticleVersion`` and ``CommentVersion`` (history.schemas).
VersionJSON = dict[str, Any]
ARTICLE_NOT_FOUND = "article not found"
COMMENT_NOT_FOUND = "comment not found"


def content_of(article: dict[str, Any]) -> ArticleContent:
    """The content of an article as the API answers it (``articles.service``)."""
    return ArticleContent(
        article["slug"],
        article["title"],
        article["description"],
        article["body"],
        tuple(article["tagList"]),
        article["board"],
    )


async def record_article(
    session: AsyncSession,
    article_id: int,
    article: dict[str, Any],
    *,
    editor_id: int,
    now: datetime,
    created: bool = False,
) -> None:
    """Record ``article`` (as the API answers it) as its newest version, unless that is
    what the newest one already holds. ``created``: it has no version yet."""
    content = content_of(article)
    number = 1
    if not created:
        latest = await repository.latest_article_version(session, article_id)
        if latest is not None:
            if latest[1] == content:
                return
            number = latest[0] + 1
    await repository.add_article_version(
        session, article_id, number, content, editor_id=editor_id, now=now
    )


async def record_comment(
    session: AsyncSession,
    comment_id: int,
    article_id: int,
    body: str,
    *,
    editor_id: int,
    now: datetime,
) -> None:
    """Record ``body`` as the comment's newest version (the caller holds its row lock)."""
    await repository.add_comment_version(
        session, comment_id, article_id, body=body, editor_id=editor_id, now=now
    )


def unified_diff(before: str, after: str, number: int) -> str:
    """``after`` (version ``number``) against ``before``, as ``diff -u`` writes it; empty
    when they are the same."""
    lines = difflib.unified_diff(
        before.splitlines(),
        after.splitlines(),
        fromfile=f"version {number - 1}" if number > 1 else "(nothing)",
        tofile=f"version {number}",
        lineterm="",
    )
    return "\n".join(lines)


def _version_json(row: VersionRow, diff: str) -> VersionJSON:
    editor = (
        None if row.editor is None else profile_json(row.editor, following=row.editor.following)
    )
    version: VersionJSON = {"version": row.number, "createdAt": iso_millis(row.created_at)}
    version["editor"] = editor
    if row.article is not None:
        article = row.article
        version |= {
            "slug": article.slug,
            "title": article.title,
            "description": article.description,
            "body": article.body,
            "tagList": list(article.tags),
            "board": article.board,
        }
    else:
        version["body"] = row.body
    version["diff"] = diff
    return version


def _sees_gone(viewer: User | None) -> bool:
    return viewer is not None and Role(viewer.role).at_least(Role.MODERATOR)


async def article_target(session: AsyncSession, slug: str, viewer: User | None) -> Target:
    """Whose history ``slug`` names for ``viewer``; raises NotFound."""
    target = await repository.article_target(session, slug, gone_too=_sees_gone(viewer))
    if target is None:
        raise NotFound(ARTICLE_NOT_FOUND, field="article")
    return target


async def comment_target(
    session: AsyncSession, slug: str, comment_id: int, viewer: User | None
) -> Target:
    """The article of the comment whose history ``viewer`` asks for; raises NotFound.
    A moderator's comment of a deleted article, or deleted comment, is found by its
    versions: none is a 404 all the same."""
    target = await article_target(session, slug, viewer)
    if target.live and await repository.comment_is_live(session, target.article_id, comment_id):
        return target
    if not _sees_gone(viewer):
        raise NotFound(COMMENT_NOT_FOUND, field="comment")
    return Target(target.article_id, live=False)


async def history(
    session: AsyncSession,
    target: Target,
    comment_id: int | None,
    viewer: User | None,
    *,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """A page of versions, newest first: ``{"versions": [...], "versionsCount": n}``."""
    rows, total = await repository.page(
        session,
        target.article_id,
        comment_id,
        limit=limit,
        offset=offset,
        viewer_id=viewer.id if viewer else None,
    )
    if total == 0:
        # A moderator's look for a deleted comment: nothing is known of it.
        raise NotFound(COMMENT_NOT_FOUND, field="comment")
    shown = await with_diffs(rows, limit)
    return {
        "versions": [_version_json(row, diff) for row, diff in shown],
        "versionsCount": total,
    }


# Bodies past this many characters in all are compared in a worker thread: difflib is
# pure Python, and a page of long bodies would hold the event loop (and every other
# request of the worker) for its whole run.
DIFF_INLINE_CHARACTERS = 50_000


def _rows_with_diffs(rows: Sequence[VersionRow], shown: int) -> list[tuple[VersionRow, str]]:
    return [
        (row, unified_diff(before, row.body, row.number))
        for row, before in repository.versions_of(rows, shown)
    ]


async def with_diffs(rows: Sequence[VersionRow], shown: int) -> list[tuple[VersionRow, str]]:
    """The first ``shown`` rows, each with its diff against the version before it."""
    if sum(len(row.body) for row in rows) <= DIFF_INLINE_CHARACTERS:
        return _rows_with_diffs(rows, shown)
    return await anyio.to_thread.run_sync(_rows_with_diffs, rows, shown)
