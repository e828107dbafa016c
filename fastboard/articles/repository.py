"""Every query on articles, tags and favorites.

Reads return ``ArticleRow`` values. A list page is one SELECT (author joined, tags one
aggregated string, the total alongside, and for a signed-in viewer their ``favorited``
and ``following`` as EXISTS columns and whether their account exists). One article is
one SELECT with the viewer's flags as EXISTS columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    any_,
    bindparam,
    delete,
    exists,
    false,
    func,
    literal_column,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from fastboard.articles.models import (
    ALL_ARTICLES,
    Article,
    ArticleCount,
    ArticleTag,
    Favorite,
    Tag,
)
from fastboard.boards.models import Board
from fastboard.db import Base, UTCDateTime, insert_ignoring_duplicates
from fastboard.fields import TAG_SEPARATOR
from fastboard.history.models import ArticleVersion
from fastboard.prepared import Row, read_rows, write_alone, write_rows
from fastboard.profiles.models import Follow
from fastboard.profiles.repository import Author, author_columns, followed_by
from fastboard.users.models import User
from fastboard.users.repository import token_account
from fastboard.users.standing import Standing


@dataclass(slots=True)
class ArticleRow:
    id: int
    slug: str
    title: str
    description: str
    body: str | None
    created_at: datetime
    updated_at: datetime
    favorites_count: int
    favorited: bool
    author: Author
    tags: list[str]
    board: str
    locked: bool

    @classmethod
    def from_mapping(cls, row: Row) -> ArticleRow:
        joined = row["tags"]
        return cls(
            row["id"],
            row["slug"],
            row["title"],
            row["description"],
            row["body"],
            row["created_at"],
            row["updated_at"],
            row["favorites_count"],
            row["favorited"],
            Author.from_mapping(row),
            # Sorted here, not in SQL: collations differ between databases, code points don't.
            sorted(joined.split(TAG_SEPARATOR)) if joined else [],
            row["board"],
            # SQLite answers IS NOT NULL with 0 or 1.
            bool(row["locked"]),
        )


@dataclass(frozen=True, slots=True)
class ViewerFlags:
    """A viewer's ``favorited`` and ``following`` for the articles of one page."""

    favorited: frozenset[int]  # article ids
    following: frozenset[int]  # author ids


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[ArticleRow]
    total: int
    # Whether the viewer's account exists; None when there is no viewer.
    viewer_found: bool | None


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    tag: str | None = None
    author: str | None = None
    favorited_by: str | None = None
    feed_of: int | None = None
    board: str | None = None  # a board's slug
    since: datetime | None = None  # created at or after
    # "new": newest first; "top": most favorited first, ties newest first.
    order: str = "new"

    def values(self) -> dict[str, Any]:
        """The filters in use, keyed by the name of their bound parameter."""
        given = {
            "tag": self.tag,
            "author": self.author,
            "favorited_by": self.favorited_by,
            "feed_of": self.feed_of,
            "board": self.board,
            "since": self.since,
        }
        return {name: value for name, value in given.items() if value is not None}


# Statements are built once per shape (which filters, whether there is a viewer) and take
# their values as bound parameters. Building a SELECT of this size costs more CPU than
# PostgreSQL spends answering it; a prebuilt one also hits the compiled-SQL cache and
# asyncpg's prepared statements directly. LIMIT and OFFSET are written into the SQL
# (``literal_execute``): a page size PostgreSQL cannot see makes it plan every execution.
_LIMIT = bindparam("limit", type_=Integer, literal_execute=True)
_OFFSET = bindparam("offset", type_=Integer, literal_execute=True)


def _viewer_id(with_viewer: bool) -> BindParameter[int] | None:
    return bindparam("viewer_id", type_=BigInteger) if with_viewer else None


def _favorited(viewer_id: BindParameter[int] | None) -> ColumnElement[bool]:
    if viewer_id is None:
        return false().label("favorited")
    favorited = exists().where(Favorite.article_id == Article.id, Favorite.user_id == viewer_id)
    return favorited.label("favorited")


def _tag_names() -> Any:
    """The article's tag names as one string: a correlated subquery, evaluated for the
    rows of the page only (``aggregate_strings`` is string_agg or group_concat)."""
    return (
        select(func.aggregate_strings(Tag.name, TAG_SEPARATOR))
        .join(ArticleTag, ArticleTag.tag_id == Tag.id)
        .where(ArticleTag.article_id == Article.id)
        .correlate(Article)
        .scalar_subquery()
        .label("tags")
    )


