"""Every query on comments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    join,
    literal,
    null,
    select,
    true,
    update,
)
from sqlalchemy import cast as cast_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.articles.models import Article
from fastboard.articles.repository import id_at_slug
from fastboard.comments.models import Comment, CommentVote
from fastboard.db import UTCDateTime
from fastboard.history.models import CommentVersion
from fastboard.live.events import MAX_REPLY_NOTIFICATIONS
from fastboard.prepared import Row, read_rows, write_alone, write_rows
from fastboard.profiles.repository import Author, author_columns
from fastboard.users.models import User
from fastboard.users.repository import token_account
from fastboard.users.standing import Standing


@dataclass(slots=True)
class CommentRow:
    id: int
    body: str
    created_at: datetime
    updated_at: datetime
    author: Author
    score: int = 0
    my_vote: int | None = None  # the viewer's vote; None: none, or no viewer

    @classmethod
    def from_mapping(cls, row: Row) -> CommentRow:
        return cls(
            id=row["id"],
            body=row["body"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            author=Author.from_mapping(row),
            score=row["score"],
            my_vote=row["my_vote"],
        )


ORDERS = ("new", "top")


def _my_vote(viewer_id: Any) -> Any:
    if viewer_id is None:
        return null().label("my_vote")
    mine = select(CommentVote.value).where(
        CommentVote.comment_id == Comment.id, CommentVote.user_id == viewer_id
    )
    return mine.scalar_subquery().label("my_vote")


def _comment_columns(viewer_id: Any, *, with_vote: bool = True) -> list[Any]:
    """A comment as a viewer sees it (a query joining ``User`` on its author); without
    their vote, ``my_vote`` is NULL."""
    return [
        Comment.id,
        Comment.body,
        Comment.created_at,
        Comment.updated_at,
        *author_columns(Comment.author_id, viewer_id),
        Comment.score,
        _my_vote(viewer_id) if with_vote else null().label("my_vote"),
    ]


@cache
def _for_article_statement(*, with_viewer: bool, order: str) -> Any:
    viewer_id = bindparam("viewer_id", type_=BigInteger) if with_viewer else None
    newest: list[Any] = [Comment.created_at.desc(), Comment.id.desc()]
    # From the article, comments outer-joined: an article without comments is one row of
    # NULLs, no article is no row at all, and neither needs a lookup of its own.
    commented = join(Comment, User, User.id == Comment.author_id)
    return (
        select(*_comment_columns(viewer_id))
        .select_from(Article)
        .outerjoin(commented, Comment.article_id == Article.id)
        .where(Article.slug == bindparam("slug", type_=String))
        .order_by(*([Comment.score.desc(), *newest] if order == "top" else newest))
    )


async def for_article(
    session: AsyncSession, slug: str, *, viewer_id: int | None, order: str = "new"
) -> list[CommentRow] | None:
    """All comments of the article at ``slug`` with their authors, scores and the
    viewer's votes, newest (or highest scored) first, in one statement; None when there
    is no such article."""
    params: dict[str, Any] = {"slug": slug}
    if viewer_id is not None:
        params["viewer_id"] = viewer_id
    statement = _for_article_statement(with_viewer=viewer_id is not None, order=order)
    rows = await read_rows(session, statement, params)
    if not rows:
        return None
    return [CommentRow.from_mapping(row) for row in rows if row["id"] is not None]


async def get(session: AsyncSession, comment_id: int) -> Comment | None:
    return await session.get(Comment, comment_id)


def _add_insert(*, fresh_id: bool = False) -> Any:
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
    if fresh_id:
        columns.insert(0, Comment.id)
        chosen = chosen.with_only_columns(_past_history(), *chosen.selected_columns)
    comments = cast(Table, Comment.__table__)
    return insert(comments).from_select(columns, chosen)


def _past_history() -> Any:
    """The next id past every comment id there is or was: SQLite gives the largest rowid
    again once its row is deleted, and a deleted comment's history keeps its id."""
    used = func.max(
        func.coalesce(select(func.max(Comment.id)).scalar_subquery(), 0),
        func.coalesce(select(func.max(CommentVersion.comment_id)).scalar_subquery(), 0),
    )
    return (used + 1).label("id")


@cache
def _add_statement() -> Any:
    # SQLite only: PostgreSQL's sequence never gives an id twice (_add_with_version_statement).
    comments = cast(Table, Comment.__table__)
    return _add_insert(fresh_id=True).returning(comments.c.id, comments.c.article_id)


