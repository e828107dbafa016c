"""Every query on the history of articles and comments.

A page of versions is one statement (editor joined, the total alongside); it reads one
version more than it shows, the one before its oldest, so every version shown has the
body it is compared with. Exports read in keyset chunks the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.articles.models import Article
from fastboard.comments.models import Comment
from fastboard.db import UTCDateTime
from fastboard.fields import TAG_SEPARATOR
from fastboard.history.models import ArticleVersion, CommentVersion
from fastboard.prepared import Row, read_rows, write_rows
from fastboard.profiles.repository import Author, author_columns
from fastboard.users.models import User

# No page or chunk starts past this version number.
NEWEST = 2**31 - 1
_LIMIT = bindparam("limit", type_=Integer, literal_execute=True)
_OFFSET = bindparam("offset", type_=Integer, literal_execute=True)
_Version = type[ArticleVersion] | type[CommentVersion]


@dataclass(frozen=True, slots=True)
class ArticleContent:
    """What an article version holds besides who and when."""

    slug: str
    title: str
    description: str
    body: str
    tags: tuple[str, ...]  # alphabetical
    board: str


@dataclass(frozen=True, slots=True)
class VersionRow:
    number: int
    created_at: datetime
    editor: Author | None  # None: the account is gone and nobody took its place
    body: str
    article: ArticleContent | None  # None for a comment's version

    @classmethod
    def from_mapping(cls, row: Row, *, of_article: bool) -> VersionRow:
        article = None
        if of_article:
            joined = row["tags"]
            tags = tuple(sorted(joined.split(TAG_SEPARATOR))) if joined else ()
            article = ArticleContent(
                row["slug"], row["title"], row["description"], row["body"], tags, row["board"]
            )
        editor = Author.from_mapping(row) if row["author_username"] is not None else None
        return cls(row["number"], row["created_at"], editor, row["body"], article)


@dataclass(frozen=True, slots=True)
class Target:
    """Whose history: an article (and a comment of it), and whether they still exist."""

    article_id: int
    live: bool


# Looking up what a history is of -------------------------------------------------------


_LIVE_ARTICLE = select(Article.id).where(Article.slug == bindparam("slug", type_=String))


@cache
def _gone_article_statement() -> Select[Any]:
    # The latest deleted article that had this slug (a slug is reused once free).
    live = exists().where(Article.id == ArticleVersion.article_id)
    return (
        select(ArticleVersion.article_id.label("id"))
        .where(ArticleVersion.slug == bindparam("slug", type_=String), ~live)
        .order_by(ArticleVersion.id.desc())
        .limit(1)
    )


async def article_target(session: AsyncSession, slug: str, *, gone_too: bool) -> Target | None:
    """The article at ``slug``; with ``gone_too``, else a deleted one that had it."""
    found = await read_rows(session, _LIVE_ARTICLE, {"slug": slug})
    if found:
        return Target(found[0]["id"], live=True)
    if not gone_too:
        return None
    gone = await read_rows(session, _gone_article_statement(), {"slug": slug})
    return Target(gone[0]["id"], live=False) if gone else None


_LIVE_COMMENT = select(
    exists()
    .where(
        Comment.id == bindparam("comment_id", type_=BigInteger),
        Comment.article_id == bindparam("article_id", type_=BigInteger),
    )
    .label("live")
)


async def comment_is_live(session: AsyncSession, article_id: int, comment_id: int) -> bool:
    found = await read_rows(
        session, _LIVE_COMMENT, {"comment_id": comment_id, "article_id": article_id}
    )
    return bool(found[0]["live"])


# Pages and chunks -----------------------------------------------------------------------


def _owner(model: _Version) -> list[ColumnElement[bool]]:
    """Which versions: those of one article, or of one comment of one article."""
    article = model.article_id == bindparam("article_id", type_=BigInteger)
    if model is CommentVersion:
        return [article, CommentVersion.comment_id == bindparam("comment_id", type_=BigInteger)]
    return [article]


def _columns(model: _Version) -> list[Any]:
    columns: list[Any] = [model.number, model.created_at, model.body]
    if model is ArticleVersion:
        version = ArticleVersion
        columns += [version.slug, version.title, version.description, version.tags, version.board]
    viewer_id = bindparam("viewer_id", type_=BigInteger)
    editor_id: Any = model.editor_id  # NULL only when no user row joins
    return [*columns, *author_columns(editor_id, viewer_id)]


def _versions(model: _Version) -> Select[Any]:
    return (
        select(*_columns(model))
        .outerjoin(User, User.id == model.editor_id)
        .where(*_owner(model))
        .order_by(model.number.desc())
    )


@cache
def _page_statement(model: _Version) -> Select[Any]:
    total = select(func.count()).select_from(model).where(*_owner(model))
    counted = total.scalar_subquery().label("total")
    return _versions(model).add_columns(counted).limit(_LIMIT).offset(_OFFSET)


@cache
def _total_statement(model: _Version) -> Select[Any]:
    return select(func.count().label("total")).select_from(model).where(*_owner(model))


@cache
def _chunk_statement(model: _Version) -> Select[Any]:
    return _versions(model).where(model.number <= bindparam("start", type_=Integer)).limit(_LIMIT)


def _params(article_id: int, comment_id: int | None, viewer_id: int | None) -> dict[str, Any]:
    # Viewer 0 is nobody: one statement serves readers with and without an account.
    params: dict[str, Any] = {"article_id": article_id, "viewer_id": viewer_id or 0}
    if comment_id is not None:
        params["comment_id"] = comment_id
    return params


async def page(
    session: AsyncSession,
    article_id: int,
    comment_id: int | None,
    *,
    limit: int,
    offset: int,
    viewer_id: int | None,
) -> tuple[list[VersionRow], int]:
    """Up to ``limit`` versions after skipping ``offset``, newest first, plus the one
    before the oldest of them when there is one; and how many there are in all. One
    statement (two past the end)."""
    model = ArticleVersion if comment_id is None else CommentVersion
    params = _params(article_id, comment_id, viewer_id)
    statement = _page_statement(model)
    rows = await read_rows(session, statement, {**params, "limit": limit + 1, "offset": offset})
    if rows:
        versions = [VersionRow.from_mapping(row, of_article=comment_id is None) for row in rows]
        return versions, rows[0]["total"]
    total = await read_rows(session, _total_statement(model), params)
    return [], total[0]["total"]


async def chunk(
    session: AsyncSession,
    article_id: int,
    comment_id: int | None,
    *,
    start: int,
    size: int,
) -> list[VersionRow]:
    """Versions ``start`` and older, newest first: ``size`` of them plus the one before."""
    model = ArticleVersion if comment_id is None else CommentVersion
    params = {**_params(article_id, comment_id, None), "start": start, "limit": size + 1}
    rows = await read_rows(session, _chunk_statement(model), params)
    return [VersionRow.from_mapping(row, of_article=comment_id is None) for row in rows]


# Writing ---------------------------------------------------------------------------------


_LATEST_ARTICLE_VERSION = (
    select(
        ArticleVersion.number,
        ArticleVersion.slug,
        ArticleVersion.title,
        ArticleVersion.description,
        ArticleVersion.body,
        ArticleVersion.tags,
        ArticleVersion.board,
    )
    .where(ArticleVersion.article_id == bindparam("article_id", type_=BigInteger))
    .order_by(ArticleVersion.number.desc())
    .limit(1)
)


async def latest_article_version(
    session: AsyncSession, article_id: int
) -> tuple[int, ArticleContent] | None:
    """The number and content of the article's newest version."""
    found = await read_rows(session, _LATEST_ARTICLE_VERSION, {"article_id": article_id})
    if not found:
        return None
    row = found[0]
    tags = tuple(sorted(row["tags"].split(TAG_SEPARATOR))) if row["tags"] else ()
    content = ArticleContent(
        row["slug"], row["title"], row["description"], row["body"], tags, row["board"]
    )
    return row["number"], content


