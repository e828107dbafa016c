"""Article rules: slugs, ownership, favorites. No FastAPI here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard import cache
from fastboard.articles import cache_keys as keys
from fastboard.articles import repository, slugs
from fastboard.articles.models import Article, ArticleCount, ArticleTag, Favorite, Tag
from fastboard.articles.repository import ArticleFilter, ArticleRow
from fastboard.articles.schemas import NewArticle, UpdateArticle
from fastboard.boards import cache_keys as board_keys
from fastboard.boards import service as boards
from fastboard.cache import CachedAnswer
from fastboard.comments.cache_keys import comments_on
from fastboard.db import changed, utcnow
from fastboard.errors import Forbidden, Invalid, NotFound, Unauthorized
from fastboard.fields import iso_millis
from fastboard.history import service as history
from fastboard.history.models import ArticleVersion
from fastboard.live import events as live
from fastboard.moderation import service as moderation
from fastboard.moderation.models import Action, Target
from fastboard.profiles.cache_keys import follows_of
from fastboard.profiles.service import profile_json
from fastboard.security import VerifiedToken
from fastboard.users import cache_keys as user_keys
from fastboard.users.models import User
from fastboard.users.standing import admit

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
        "board": row.board,
    }


def _article_json(row: ArticleRow) -> ArticleJSON:
    article = _summary_json(row)
    article["body"] = row.body or ""
    article["locked"] = row.locked
    return article


async def list_articles(
    session: AsyncSession,
    filters: ArticleFilter,
    token: VerifiedToken | None,
    *,
    limit: int,
    offset: int,
) -> tuple[list[ArticleJSON], int]:
    """A page as the viewer sees it. ``token`` is a valid token's claims: the page's
    query also checks that the account exists at its version."""
    viewer = None if token is None else (token.user_id, token.version)
    page = await repository.list_page(session, filters, limit=limit, offset=offset, viewer=viewer)
    _page_shows(page.rows, filters)
    if page.viewer_found is False:
        # What fastboard.auth answers for a token whose user it cannot find.
        raise Unauthorized("token is invalid or has expired", field="token")
    return [_summary_json(row) for row in page.rows], page.total


def _page_shows(rows: Sequence[ArticleRow], filters: ArticleFilter) -> None:
    """What a page depends on, for the read cache, and the ids its viewers' flags need."""
    cache.depends_on(
        keys.ARTICLES,
        board_keys.BOARDS,
        *(keys.article(row.id) for row in rows),
        *(user_keys.user(row.author.id) for row in rows),
    )
    if filters.author is not None or filters.favorited_by is not None:
        cache.depends_on(user_keys.USERNAMES)
    if filters.favorited_by is not None or filters.order == "top":
        # Top: any favorite may move any article into (or out of) the page.
        cache.depends_on(keys.FAVORITES)
    if filters.feed_of is not None:
        cache.depends_on(follows_of(filters.feed_of))
    cache.attach(orjson.dumps([(row.id, row.author.id) for row in rows]))


async def list_for_viewer(
    session: AsyncSession,
    filters: ArticleFilter,
    token: VerifiedToken,
    shared: CachedAnswer,
    *,
    limit: int,
    offset: int,
    variant: str = "",
) -> dict[str, Any]:
    """The page as anyone sees it, from the read cache when it holds it (else read and
    kept there), with the viewer's own flags: one small query on a cached page.
    ``variant``: for a page that differs by more than its URL (see ``feed``)."""
    if not shared.enabled:
        # No cache to build on: the page with the viewer's flags is one statement.
        articles, total = await list_articles(session, filters, token, limit=limit, offset=offset)
        return {"articles": articles, "articlesCount": total}
    found = await shared.get(variant)
    if found is None or not found.extra:  # no ids kept with it: read the page anew
        with shared.reading():
            articles, total = await list_articles(
                session, filters, None, limit=limit, offset=offset
            )
        page: dict[str, Any] = {"articles": articles, "articlesCount": total}
        await shared.keep(page)
        shown = shared.attached
    else:
        page = orjson.loads(found.body)
        shown = found.extra
    ids: list[tuple[int, int]] = [(article, author) for article, author in orjson.loads(shown)]
    flags = await repository.viewer_flags(session, token.user_id, token.version, ids)
    if flags is None:
        # What fastboard.auth answers for a token whose user it cannot find.
        raise Unauthorized("token is invalid or has expired", field="token")
    for article, (article_id, author_id) in zip(page["articles"], ids, strict=True):
        article["favorited"] = article_id in flags.favorited
        article["author"]["following"] = author_id in flags.following
    return page


async def feed(
    session: AsyncSession, token: VerifiedToken, shared: CachedAnswer, *, limit: int, offset: int
) -> dict[str, Any]:
    """The viewer's feed: their own page (kept as such), then their flags on it."""
    filters = ArticleFilter(feed_of=token.user_id)
    variant = f"feed-of:{token.user_id}"
    return await list_for_viewer(
        session, filters, token, shared, limit=limit, offset=offset, variant=variant
    )