def _select_rows(*, with_viewer: bool, with_body: bool) -> Select[Any]:
    viewer_id = _viewer_id(with_viewer)
    columns: list[Any] = [
        Article.id,
        Article.slug,
        Article.title,
        Article.description,
        Article.body if with_body else null().label("body"),
        Article.created_at,
        Article.updated_at,
        Article.favorites_count,
        _favorited(viewer_id),
        *author_columns(Article.author_id, viewer_id),
        _tag_names(),
        Board.slug.label("board"),
        Article.locked_at.is_not(None).label("locked"),
    ]
    return (
        select(*columns)
        .join(User, User.id == Article.author_id)
        .join(Board, Board.id == Article.board_id)
    )


def _where(kinds: frozenset[str]) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if "tag" in kinds:
        tagged = select(ArticleTag.article_id).join(Tag, Tag.id == ArticleTag.tag_id)
        clauses.append(Article.id.in_(tagged.where(Tag.name == bindparam("tag", type_=String))))
    if "author" in kinds:
        clauses.append(User.username == bindparam("author", type_=String))
    if "favorited_by" in kinds:
        fan = aliased(User)
        favored = select(Favorite.article_id).join(fan, fan.id == Favorite.user_id)
        favorited_by = bindparam("favorited_by", type_=String)
        clauses.append(Article.id.in_(favored.where(fan.username == favorited_by)))
    if "feed_of" in kinds:
        feed_of = bindparam("feed_of", type_=BigInteger)
        clauses.append(Article.author_id.in_(followed_by(feed_of)))
    if "board" in kinds:
        clauses.append(Article.board_id == _board_id())
    if "since" in kinds:
        clauses.append(Article.created_at >= bindparam("since", type_=UTCDateTime))
    return clauses


def _board_id() -> Any:
    # A subquery, not the joined boards row: the count needs no join, and the page walks
    # the (board_id, created_at, id) index.
    board = bindparam("board", type_=String)
    return select(Board.id).where(Board.slug == board).scalar_subquery()


def _total(kinds: frozenset[str]) -> Select[Any]:
    """The number of articles matching ``kinds``, as a one-value SELECT."""
    # Every article, or one tag alone: a counter kept on write, one row to read, however
    # many articles there are. (A missing row reads as 0.)
    if not kinds:
        stored = select(ArticleCount.articles).where(ArticleCount.scope == ALL_ARTICLES)
        return select(func.coalesce(stored.scalar_subquery(), 0).label("total"))
    if kinds == {"tag"}:
        stored = select(Tag.articles_count).where(Tag.name == bindparam("tag", type_=String))
        return select(func.coalesce(stored.scalar_subquery(), 0).label("total"))
    if kinds == {"board"}:
        stored = select(Board.articles_count).where(Board.slug == bindparam("board", type_=String))
        return select(func.coalesce(stored.scalar_subquery(), 0).label("total"))
    # The other filters select a few users' articles: counting them reads that much only.
    count = select(func.count().label("total")).select_from(Article)
    # Only the author filter needs the users table; without it the count is an
    # index-only scan of articles.
    if "author" in kinds:
        count = count.join(User, User.id == Article.author_id)
    return count.where(*_where(kinds))


def _viewer_found() -> Select[Any]:
    """Whether the viewer's account exists at the token's version, as a one-value SELECT."""
    # Aliased: inside a page, which joins users as authors, it must not be correlated.
    viewer = aliased(User)
    found = exists().where(
        viewer.id == bindparam("viewer_id", type_=BigInteger),
        viewer.token_version == bindparam("token_version", type_=Integer),
    )
    return select(found.label("viewer_found"))


ORDERS = ("new", "top")


def _order(order: str) -> list[Any]:
    newest = [Article.created_at.desc(), Article.id.desc()]
    return [Article.favorites_count.desc(), *newest] if order == "top" else newest


@cache
def _page_statement(kinds: frozenset[str], *, with_viewer: bool, order: str) -> Select[Any]:
    # The total (and whether the viewer exists) ride along as uncorrelated scalar
    # subqueries, which the database evaluates once: a page costs one round trip.
    total = _total(kinds).correlate(None).scalar_subquery().label("total")
    page = _select_rows(with_viewer=with_viewer, with_body=False).add_columns(total)
    if with_viewer:
        page = page.add_columns(_viewer_found().scalar_subquery().label("viewer_found"))
    return page.where(*_where(kinds)).order_by(*_order(order)).limit(_LIMIT).offset(_OFFSET)