@cache
def _add_with_version_statement() -> Any:
    """The comment and its version 1 in one statement: PostgreSQL runs DML in a WITH."""
    comments = cast(Table, Comment.__table__)
    versions = cast(Table, CommentVersion.__table__)
    returned = (comments.c.id, comments.c.article_id, comments.c.author_id, comments.c.body)
    added = _add_insert().returning(*returned).cte("added")
    first = select(
        added.c.id,
        added.c.article_id,
        literal(1, Integer),
        added.c.body,
        added.c.author_id,
        bindparam("now", type_=UTCDateTime),
    )
    columns = ["comment_id", "article_id", "number", "body", "editor_id", "created_at"]
    return (
        insert(versions)
        .from_select(columns, first)
        .returning(versions.c.comment_id.label("id"), versions.c.article_id)
    )


@dataclass(frozen=True, slots=True)
class Added:
    id: int
    article_id: int
    versioned: bool  # whether its version 1 is recorded already


async def add(
    session: AsyncSession, slug: str, *, author_id: int, body: str, now: datetime
) -> Added | None:
    """Comment on the article at ``slug``; None without such (unlocked) article. On
    PostgreSQL the same statement records the comment's version 1."""
    params = {"article_slug": slug, "author_id": author_id, "body": body, "now": now}
    with_version = session.get_bind().dialect.name == "postgresql"
    statement = _add_with_version_statement() if with_version else _add_statement()
    added = await write_rows(session, statement, params, writes=(Comment, CommentVersion))
    if not added:
        return None
    return Added(int(added[0]["id"]), int(added[0]["article_id"]), with_version)


@dataclass(frozen=True, slots=True)
class Thread:
    """The commented article's author, and who else commented on it before (most recent
    first, at most ``MAX_REPLY_NOTIFICATIONS``): whom a new comment notifies."""

    owner: int
    commenters: list[int]


@dataclass(frozen=True, slots=True)
class AddedAs:
    """What a comment written as a token's account found and did."""

    # The account at the token's version, None when there is none: then, as when it is
    # suspended, nothing was written.
    standing: Standing | None
    author: Author | None  # the account's profile, as the comment shows it
    added: Added | None  # None: no comment written
    thread: Thread | None  # None: no article at the slug
    locked: bool  # whether the article is locked (then it takes no comment)


def _thread_commenters(author_id: Any, article_id: Any) -> Any:
    """Who commented on ``article_id`` other than ``author_id``, most recent first, one
    more than notified (the article's author may be among them)."""
    last = func.max(Comment.id).label("last")
    return (
        select(Comment.author_id.label("commenter"), last)
        .where(Comment.article_id == article_id, Comment.author_id != author_id)
        .group_by(Comment.author_id)
        .order_by(last.desc())
        .limit(MAX_REPLY_NOTIFICATIONS + 1)
    )


@cache
def _add_as_statement() -> Any:
    """PostgreSQL: the account checked, the comment and its version 1 written (only for an
    account that may write, on an unlocked article), and whom it notifies read, in one
    statement. The thread is read as it was before the comment, as the account's own
    comments are left out of it anyway."""
    viewer = token_account()
    may_write = select(viewer.c.viewer_id).where(viewer.c.allowed).scalar_subquery()
    target = (
        select(Article.id, Article.author_id, Article.locked_at)
        .where(Article.slug == bindparam("article_slug", type_=String))
        .cte("target")
    )
    comments = cast(Table, Comment.__table__)
    versions = cast(Table, CommentVersion.__table__)
    now = bindparam("now", type_=UTCDateTime)
    # Every column given, the score too: a default left to Python would keep the
    # statement from running as the driver's prepared statement.
    body = bindparam("body", type_=Text)
    chosen = select(target.c.id, may_write, body, now, now, literal(0, Integer)).where(
        target.c.locked_at.is_(None), may_write.is_not(None)
    )
    columns = ["article_id", "author_id", "body", "created_at", "updated_at", "score"]
    added = (
        insert(comments)
        .from_select(columns, chosen)
        .returning(comments.c.id, comments.c.article_id, comments.c.author_id, comments.c.body)
        .cte("added")
    )
    first = select(
        added.c.id, added.c.article_id, literal(1, Integer), added.c.body, added.c.author_id, now
    )
    version_columns = ["comment_id", "article_id", "number", "body", "editor_id", "created_at"]
    versioned = (
        insert(versions)
        .from_select(version_columns, first)
        .returning(versions.c.comment_id)
        .cte("versioned")
    )
    recent = _thread_commenters(
        bindparam("viewer_id", type_=BigInteger), select(target.c.id).scalar_subquery()
    ).subquery("recent")
    # As text ("12,7,3"): a plain column the driver reads as it is.
    commenters = (
        select(
            func.string_agg(
                cast_(recent.c.commenter, Text),
                aggregate_order_by(literal(",", Text), recent.c.last.desc()),
            )
        )
        .scalar_subquery()
        .label("commenters")
    )
    return select(
        viewer.c.viewer_username,
        viewer.c.viewer_bio,
        viewer.c.viewer_image,
        viewer.c.viewer_role,
        viewer.c.suspended_until,
        viewer.c.suspension_reason,
        target.c.id.label("article_id"),
        target.c.author_id.label("owner"),
        target.c.locked_at.is_not(None).label("locked"),
        versioned.c.comment_id.label("comment_id"),
        commenters,
    ).select_from(viewer.outerjoin(target, true()).outerjoin(versioned, true()))


