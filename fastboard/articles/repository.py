"""Every query on articles, tags and favorites.

Reads return ``ArticleRow`` values built from one SELECT: the author is joined, the
viewer's ``favorited`` and ``following`` are EXISTS columns and the tags one aggregated
string, and a list page carries its total count. A page of any size is one statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, exists, false, func, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from fastboard.articles.models import Article, ArticleTag, Favorite, Tag
from fastboard.db import insert_ignoring_duplicates
from fastboard.profiles.models import Follow
from fastboard.types import TAG_SEPARATOR
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
    author_id: int
    author_username: str
    author_bio: str
    author_image: str | None
    favorited: bool
    following: bool
    tags: list[str]

    @classmethod
    def from_mapping(cls, row: Mapping[Any, Any]) -> ArticleRow:
        values = {name: row[name] for name in _ROW_FIELDS}
        joined = row["tags"]
        # Sorted here, not in SQL: collations differ between databases, code points don't.
        values["tags"] = sorted(joined.split(TAG_SEPARATOR)) if joined else []
        return cls(**values)


_ROW_FIELDS = tuple(name for name in ArticleRow.__slots__ if name != "tags")


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    tag: str | None = None
    author: str | None = None
    favorited_by: str | None = None
    feed_of: int | None = None


def _viewer_columns(viewer_id: int | None) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    if viewer_id is None:
        return false().label("favorited"), false().label("following")
    favorited = exists().where(Favorite.article_id == Article.id, Favorite.user_id == viewer_id)
    following = exists().where(
        Follow.follower_id == viewer_id, Follow.followee_id == Article.author_id
    )
    return favorited.label("favorited"), following.label("following")


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


def _select_rows(viewer_id: int | None, *, with_body: bool) -> Select[Any]:
    favorited, following = _viewer_columns(viewer_id)
    columns: list[Any] = [
        Article.id,
        Article.slug,
        Article.title,
        Article.description,
        Article.body if with_body else null().label("body"),
        Article.created_at,
        Article.updated_at,
        Article.favorites_count,
        Article.author_id,
        User.username.label("author_username"),
        User.bio.label("author_bio"),
        User.image.label("author_image"),
        favorited,
        following,
        _tag_names(),
    ]
    return select(*columns).join(User, User.id == Article.author_id)


def _where(filters: ArticleFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if filters.tag is not None:
        tagged = select(ArticleTag.article_id).join(Tag, Tag.id == ArticleTag.tag_id)
        clauses.append(Article.id.in_(tagged.where(Tag.name == filters.tag)))
    if filters.author is not None:
        clauses.append(User.username == filters.author)
    if filters.favorited_by is not None:
        fan = aliased(User)
        favored = select(Favorite.article_id).join(fan, fan.id == Favorite.user_id)
        clauses.append(Article.id.in_(favored.where(fan.username == filters.favorited_by)))
    if filters.feed_of is not None:
        followed = select(Follow.followee_id).where(Follow.follower_id == filters.feed_of)
        clauses.append(Article.author_id.in_(followed))
    return clauses


async def list_page(
    session: AsyncSession,
    filters: ArticleFilter,
    *,
    viewer_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[ArticleRow], int]:
    """One page, newest first, and the total count: one statement."""
    clauses = _where(filters)
    # The total rides along as an uncorrelated scalar subquery, which the database
    # evaluates once: the page and its count cost one round trip.
    total = _count(filters).where(*clauses).correlate(None).scalar_subquery().label("total")
    query = (
        _select_rows(viewer_id, with_body=False)
        .add_columns(total)
        .where(*clauses)
        .order_by(Article.created_at.desc(), Article.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = (await session.execute(query)).mappings().all()
    if not rows:
        # Past the end, or nothing matches: no row carried the total.
        return [], await session.scalar(_count(filters).where(*clauses)) or 0
    return [ArticleRow.from_mapping(row) for row in rows], int(rows[0]["total"])


def _count(filters: ArticleFilter) -> Select[Any]:
    count = select(func.count()).select_from(Article)
    # Only the author filter needs the users table; without it the count is an
    # index-only scan of articles.
    if filters.author is not None:
        count = count.join(User, User.id == Article.author_id)
    return count


async def get_row(session: AsyncSession, slug: str, *, viewer_id: int | None) -> ArticleRow | None:
    query = _select_rows(viewer_id, with_body=True).where(Article.slug == slug)
    found = (await session.execute(query)).mappings().first()
    return None if found is None else ArticleRow.from_mapping(found)


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