async def get(session: AsyncSession, slug: str, viewer: User | None) -> ArticleJSON:
    row = await repository.get_row(session, slug, viewer_id=viewer.id if viewer else None)
    if row is None:
        raise NotFound("article not found", field="article")
    cache.depends_on(keys.article(row.id), user_keys.user(row.author.id), board_keys.BOARDS)
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
    board_id = await boards.board_for_new_article(session, data.board)
    article = Article(author_id=author.id, favorites_count=0, board_id=board_id)
    fresh = await repository.fresh_id(session)
    if fresh is not None:
        article.id = fresh  # SQLite: an id no history knows (see repository.fresh_id)
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
    created = await get(session, article.slug, author)
    await history.record_article(
        session, article.id, created, editor_id=author.id, now=now, created=True
    )
    # The history is read fresh, never from the cache: its rows change no cached key.
    changed(
        session,
        Article,
        ArticleCount,
        Tag,
        ArticleTag,
        ArticleVersion,
        keys=[keys.ARTICLES, keys.TAGS],
    )
    return live.article_created(session, created)


async def update(session: AsyncSession, slug: str, data: UpdateArticle, user: User) -> ArticleJSON:
    article = await _owned(session, slug, user)
    given = data.model_dump(exclude_unset=True, exclude_none=True)
    tags = given.pop("tagList", None)
    if not given and tags is None:
        raise Invalid("at least one field is required", field="article")
    if given.get("title") == article.title:
        del given["title"]
    await boards.check_article_editable(session, article.board_id)
    moved = "board" in given
    if moved:
        given["board_id"] = await boards.move_article(session, article.board_id, given.pop("board"))
    slug_before = article.slug
    now = utcnow()
    await _save(session, article, {**given, "updated_at": now})
    edited = [keys.article(article.id)]
    if tags is not None:
        await repository.set_tags(session, article.id, tags)
        edited += [keys.ARTICLES, keys.TAGS]  # lists filtered by tag, tag counts
    if moved:
        edited.append(keys.ARTICLES)  # lists filtered by board
    if article.slug != slug_before:
        edited.append(comments_on(slug_before))  # no article there any more
    updated = await get(session, article.slug, user)
    # A new version only when the content differs (the caller holds the article's lock).
    await history.record_article(session, article.id, updated, editor_id=user.id, now=now)
    changed(session, Article, Tag, ArticleTag, ArticleVersion, keys=edited)
    return live.article_updated(session, updated, previous_slug=slug_before)


async def delete(
    session: AsyncSession, slug: str, user: User, *, reason: str | None = None
) -> None:
    """The author deletes their article; a moderator anyone's of a lower role (logged)."""
    article = await repository.get_by_slug(session, slug, for_update=True)
    if article is None:
        raise NotFound("article not found", field="article")
    if article.author_id != user.id:
        await moderation.authorize(session, user, article.author_id, field="article")
        target = (Target.ARTICLE, article.slug)
        await moderation.record(session, user, Action.DELETE_ARTICLE, target, reason=reason)
    await live.article_gone(session, article.slug)
    await repository.remove(session, article.id)
    await boards.article_removed(session, article.board_id)
    # Its favorites and comments go by cascade: no list shows it, nor its comments.
    gone = [keys.ARTICLES, keys.TAGS, keys.article(article.id), comments_on(article.slug)]
    changed(session, Article, ArticleCount, Tag, ArticleTag, keys=gone)


async def article_id(session: AsyncSession, slug: str) -> int:
    """The id of the article at ``slug``; raises NotFound."""
    found = await repository.id_for_slug(session, slug)
    if found is None:
        raise NotFound("article not found", field="article")
    return found


async def favorite(session: AsyncSession, slug: str, token: VerifiedToken) -> ArticleJSON:
    return await _toggle_favorite(session, slug, token, on=True, method="POST")


async def unfavorite(session: AsyncSession, slug: str, token: VerifiedToken) -> ArticleJSON:
    return await _toggle_favorite(session, slug, token, on=False, method="DELETE")


async def _toggle_favorite(
    session: AsyncSession, slug: str, token: VerifiedToken, *, on: bool, method: str
) -> ArticleJSON:
    """The token's account is checked by the write itself (no load of its own): it writes
    only for an account that exists at the token's version and is not suspended, and
    a missing article favorites nothing."""
    now = utcnow()
    viewer = (token.user_id, token.version)
    toggled = await repository.toggle_favorite(session, viewer, slug, on=on, now=now)
    admit(toggled.standing, method, now)
    if toggled.article is None:
        raise NotFound("article not found", field="article")
    _favorites_changed(session, toggled.article.id if toggled.changed else None)
    return live.favorites_counted(session, _article_json(toggled.article))


def _favorites_changed(session: AsyncSession, article_id: int | None) -> None:
    """A favorite changes its article's count and the lists filtered by ``favorited``,
    nothing else; none added or removed changes nothing."""
    changed_keys = [] if article_id is None else [keys.article(article_id), keys.FAVORITES]
    changed(session, Favorite, Article, keys=changed_keys)


async def popular_tags(session: AsyncSession) -> list[str]:
    cache.depends_on(keys.TAGS)
    return await repository.popular_tags(session, POPULAR_TAGS)


def summary_json(row: ArticleRow) -> ArticleJSON:
    """An article as lists show it, for another domain's list: search."""
    return _summary_json(row)
