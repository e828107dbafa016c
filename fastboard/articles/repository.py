"""Every query on articles, tags and favorites.

Reads return ``ArticleRow`` values built from one SELECT: the author is joined, the
viewer's ``favorited`` and ``following`` are EXISTS columns and the tags one aggregated
string, and a list page carries its total count. A page of any size is one statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    delete,
    exists,
    false,
    func,
    null,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from fastboard.articles.models import Article, ArticleTag, Favorite, Tag
from fastboard.db import insert_ignoring_duplicates
from fastboard.fields import TAG_SEPARATOR
from fastboard.profiles.repository import Author, author_columns, followed_by
from fastboard.users.models import User


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

    @classmethod
    def from_mapping(cls, row: Mapping[Any, Any]) -> ArticleRow:
        values = {name: row[name] for name in _ROW_FIELDS}
        joined = row["tags"]
        # Sorted here, not in SQL: collations differ between databases, code points don't.
        values["tags"] = sorted(joined.split(TAG_SEPARATOR)) if joined else []
        return cls(**values, author=Author.from_mapping(row))


_ROW_FIELDS = tuple(name for name in ArticleRow.__slots__ if name not in ("author", "tags"))


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    tag: str | None = None
    author: str | None = None
    favorited_by: str | None = None
    feed_of: int | None = None

    def values(self) -> dict[str, Any]:
        """The filters in use, keyed by the name of their bound parameter."""
        given = {
            "tag": self.tag,
            "author": self.author,
            "favorited_by": self.favorited_by,
            "feed_of": self.feed_of,
        }
        return {name: value for name, value in given.items() if value is not None}


# Statements are built once per shape (which filters, whether there is a viewer) and take
# their values as bound parameters. Building a SELECT of this size costs more CPU than
# PostgreSQL spends answering it; a prebuilt one also hits the compiled-SQL cache and
# asyncpg's prepared statements directly.
_LIMIT = bindparam("limit", type_=Integer)
_OFFSET = bindparam("offset", type_=Integer)


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
    ]
    return select(*columns).join(User, User.id == Article.author_id)


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
    return clauses


def _count(kinds: frozenset[str]) -> Select[Any]:
    count = select(func.count()).select_from(Article)
    # Only the author filter needs the users table; without it the count is an
    # index-only scan of articles.
    if "author" in kinds:
        count = count.join(User, User.id == Article.author_id)
    return count.where(*_where(kinds))


@cache
def _page_statement(kinds: frozenset[str], *, with_viewer: bool) -> Select[Any]:
    # The total rides along as an uncorrelated scalar subquery, which the database
    # evaluates once: the page and its count cost one round trip.
    total = _count(kinds).correlate(None).scalar_subquery().label("total")
    return (
        _select_rows(with_viewer=with_viewer, with_body=False)
        .add_columns(total)
        .where(*_where(kinds))
        .order_by(Article.created_at.desc(), Article.id.desc())
        .limit(_LIMIT)
        .offset(_OFFSET)
    )


_count_statement = cache(_count)


@cache
def _row_statement(*, with_viewer: bool) -> Select[Any]:
    return _select_rows(with_viewer=with_viewer, with_body=True).where(
        Article.slug == bindparam("slug", type_=String)
    )


async def _read(
    session: AsyncSession, statement: Select[Any], params: dict[str, Any]
) -> Sequence[RowMapping]:
    # Core execution on the session's connection (same transaction): these statements
    # return plain columns, so the ORM's result machinery would only add CPU.
    connection = await session.connection()
    rows: Sequence[RowMapping] = (await connection.execute(statement, params)).mappings().all()
    return rows


async def list_page(
    session: AsyncSession,
    filters: ArticleFilter,
    *,
    viewer_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[ArticleRow], int]:
    """One page, newest first, and the total count: one statement."""
    values = filters.values()
    kinds = frozenset(values)
    params = {**values, "limit": limit, "offset": offset}
    if viewer_id is not None:
        params["viewer_id"] = viewer_id
    statement = _page_statement(kinds, with_viewer=viewer_id is not None)
    rows = await _read(session, statement, params)
    if not rows:
        # Past the end, or nothing matches: no row carried the total.
        return [], await session.scalar(_count_statement(kinds), values) or 0
    return [ArticleRow.from_mapping(row) for row in rows], int(rows[0]["total"])


async def get_row(session: AsyncSession, slug: str, *, viewer_id: int | None) -> ArticleRow | None:
    params: dict[str, Any] = {"slug": slug}
    if viewer_id is not None:
        params["viewer_id"] = viewer_id
    found = await _read(session, _row_statement(with_viewer=viewer_id is not None), params)
    return ArticleRow.from_mapping(found[0]) if found else None


async def get_by_slug(session: AsyncSession, slug: str) -> Article | None:
    return await session.scalar(select(Article).where(Article.slug == slug))


async def id_for_slug(session: AsyncSession, slug: str) -> int | None:
    return await session.scalar(select(Article.id).where(Article.slug == slug))


async def slug_exists(session: AsyncSession, slug: str) -> bool:
    return bool(await session.scalar(select(exists().where(Article.slug == slug))))


async def save(session: AsyncSession, article: Article) -> Article:
    """Insert or update in a savepoint: a slug collision raises IntegrityError while the
    request's transaction stays usable, so the caller can retry with another slug."""
    async with session.begin_nested():
        session.add(article)
    return article


async def remove(session: AsyncSession, article_id: int) -> None:
    await session.execute(delete(Article).where(Article.id == article_id))


async def set_tags(session: AsyncSession, article_id: int, names: Sequence[str]) -> None:
    """Replace an article's tags, creating missing tags (three statements at most)."""
    await session.execute(delete(ArticleTag).where(ArticleTag.article_id == article_id))
    if not names:
        return
    # Sorted: concurrent transactions creating the same new tags lock them in one order,
    # so they cannot deadlock on PostgreSQL.
    await insert_ignoring_duplicates(session, Tag, [{"name": name} for name in sorted(names)])
    found = await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names)))
    ids: dict[str, int] = dict(found.all())
    links = [{"article_id": article_id, "tag_id": ids[name]} for name in names]
    await insert_ignoring_duplicates(session, ArticleTag, links)


async def popular_tags(session: AsyncSession, limit: int) -> list[str]:
    query = (
        select(Tag.name)
        .join(ArticleTag, ArticleTag.tag_id == Tag.id)
        .group_by(Tag.name)
        .order_by(func.count().desc(), Tag.name)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def favorite(session: AsyncSession, user_id: int, article_id: int) -> None:
    inserted = await insert_ignoring_duplicates(
        session, Favorite, [{"user_id": user_id, "article_id": article_id}]
    )
    if inserted:
        await _bump_favorites(session, article_id, +1)


async def unfavorite(session: AsyncSession, user_id: int, article_id: int) -> None:
    result: Any = await session.execute(
        delete(Favorite).where(Favorite.user_id == user_id, Favorite.article_id == article_id)
    )
    if result.rowcount:
        await _bump_favorites(session, article_id, -1)


async def _bump_favorites(session: AsyncSession, article_id: int, delta: int) -> None:
    # Relative update: concurrent favorites of one article never lose a count.
    await session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(favorites_count=Article.favorites_count + delta)
        .execution_options(synchronize_session=False)
    )