_ACCOUNT = select(
    User.username.label("viewer_username"),
    User.bio.label("viewer_bio"),
    User.image.label("viewer_image"),
    User.role.label("viewer_role"),
    User.suspended_until,
    User.suspension_reason,
).where(
    User.id == bindparam("viewer_id", type_=BigInteger),
    User.token_version == bindparam("token_version", type_=Integer),
)


def _account(row: Row, user_id: int) -> tuple[Standing, Author]:
    standing = Standing(row["suspended_until"], row["suspension_reason"])
    author = Author(
        user_id,
        row["viewer_username"],
        row["viewer_bio"],
        row["viewer_image"],
        False,
        row["viewer_role"],
    )  # nobody follows themselves
    return standing, author


async def add_as(
    session: AsyncSession, viewer: tuple[int, int], slug: str, *, body: str, now: datetime
) -> AddedAs:
    """As ``viewer`` (a token's user id and version) at ``now``, comment on the article at
    ``slug``: only for an account that exists at that version and is not suspended, on an
    article that is not locked. On PostgreSQL one statement, the request's only one
    (``write_alone``), which records the comment's version 1 too; elsewhere one after
    another in the session's transaction (the caller records the version)."""
    user_id, version = viewer
    params = {
        "viewer_id": user_id,
        "token_version": version,
        "article_slug": slug,
        "body": body,
        "now": now,
    }
    if session.get_bind().dialect.name == "postgresql":
        writes = (Comment, CommentVersion)
        rows = await write_alone(session, _add_as_statement(), params, writes=writes)
        if not rows:
            return AddedAs(None, None, None, None, locked=False)
        found = rows[0]
        standing, author = _account(found, user_id)
        if found["article_id"] is None:
            return AddedAs(standing, author, None, None, locked=False)
        joined = found["commenters"]
        thread = Thread(found["owner"], [int(c) for c in joined.split(",")] if joined else [])
        comment_id = found["comment_id"]
        added = None if comment_id is None else Added(comment_id, found["article_id"], True)
        return AddedAs(standing, author, added, thread, locked=bool(found["locked"]))
    account = await read_rows(session, _ACCOUNT, params)
    if not account:
        return AddedAs(None, None, None, None, locked=False)
    standing, author = _account(account[0], user_id)
    target = await read_rows(session, _TARGET, params)
    if not target:
        return AddedAs(standing, author, None, None, locked=False)
    article_id, owner, locked = target[0]["id"], target[0]["author_id"], bool(target[0]["locked"])
    recent = await read_rows(session, _thread_commenters(user_id, article_id), {})
    thread = Thread(owner, [row["commenter"] for row in recent])
    added = None
    if standing.may_write(now) and not locked:
        added = await add(session, slug, author_id=user_id, body=body, now=now)
    return AddedAs(standing, author, added, thread, locked=locked)


_TARGET = select(
    Article.id, Article.author_id, Article.locked_at.is_not(None).label("locked")
).where(Article.slug == bindparam("article_slug", type_=String))


async def article_is_locked(session: AsyncSession, slug: str) -> bool:
    query = select(Article.locked_at.is_not(None)).where(Article.slug == slug)
    return bool(await session.scalar(query))


@dataclass(frozen=True, slots=True)
class Locked:
    """A comment locked for a change, as the one changing it sees it."""

    comment: CommentRow
    article_id: int
    article_locked: bool


@cache
def _lock_statement() -> Any:
    viewer_id = bindparam("viewer_id", type_=BigInteger)
    # Without the viewer's vote: read after the lock, it cannot predate a vote committed
    # while this statement waited.
    return (
        select(
            *_comment_columns(viewer_id, with_vote=False),
            Comment.article_id,
            Article.locked_at.is_not(None).label("article_locked"),
        )
        .join(User, User.id == Comment.author_id)
        .join(Article, Article.id == Comment.article_id)
        .where(
            Comment.id == bindparam("comment_id", type_=BigInteger),
            Article.slug == bindparam("slug", type_=String),
        )
        # Changes to one comment (edits, votes and so its score) follow one another.
        .with_for_update(of=Comment)
    )