_total_statement = cache(_total)


@cache
def _row_statement(*, with_viewer: bool) -> Select[Any]:
    return _select_rows(with_viewer=with_viewer, with_body=True).where(
        Article.slug == bindparam("slug", type_=String)
    )


@cache
def _flags_statement(dialect: str) -> Any:
    viewer_id = bindparam("viewer_id", type_=BigInteger)
    # Kind 0 is the viewer's own row: that the account exists, at the token's version,
    # rides along with the flags.
    token_version = bindparam("token_version", type_=Integer)
    viewer: Any = select(User.id.label("key"), literal_column("0").label("kind")).where(
        User.id == viewer_id, User.token_version == token_version
    )
    article_ids: Any
    author_ids: Any
    if dialect == "postgresql":
        # Arrays, not lists expanded per call: the statement's SQL is the same for every
        # page, so it runs as the driver's prepared statement.
        article_ids = any_(bindparam("article_ids", type_=postgresql.ARRAY(BigInteger)))
        author_ids = any_(bindparam("author_ids", type_=postgresql.ARRAY(BigInteger)))
        favorite_of = Favorite.article_id == article_ids
        follows = Follow.followee_id == author_ids
    else:
        favorite_of = Favorite.article_id.in_(bindparam("article_ids", expanding=True))
        follows = Follow.followee_id.in_(bindparam("author_ids", expanding=True))
    favorited: Any = select(Favorite.article_id, literal_column("1")).where(
        Favorite.user_id == viewer_id, favorite_of
    )
    following: Any = select(Follow.followee_id, literal_column("2")).where(
        Follow.follower_id == viewer_id, follows
    )
    return viewer.union_all(favorited, following)


async def list_page(
    session: AsyncSession,
    filters: ArticleFilter,
    *,
    limit: int,
    offset: int,
    viewer: tuple[int, int] | None,
) -> Page:
    """One page in the filter's order, as ``viewer`` (a token's user id and version) sees
    it, and the total count: one statement (two past the end of the list, three with a viewer).
    The page also says whether the viewer's account exists at that version."""
    values = filters.values()
    kinds = frozenset(values)
    params = {**values, "limit": limit, "offset": offset}
    viewing = {} if viewer is None else {"viewer_id": viewer[0], "token_version": viewer[1]}
    statement = _page_statement(kinds, with_viewer=viewer is not None, order=filters.order)
    rows = await read_rows(session, statement, {**params, **viewing})
    if rows:
        found = rows[0]["viewer_found"] if viewer is not None else None
        return Page([ArticleRow.from_mapping(row) for row in rows], rows[0]["total"], found)
    # Past the end, or nothing matches: no row carried the total, nor the viewer.
    total = (await read_rows(session, _total_statement(kinds), values))[0]["total"]
    if viewer is None:
        return Page([], total, None)
    found = await read_rows(session, _VIEWER_FOUND, viewing)
    return Page([], total, found[0]["viewer_found"])


async def viewer_flags(
    session: AsyncSession, viewer_id: int, token_version: int, shown: Sequence[tuple[int, int]]
) -> ViewerFlags | None:
    """Which of a page's articles the viewer favorited and which of their authors they
    follow, the page known by its (article id, author id) pairs: one statement over three
    primary keys. None when the viewer's account does not exist (any more) or has moved
    past ``token_version``."""
    params = {
        "viewer_id": viewer_id,
        "token_version": token_version,
        "article_ids": [article_id for article_id, _ in shown],
        "author_ids": list({author_id for _, author_id in shown}),
    }
    statement = _flags_statement(session.get_bind().dialect.name)
    found = [(row["key"], row["kind"]) for row in await read_rows(session, statement, params)]
    if not any(kind == 0 for _, kind in found):
        return None
    favorited = frozenset[int](key for key, kind in found if kind == 1)
    return ViewerFlags(favorited, frozenset(key for key, kind in found if kind == 2))


_VIEWER_FOUND = _viewer_found()


async def get_row(session: AsyncSession, slug: str, *, viewer_id: int | None) -> ArticleRow | None:
    params: dict[str, Any] = {"slug": slug}
    if viewer_id is not None:
        params["viewer_id"] = viewer_id
    found = await read_rows(session, _row_statement(with_viewer=viewer_id is not None), params)
    return ArticleRow.from_mapping(found[0]) if found else None


