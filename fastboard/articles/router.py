from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from fastboard.articles import service
from fastboard.articles.models import Article, ArticleCount, ArticleTag, Favorite, Tag
from fastboard.articles.repository import ArticleFilter
from fastboard.articles.schemas import (
    IsoInstant,
    MultipleArticlesResponse,
    NewArticleRequest,
    SingleArticleResponse,
    TagsResponse,
    UpdateArticleRequest,
)
from fastboard.auth import CurrentUser, OptionalViewer, RequiredTokenClaims, TokenClaims
from fastboard.cache import CachedAnswerDep, cacheable
from fastboard.db import ReadSessionDep, SessionDep
from fastboard.fields import NO_NUL_PATTERN, Reason
from fastboard.openapi import error_responses
from fastboard.pagination import Limit, Offset
from fastboard.profiles.models import Follow
from fastboard.responses import JSONBytes
from fastboard.users.models import User

router = APIRouter(prefix="/articles")
tags_router = APIRouter(tags=["Tags"])

Slug = Annotated[str, Path(description="The article's slug", max_length=255)]
# NUL is refused for every path and query (fastboard.guards); declared, so the schema is true.
FilterName = Annotated[str | None, Query(max_length=64, pattern=NO_NUL_PATTERN)]
OrderQuery = Annotated[
    Literal["new", "top"],
    Query(description="`new`: newest first; `top`: most favorited first, ties newest first"),
]
SinceQuery = Annotated[
    IsoInstant | None,
    Query(
        description="Only articles created at or after this ISO 8601 date or date-time "
        "(without an offset: UTC)",
        examples=["2026-11-01"],
    ),
]
ReasonQuery = Annotated[
    Reason | None, Query(description="A moderator's reason, for the moderation log")
]


@router.get(
    "/feed",
    response_model=MultipleArticlesResponse,
    tags=["Articles"],
    operation_id="GetArticlesFeed",
    summary="Get recent articles from users you follow",
    responses=error_responses(401, 422),
)
@cacheable(Article, ArticleCount, ArticleTag, Tag, Favorite, User, Follow, anonymous=False)
async def feed(
    session: ReadSessionDep,
    token: RequiredTokenClaims,
    shared: CachedAnswerDep,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Response:
    return JSONBytes(await service.feed(session, token, shared, limit=limit, offset=offset))


@router.get(
    "",
    response_model=MultipleArticlesResponse,
    tags=["Articles"],
    operation_id="GetArticles",
    summary="Get recent articles globally",
    description="Newest first, or with `order=top` most favorited first; `since` keeps "
    "the articles created from then on.",
    responses=error_responses(401, 422),
)
@cacheable(Article, ArticleCount, ArticleTag, Tag, Favorite, User)
async def list_articles(
    session: ReadSessionDep,
    token: TokenClaims,
    shared: CachedAnswerDep,
    tag: FilterName = None,
    author: FilterName = None,
    favorited: FilterName = None,
    limit: Limit = 20,
    offset: Offset = 0,
    board: FilterName = None,
    order: OrderQuery = "new",
    since: SinceQuery = None,
) -> Response:
    filters = ArticleFilter(
        tag=tag, author=author, favorited_by=favorited, board=board, since=since, order=order
    )
    if token is not None:
        page = await service.list_for_viewer(
            session, filters, token, shared, limit=limit, offset=offset
        )
        return JSONBytes(page)
    articles, total = await service.list_articles(
        session, filters, token, limit=limit, offset=offset
    )
    return JSONBytes({"articles": articles, "articlesCount": total})


@router.post(
    "",
    response_model=SingleArticleResponse,
    status_code=status.HTTP_201_CREATED,
    tags=["Articles"],
    operation_id="CreateArticle",
    summary="Create an article",
    responses=error_responses(401, 422),
)
async def create_article(
    body: NewArticleRequest, session: SessionDep, author: CurrentUser
) -> Response:
    article = await service.create(session, body.article, author)
    # A Response is sent as it is: the route's status_code applies to returned values only.
    return JSONBytes({"article": article}, status_code=status.HTTP_201_CREATED)


@router.get(
    "/{slug}",
    response_model=SingleArticleResponse,
    tags=["Articles"],
    operation_id="GetArticle",
    summary="Get an article",
    responses=error_responses(401, 404, 422),
)
@cacheable(Article, ArticleTag, Tag, User)
async def get_article(slug: Slug, session: ReadSessionDep, viewer: OptionalViewer) -> Response:
    return JSONBytes({"article": await service.get(session, slug, viewer)})


@router.put(
    "/{slug}",
    response_model=SingleArticleResponse,
    tags=["Articles"],
    operation_id="UpdateArticle",
    summary="Update an article",
    responses=error_responses(401, 403, 404, 422),
)
async def update_article(
    slug: Slug, body: UpdateArticleRequest, session: SessionDep, user: CurrentUser
) -> Response:
    return JSONBytes({"article": await service.update(session, slug, body.article, user)})


@router.delete(
    "/{slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    tags=["Articles"],
    operation_id="DeleteArticle",
    summary="Delete an article",
    description="The author may; so may a moderator or admin (of a higher role than the "
    "author), which the moderation log records.",
    responses=error_responses(401, 403, 404, 422),
)
async def delete_article(
    slug: Slug, session: SessionDep, user: CurrentUser, reason: ReasonQuery = None
) -> None:
    await service.delete(session, slug, user, reason=reason)


@router.post(
    "/{slug}/favorite",
    response_model=SingleArticleResponse,
    tags=["Favorites"],
    operation_id="CreateArticleFavorite",
    summary="Favorite an article",
    responses=error_responses(401, 404, 422),
)
async def favorite(slug: Slug, session: SessionDep, token: RequiredTokenClaims) -> Response:
    return JSONBytes({"article": await service.favorite(session, slug, token)})


@router.delete(
    "/{slug}/favorite",
    response_model=SingleArticleResponse,
    tags=["Favorites"],
    operation_id="DeleteArticleFavorite",
    summary="Unfavorite an article",
    responses=error_responses(401, 404, 422),
)
async def unfavorite(slug: Slug, session: SessionDep, token: RequiredTokenClaims) -> Response:
    return JSONBytes({"article": await service.unfavorite(session, slug, token)})


@tags_router.get(
    "/tags",
    response_model=TagsResponse,
    operation_id="GetTags",
    summary="Get tags",
    description="The most used tags, most used first.",
    responses=error_responses(422),
)
@cacheable(Tag)
async def list_tags(session: ReadSessionDep) -> Response:
    return JSONBytes({"tags": await service.popular_tags(session)})
