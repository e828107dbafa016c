"""Article rules: slugs, ownership, favorites. No FastAPI here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.articles import repository, slugs
from fastboard.articles.models import Article
from fastboard.articles.repository import ArticleFilter, ArticleRow
from fastboard.articles.schemas import NewArticle, UpdateArticle
from fastboard.db import utcnow
from fastboard.errors import Forbidden, Invalid, NotFound, Unauthorized
from fastboard.fields import iso_millis
from fastboard.profiles.service import profile_json
from fastboard.users.models import User

SLUG_ATTEMPTS = 5
POPULAR_TAGS = 200

# Articles leave the service as plain values shaped as the wire models ``ArticleSummary``
# and ``Article`` (articles.schemas), keys in their order: routers write them out as JSON
# as they are.
ArticleJSON = dict[str, Any]


def _summary_json(row: ArticleRow) -> ArticleJSON:
    return {
        "slug": row.slug,
        "title": row.title,
        "description": row.description,
        "tagList": row.tags,
        "createdAt": iso_millis(row.created_at),
        "updatedAt": iso_millis(row.updated_at),
        "favorited": row.favorited,
        "favoritesCount": row.favorites_count,
        "author": profile_json(row.author, following=row.author.following),
    }


def _article_json(row: ArticleRow) -> ArticleJSON:
    article = _summary_json(row)
    article["body"] = row.body or ""
    return article


async def list_articles(
    session: AsyncSession,
    filters: ArticleFilter,
    viewer_id: int | None,
    *,
    limit: int,
    offset: int,
) -> tuple[list[ArticleJSON], int]:
    """A page as the viewer sees it. ``viewer_id`` comes from a valid token: the page's
    query also checks that the account exists."""
    page = await repository.list_page(
        session, filters, limit=limit, offset=offset, viewer_id=viewer_id
    )
    if page.viewer_found is False:
        # What fastboard.auth answers for a token whose user it cannot find.
        raise Unauthorized("token is invalid or has expired", field="token")
    return [_summary_json(row) for row in page.rows], page.total


async def get(session: AsyncSession, slug: str, viewer: User | None) -> ArticleJSON:
    row = await repository.get_row(session, slug, viewer_id=viewer.id if viewer else None)
    if row is None:
        raise NotFound("article not found", field="article")
    return _article_json(row)


async def _owned(session: AsyncSession, slug: str, user: User) -> Article:
    article = await repository.get_by_slug(session, slug, for_update=True)
    if article is None:
        raise NotFound("article not found", field="article")
    if article.author_id != user.id:
        raise Forbidden("only the author may change this article", field="article")
    return article


async def _save(session: AsyncSession, article: Article, changes: dict[str, Any]) -> None:
    """Apply ``changes`` and save; a new title gets a new unique slug.

    Two concurrent articles with the same title both succeed: the loser of the race hits
    the unique constraint inside a savepoint and retries with a suffixed slug. A rolled
    back savepoint expires what it flushed, so every attempt re-applies ``changes``.
    """
    title = changes.get("title")
    if title is None:
        _apply(article, changes)
        await repository.save(session, article)
        return
    base = slugs.base_slug(title)
    candidate = base
    if candidate != article.slug and await repository.slug_exists(session, candidate):
        candidate = slugs.with_suffix(base)
    for _ in range(SLUG_ATTEMPTS):
        _apply(article, {**changes, "slug": candidate})
        try:
            await repository.save(session, article)
        except IntegrityError:
            candidate = slugs.with_suffix(base)
            continue
        return
    raise Invalid("could not find a free slug for this title, try another", field="title")


def _apply(article: Article, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(article, name, value)


async def create(session: AsyncSession, data: NewArticle, author: User) -> ArticleJSON:
    now = utcnow()
    article = Article(author_id=author.id, favorites_count=0)
    changes = {
        "title": data.title,
        "description": data.description,
        "body": data.body,
        "created_at": now,
        "updated_at": now,
    }
    await _save(session, article, changes)
    await repository.count_added(session)
    await repository.set_tags(session, article.id, data.tagList)
    return await get(session, article.slug, author)


async def update(session: AsyncSession, slug: str, data: UpdateArticle, user: User) -> ArticleJSON:
    article = await _owned(session, slug, user)
    given = data.model_dump(exclude_unset=True, exclude_none=True)
    tags = given.pop("tagList", None)
    if not given and tags is None:
        raise Invalid("at least one field is required", field="article")
    if given.get("title") == article.title:
        del given["title"]
    await _save(session, article, {**given, "updated_at": utcnow()})
    if tags is not None:
        await repository.set_tags(session, article.id, tags)
    return await get(session, article.slug, user)


async def delete(session: AsyncSession, slug: str, user: User) -> None:
    article = await _owned(session, slug, user)
    await repository.remove(session, article.id)


async def article_id(session: AsyncSession, slug: str) -> int:
    """The id of the article at ``slug``; raises NotFound."""
    found = await repository.id_for_slug(session, slug)
    if found is None:
        raise NotFound("article not found", field="article")
    return found


async def favorite(session: AsyncSession, slug: str, user: User) -> ArticleJSON:
    # No lookup first: a missing article favorites nothing, and reading it answers 404.
    await repository.favorite(session, user.id, slug, utcnow())
    return await get(session, slug, user)


async def unfavorite(session: AsyncSession, slug: str, user: User) -> ArticleJSON:
    await repository.unfavorite(session, user.id, slug)
    return await get(session, slug, user)


async def popular_tags(session: AsyncSession) -> list[str]:
    return await repository.popular_tags(session, POPULAR_TAGS)