def _table(model: _Version) -> Table:
    # Table-level statements: given a dict of parameters, the ORM would take it for rows.
    return cast(Table, model.__table__)


_ADD_ARTICLE_VERSION = insert(_table(ArticleVersion)).values(
    article_id=bindparam("article_id", type_=BigInteger),
    number=bindparam("number", type_=Integer),
    slug=bindparam("slug", type_=String),
    title=bindparam("title", type_=String),
    description=bindparam("description", type_=String),
    body=bindparam("body", type_=String),
    tags=bindparam("tags", type_=String),
    board=bindparam("board", type_=String),
    editor_id=bindparam("editor_id", type_=BigInteger),
    created_at=bindparam("now", type_=UTCDateTime),
)


async def add_article_version(
    session: AsyncSession,
    article_id: int,
    number: int,
    content: ArticleContent,
    *,
    editor_id: int,
    now: datetime,
) -> None:
    params = {
        "article_id": article_id,
        "number": number,
        "slug": content.slug,
        "title": content.title,
        "description": content.description,
        "body": content.body,
        "tags": TAG_SEPARATOR.join(content.tags),
        "board": content.board,
        "editor_id": editor_id,
        "now": now,
    }
    await write_rows(session, _ADD_ARTICLE_VERSION, params, writes=(ArticleVersion,))


@cache
def _add_comment_version_statement() -> Any:
    # The next number is read inside the INSERT; the caller holds the comment's row lock,
    # so edits of one comment follow one another (and the unique key would refuse a tie).
    comment_id = bindparam("comment_id", type_=BigInteger)
    article_id = bindparam("article_id", type_=BigInteger)
    versions = _table(CommentVersion)
    following = select(
        comment_id,
        article_id,
        func.coalesce(func.max(versions.c.number), 0) + 1,
        bindparam("body", type_=String),
        bindparam("editor_id", type_=BigInteger),
        bindparam("now", type_=UTCDateTime),
    ).where(versions.c.comment_id == comment_id)
    columns = ["comment_id", "article_id", "number", "body", "editor_id", "created_at"]
    return insert(versions).from_select(columns, following)


async def add_comment_version(
    session: AsyncSession,
    comment_id: int,
    article_id: int,
    *,
    body: str,
    editor_id: int,
    now: datetime,
) -> None:
    params = {
        "comment_id": comment_id,
        "article_id": article_id,
        "body": body,
        "editor_id": editor_id,
        "now": now,
    }
    statement = _add_comment_version_statement()
    await write_rows(session, statement, params, writes=(CommentVersion,))


async def reassign_editor(session: AsyncSession, from_id: int, to_id: int) -> None:
    """A deleted account's versions pass to the placeholder, as its content does."""
    for model in (ArticleVersion, CommentVersion):
        await session.execute(
            update(model)
            .where(model.editor_id == from_id)
            .values(editor_id=to_id)
            .execution_options(synchronize_session=False)
        )


def versions_of(rows: Sequence[VersionRow], shown: int) -> list[tuple[VersionRow, str]]:
    """The first ``shown`` rows, each with the body it is compared with: the next row's
    (the version before it; numbers have no gaps), or nothing before version 1."""
    return [
        (row, rows[index + 1].body if index + 1 < len(rows) else "")
        for index, row in enumerate(rows[:shown])
    ]