async def get_by_slug(
    session: AsyncSession, slug: str, *, for_update: bool = False
) -> Article | None:
    """The article at ``slug``; ``for_update`` locks its row until the transaction ends,
    so that changes to one article's tags and counters follow one another."""
    query = select(Article).where(Article.slug == slug)
    return await session.scalar(query.with_for_update() if for_update else query)


async def id_for_slug(session: AsyncSession, slug: str) -> int | None:
    return await session.scalar(select(Article.id).where(Article.slug == slug))


async def fresh_id(session: AsyncSession) -> int | None:
    """On SQLite, the next id past every article id there is or was (None elsewhere).

    SQLite gives the largest rowid again once its row is deleted, and a deleted article's
    history keeps its id; PostgreSQL's sequence never gives one twice. (SQLite lets one
    writer in at a time: nobody takes the id meanwhile.)
    """
    if session.get_bind().dialect.name != "sqlite":
        return None
    used = func.max(
        func.coalesce(select(func.max(Article.id)).scalar_subquery(), 0),
        func.coalesce(select(func.max(ArticleVersion.article_id)).scalar_subquery(), 0),
    )
    return int(await session.scalar(select(used + 1)) or 1)


async def slug_exists(session: AsyncSession, slug: str) -> bool:
    return bool(await session.scalar(select(exists().where(Article.slug == slug))))


async def save(session: AsyncSession, article: Article) -> Article:
    """Insert or update in a savepoint: a slug collision raises IntegrityError while the
    request's transaction stays usable, so the caller can retry with another slug."""
    async with session.begin_nested():
        session.add(article)
    return article


async def count_added(session: AsyncSession) -> None:
    """Count one more article (call it once the article is inserted)."""
    await _bump_total(session, +1)


async def remove(session: AsyncSession, article_id: int) -> None:
    """Delete the article; its tag links, favorites and comments go with it (cascade)."""
    tag_ids = select(ArticleTag.tag_id).where(ArticleTag.article_id == article_id)
    await _bump_tags(session, tag_ids, -1)
    await session.execute(delete(Article).where(Article.id == article_id))
    await _bump_total(session, -1)


async def _bump_total(session: AsyncSession, delta: int) -> None:
    # An upsert: the row may be missing (a table emptied by hand), never a lost count.
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ArticleCount).values(scope=ALL_ARTICLES, articles=max(delta, 0))
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ArticleCount.scope],
            set_={"articles": ArticleCount.articles + delta},
        )
    )


async def _link_tags(session: AsyncSession, article_id: int, names: Sequence[str]) -> None:
    """Link the article to tags it does not carry yet, creating missing tags."""
    if not names:
        return
    # Sorted: concurrent transactions creating the same new tags lock them in one order,
    # so they cannot deadlock on PostgreSQL.
    await insert_ignoring_duplicates(session, Tag, [{"name": name} for name in sorted(names)])
    found = await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names)))
    ids: dict[str, int] = dict(found.all())
    links = [{"article_id": article_id, "tag_id": ids[name]} for name in names]
    await insert_ignoring_duplicates(session, ArticleTag, links)
    await _bump_tags(session, list(ids.values()), +1)


async def set_tags(session: AsyncSession, article_id: int, names: Sequence[str]) -> None:
    """Give the article exactly the tags ``names``, creating missing tags, and keep the
    tags' counts in step. The caller holds the article's row lock (or created it)."""
    linked = select(Tag.name, Tag.id).join(ArticleTag, ArticleTag.tag_id == Tag.id)
    current: dict[str, int] = dict(
        (await session.execute(linked.where(ArticleTag.article_id == article_id))).all()
    )
    dropped = [tag_id for name, tag_id in current.items() if name not in names]
    if dropped:
        await session.execute(
            delete(ArticleTag).where(
                ArticleTag.article_id == article_id, ArticleTag.tag_id.in_(dropped)
            )
        )
        await _bump_tags(session, dropped, -1)
    await _link_tags(session, article_id, [name for name in names if name not in current])


async def _bump_tags(session: AsyncSession, tag_ids: Any, delta: int) -> None:
    # Relative update: concurrent articles under one tag never lose a count.
    await session.execute(
        update(Tag)
        .where(Tag.id.in_(tag_ids))
        .values(articles_count=Tag.articles_count + delta)
        .execution_options(synchronize_session=False)
    )


_POPULAR_TAGS = (
    select(Tag.name)
    .where(Tag.articles_count > 0)
    .order_by(Tag.articles_count.desc(), Tag.name)
    .limit(bindparam("limit", type_=Integer))
)