async def lock(
    session: AsyncSession, slug: str, comment_id: int, *, viewer_id: int
) -> Locked | None:
    """The comment ``comment_id`` of the article at ``slug``, its row locked until the
    transaction ends; None when there is no such comment there."""
    params = {"slug": slug, "comment_id": comment_id, "viewer_id": viewer_id}
    found = await read_rows(session, _lock_statement(), params)
    if not found:
        return None
    row = found[0]
    return Locked(CommentRow.from_mapping(row), row["article_id"], row["article_locked"])


_EDIT = (
    update(cast(Table, Comment.__table__))
    .where(Comment.id == bindparam("comment_id", type_=BigInteger))
    .values(body=bindparam("body", type_=Text), updated_at=bindparam("now", type_=UTCDateTime))
)


async def edit(session: AsyncSession, comment_id: int, *, body: str, now: datetime) -> None:
    params = {"comment_id": comment_id, "body": body, "now": now}
    await write_rows(session, _EDIT, params, writes=(Comment,))


_VOTE_OF = select(CommentVote.value).where(
    CommentVote.comment_id == bindparam("comment_id", type_=BigInteger),
    CommentVote.user_id == bindparam("user_id", type_=BigInteger),
)


async def vote_of(session: AsyncSession, comment_id: int, user_id: int) -> int | None:
    """The user's vote on the comment (the caller holds the comment's lock)."""
    found = await read_rows(session, _VOTE_OF, {"comment_id": comment_id, "user_id": user_id})
    return int(found[0]["value"]) if found else None


@cache
def _set_vote_statement(dialect: str) -> Any:
    insert_into = postgresql.insert if dialect == "postgresql" else sqlite.insert
    votes = cast(Table, CommentVote.__table__)
    statement = insert_into(votes).values(
        comment_id=bindparam("comment_id", type_=BigInteger),
        user_id=bindparam("user_id", type_=BigInteger),
        value=bindparam("value", type_=SmallInteger),
        created_at=bindparam("now", type_=UTCDateTime),
    )
    return statement.on_conflict_do_update(
        index_elements=[votes.c.comment_id, votes.c.user_id],
        set_={"value": statement.excluded.value, "created_at": statement.excluded.created_at},
    )


_UNVOTE = delete(cast(Table, CommentVote.__table__)).where(
    CommentVote.comment_id == bindparam("comment_id", type_=BigInteger),
    CommentVote.user_id == bindparam("user_id", type_=BigInteger),
)

_BUMP_SCORE = (
    update(cast(Table, Comment.__table__))
    .where(Comment.id == bindparam("comment_id", type_=BigInteger))
    .values(score=Comment.score + bindparam("delta", type_=Integer))
    .returning(Comment.score)
)


async def set_vote(
    session: AsyncSession, comment_id: int, user_id: int, value: int | None, now: datetime
) -> None:
    """Make the user's vote ``value`` (None: no vote); the caller holds the comment's lock
    and moves its score."""
    params: dict[str, Any] = {"comment_id": comment_id, "user_id": user_id}
    if value is None:
        await write_rows(session, _UNVOTE, params, writes=(CommentVote,))
        return
    dialect = session.get_bind().dialect.name
    params |= {"value": value, "now": now}
    await write_rows(session, _set_vote_statement(dialect), params, writes=(CommentVote,))


async def bump_score(session: AsyncSession, comment_id: int, delta: int) -> int:
    """Move the comment's score by ``delta`` (relative: never a lost update); the new one."""
    params = {"comment_id": comment_id, "delta": delta}
    moved = await write_rows(session, _BUMP_SCORE, params, writes=(Comment,))
    return int(moved[0]["score"])


async def drop_votes_of(session: AsyncSession, user_id: int) -> None:
    """Remove every vote of ``user_id``, the voted comments' scores with them."""
    mine = select(CommentVote.value).where(
        CommentVote.comment_id == Comment.id, CommentVote.user_id == user_id
    )
    voted = select(CommentVote.comment_id).where(CommentVote.user_id == user_id)
    await session.execute(
        update(Comment)
        .where(Comment.id.in_(voted))
        .values(score=Comment.score - mine.scalar_subquery())
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(CommentVote).where(CommentVote.user_id == user_id))


async def remove(session: AsyncSession, comment_id: int) -> None:
    await session.execute(delete(Comment).where(Comment.id == comment_id))


async def reassign_comments(session: AsyncSession, from_id: int, to_id: int) -> None:
    await session.execute(
        update(Comment)
        .where(Comment.author_id == from_id)
        .values(author_id=to_id)
        .execution_options(synchronize_session=False)
    )