async def popular_tags(session: AsyncSession, limit: int) -> list[str]:
    return [row["name"] for row in await read_rows(session, _POPULAR_TAGS, {"limit": limit})]


def _table(model: type[Base]) -> Table:
    # Table-level statements: given a dict of parameters, the ORM would take it for rows.
    return cast(Table, model.__table__)


def id_at_slug() -> Select[Any]:
    """The id of the article at the bound parameter ``article_slug``, for statements to
    embed. (Not ``slug``: in an UPDATE of articles that name is the column's own.)"""
    return select(Article.id).where(Article.slug == bindparam("article_slug", type_=String))


@cache
def _favorite_statement(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # The article is found by its slug inside the INSERT: no lookup of its own.
    now = bindparam("now", type_=UTCDateTime)
    chosen = id_at_slug().add_columns(bindparam("user_id", type_=BigInteger), now)
    columns = [Favorite.article_id, Favorite.user_id, Favorite.created_at]
    return (
        insert(_table(Favorite))
        .from_select(columns, chosen)
        .on_conflict_do_nothing()
        .returning(Favorite.article_id)
    )


@cache
def _unfavorite_statement() -> Any:
    return (
        delete(_table(Favorite))
        .where(
            Favorite.user_id == bindparam("user_id", type_=BigInteger),
            Favorite.article_id == id_at_slug().scalar_subquery(),
        )
        .returning(Favorite.article_id)
    )


@cache
def _counted_statement(toggle: Any, delta: int) -> Any:
    """``toggle`` (returning the article's id when it changed a row) and the article's
    counter moved by ``delta`` in one statement: PostgreSQL runs DML in a WITH."""
    changed = toggle.cte("changed")
    articles = _table(Article)
    return (
        update(articles)
        .where(articles.c.id.in_(select(changed.c.article_id)))
        .values(favorites_count=articles.c.favorites_count + delta)
        .returning(articles.c.id)
    )


async def _toggle(
    session: AsyncSession, toggle: Any, params: dict[str, Any], delta: int
) -> int | None:
    """The article's id when ``toggle`` changed a row, its counter moved along."""
    if session.get_bind().dialect.name == "postgresql":
        # One round trip instead of two.
        statement = _counted_statement(toggle, delta)
        moved = await write_rows(session, statement, params, writes=(Favorite, Article))
        return int(moved[0]["id"]) if moved else None
    article_id: int | None = (await session.execute(toggle, params)).scalar()
    if article_id is not None:
        # Relative update: concurrent favorites of one article never lose a count.
        await session.execute(_BUMP_FAVORITES, {"article_id": article_id, "delta": delta})
    return article_id


async def favorite(session: AsyncSession, user_id: int, slug: str, now: datetime) -> int | None:
    """Favorite the article at ``slug`` unless already done (or there is no such article);
    the article's id when a favorite was added."""
    dialect = session.get_bind().dialect.name
    params = {"user_id": user_id, "article_slug": slug, "now": now}
    return await _toggle(session, _favorite_statement(dialect), params, +1)


async def unfavorite(session: AsyncSession, user_id: int, slug: str) -> int | None:
    """The article's id when a favorite was removed."""
    params = {"user_id": user_id, "article_slug": slug}
    return await _toggle(session, _unfavorite_statement(), params, -1)


@dataclass(slots=True)
class Toggled:
    """What a favorite or unfavorite found and did, read in the statement that did it."""

    # The token's account at the token's version, None when there is none: then, as when
    # it is suspended, nothing was written.
    standing: Standing | None
    # The article as its viewer sees it afterwards; None when there is none at the slug.
    article: ArticleRow | None
    changed: bool  # whether a favorite was added or removed


@cache
def _toggled_statement(*, on: bool) -> Any:
    """PostgreSQL: the viewer's account checked, the favorite added (``on``) or removed
    and the article's counter moved (all only if the account may write), and the article
    read as the viewer sees it, in one statement.

    Every part of a statement sees the tables as they were when it began, so the article
    row reads the counter that the UPDATE's RETURNING gives where it moved; ``favorited``
    is what the write made it, which the service knows.
    """
    viewer = token_account()
    may_write = select(viewer.c.viewer_id).where(viewer.c.allowed).scalar_subquery()
    article_id = id_at_slug().scalar_subquery()
    favorites = _table(Favorite)
    toggle: Any
    if on:
        chosen = select(article_id, may_write, bindparam("now", type_=UTCDateTime)).where(
            article_id.is_not(None), may_write.is_not(None)
        )
        toggle = (
            postgresql.insert(favorites)
            .from_select(
                [favorites.c.article_id, favorites.c.user_id, favorites.c.created_at], chosen
            )
            .on_conflict_do_nothing()
        )
    else:
        toggle = delete(favorites).where(
            favorites.c.user_id == may_write, favorites.c.article_id == article_id
        )
    changed = toggle.returning(favorites.c.article_id).cte("changed")
    articles = _table(Article)
    counted = (
        update(articles)
        .where(articles.c.id.in_(select(changed.c.article_id)))
        .values(favorites_count=articles.c.favorites_count + (1 if on else -1))
        .returning(articles.c.id, articles.c.favorites_count)
        .cte("counted")
    )
    row = (
        _select_rows(with_viewer=True, with_body=True)
        .add_columns(counted.c.favorites_count.label("counted"))
        .outerjoin(counted, counted.c.id == Article.id)
        .where(Article.slug == bindparam("article_slug", type_=String))
        .subquery("row")
    )
    return select(viewer.c.suspended_until, viewer.c.suspension_reason, row).select_from(
        viewer.outerjoin(row, true())
    )


async def toggle_favorite(
    session: AsyncSession, viewer: tuple[int, int], slug: str, *, on: bool, now: datetime
) -> Toggled:
    """As ``viewer`` (a token's user id and version) at ``now``, favorite (``on``) or
    unfavorite the article at ``slug``: only when the account exists at that version and
    is not suspended, and only once. On PostgreSQL one statement, the request's only one
    (``write_alone``); elsewhere the account, the write and the article one after another
    in the session's transaction."""
    user_id, version = viewer
    params = {"viewer_id": user_id, "token_version": version, "article_slug": slug, "now": now}
    if session.get_bind().dialect.name == "postgresql":
        rows = await write_alone(
            session, _toggled_statement(on=on), params, writes=(Favorite, Article)
        )
        if not rows:
            return Toggled(None, None, changed=False)
        found = rows[0]
        standing = Standing(found["suspended_until"], found["suspension_reason"])
        if found["id"] is None:
            return Toggled(standing, None, changed=False)
        article = ArticleRow.from_mapping(found)
        moved = found["counted"] is not None
        if moved:
            article.favorites_count = found["counted"]
        if standing.may_write(now):
            article.favorited = on
        return Toggled(standing, article, changed=moved)
    account = await read_rows(session, _STANDING, params)
    if not account:
        return Toggled(None, None, changed=False)
    standing = Standing(account[0]["suspended_until"], account[0]["suspension_reason"])
    article_id = None
    if standing.may_write(now):
        if on:
            article_id = await favorite(session, user_id, slug, now)
        else:
            article_id = await unfavorite(session, user_id, slug)
    row = await get_row(session, slug, viewer_id=user_id)
    return Toggled(standing, row, changed=article_id is not None)


_STANDING = select(User.suspended_until, User.suspension_reason).where(
    User.id == bindparam("viewer_id", type_=BigInteger),
    User.token_version == bindparam("token_version", type_=Integer),
)  # SQLite's path: the account alone, before the write


_BUMP_FAVORITES = (
    update(_table(Article))
    .where(Article.id == bindparam("article_id", type_=BigInteger))
    .values(favorites_count=Article.favorites_count + bindparam("delta", type_=Integer))
)


async def drop_favorites_of(session: AsyncSession, user_id: int) -> None:
    """Remove every favorite of ``user_id``, the favorited articles' counts with them."""
    favorited = select(Favorite.article_id).where(Favorite.user_id == user_id)
    await session.execute(
        update(Article)
        .where(Article.id.in_(favorited))
        .values(favorites_count=Article.favorites_count - 1)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(Favorite).where(Favorite.user_id == user_id))


async def reassign_articles(session: AsyncSession, from_id: int, to_id: int) -> None:
    await session.execute(
        update(Article)
        .where(Article.author_id == from_id)
        .values(author_id=to_id)
        .execution_options(synchronize_session=False)
    )


def select_article_rows(*, with_viewer: bool) -> Select[Any]:
    """Articles as ``ArticleRow`` reads them, body included (author, board, tags, and the
    viewer's flags on the bound parameter ``viewer_id``), for another domain's list to
    filter and order: search."""
    return _select_rows(with_viewer=with_viewer, with_body=True)
