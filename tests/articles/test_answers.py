"""The fast read paths answer exactly what straightforward ORM queries say.

A small board is built through the API (tags added, replaced and removed, an article
deleted, favorites, follows, comments, locks). Then every optimised read, anonymous and for
several viewers, is compared with an answer computed here from the tables as the ORM
loads them, and checked against the wire model its route declares.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import func, select

from fastboard.articles.models import Article, ArticleTag, Favorite, Tag
from fastboard.articles.schemas import MultipleArticlesResponse, SingleArticleResponse, TagsResponse
from fastboard.boards.models import Board, Category
from fastboard.boards.schemas import CategoriesResponse, SingleBoardResponse
from fastboard.comments.models import Comment, CommentVote
from fastboard.comments.schemas import MultipleCommentsResponse, SingleCommentResponse
from fastboard.profiles.models import Follow
from fastboard.profiles.schemas import ProfileResponse
from fastboard.users.models import User
from tests.articles.conftest import favorite, follow
from tests.conftest import auth, create_article, promote, register

pytestmark = pytest.mark.anyio

NAMES = ("ann", "ben", "cat", "dan")
TAGS = ("alpha", "beta", "gamma", "delta")
ARTICLES = 14
BOARDS = (None, "cooking", "chess", "old", "general")


@dataclass
class Tables:
    """The board as the ORM reads it."""

    users: dict[int, User]
    articles: list[Article]
    tags: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    favorites: set[tuple[int, int]] = field(default_factory=set)  # (user, article)
    follows: set[tuple[int, int]] = field(default_factory=set)  # (follower, followee)
    comments: list[Comment] = field(default_factory=list)
    votes: dict[tuple[int, int], int] = field(default_factory=dict)  # (user, comment): value
    popular_tags: list[str] = field(default_factory=list)
    boards: dict[int, Board] = field(default_factory=dict)
    categories: list[Category] = field(default_factory=list)

    def user_named(self, name: str) -> User | None:
        return next((user for user in self.users.values() if user.username == name), None)


async def _load(app: FastAPI) -> Tables:
    async with app.state.database.reader() as session:
        tables = Tables(
            users={user.id: user for user in await session.scalars(select(User))},
            articles=list(await session.scalars(select(Article))),
        )
        links = await session.execute(
            select(ArticleTag.article_id, Tag.name).join(Tag, Tag.id == ArticleTag.tag_id)
        )
        for article_id, name in links:
            tables.tags[article_id].append(name)
        favorites = await session.execute(select(Favorite.user_id, Favorite.article_id))
        tables.favorites = {(user_id, article_id) for user_id, article_id in favorites}
        follows = await session.execute(select(Follow.follower_id, Follow.followee_id))
        tables.follows = {(follower, followee) for follower, followee in follows}
        tables.comments = list(await session.scalars(select(Comment)))
        votes = await session.execute(
            select(CommentVote.user_id, CommentVote.comment_id, CommentVote.value)
        )
        tables.votes = {(user_id, comment_id): value for user_id, comment_id, value in votes}
        tables.boards = {board.id: board for board in await session.scalars(select(Board))}
        tables.categories = list(await session.scalars(select(Category)))
        # The aggregate /api/tags answered before tag counts were kept on write.
        popular = (
            select(Tag.name)
            .join(ArticleTag, ArticleTag.tag_id == Tag.id)
            .group_by(Tag.name)
            .order_by(func.count().desc(), Tag.name)
            .limit(200)
        )
        tables.popular_tags = list(await session.scalars(popular))
    return tables


def _timestamp(value: datetime) -> str:
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def _profile(tables: Tables, user: User, viewer: User | None) -> dict[str, Any]:
    return {
        "username": user.username,
        "bio": user.bio,
        "image": user.image or "",
        "following": viewer is not None and (viewer.id, user.id) in tables.follows,
        "role": user.role,
    }


def _article(
    tables: Tables, article: Article, viewer: User | None, *, body: bool
) -> dict[str, Any]:
    answer = {
        "slug": article.slug,
        "title": article.title,
        "description": article.description,
        "tagList": sorted(tables.tags[article.id]),
        "createdAt": _timestamp(article.created_at),
        "updatedAt": _timestamp(article.updated_at),
        "favorited": viewer is not None and (viewer.id, article.id) in tables.favorites,
        "favoritesCount": sum(1 for _, liked in tables.favorites if liked == article.id),
        "author": _profile(tables, tables.users[article.author_id], viewer),
        "board": tables.boards[article.board_id].slug,
    }
    if body:
        answer["body"] = article.body
        answer["locked"] = article.locked_at is not None
    return answer


def _newest_first(rows: list[Any]) -> list[Any]:
    return sorted(rows, key=lambda row: (row.created_at, row.id), reverse=True)


def _favorites_count(tables: Tables, article: Article) -> int:
    return sum(1 for _, liked in tables.favorites if liked == article.id)


def _list(tables: Tables, params: dict[str, Any], viewer: User | None) -> dict[str, Any]:
    chosen = tables.articles
    if "since" in params:
        since = datetime.fromisoformat(params["since"])
        chosen = [a for a in chosen if a.created_at >= since]
    if "tag" in params:
        chosen = [a for a in chosen if params["tag"] in tables.tags[a.id]]
    if "author" in params:
        author = tables.user_named(params["author"])
        chosen = [a for a in chosen if author is not None and a.author_id == author.id]
    if "favorited" in params:
        fan = tables.user_named(params["favorited"])
        chosen = [a for a in chosen if fan is not None and (fan.id, a.id) in tables.favorites]
    if "board" in params:
        chosen = [a for a in chosen if tables.boards[a.board_id].slug == params["board"]]
    if params.get("feed"):
        assert viewer is not None
        chosen = [a for a in chosen if (viewer.id, a.author_id) in tables.follows]
    offset = params.get("offset", 0)
    ordered = _newest_first(chosen)
    if params.get("order") == "top":
        # Stable: ties stay newest first.
        ordered.sort(key=lambda article: _favorites_count(tables, article), reverse=True)
    page = ordered[offset : offset + params.get("limit", 20)]
    return {
        "articles": [_article(tables, article, viewer, body=False) for article in page],
        "articlesCount": len(chosen),
    }


def _board(tables: Tables, board: Board) -> dict[str, Any]:
    return {
        "slug": board.slug,
        "name": board.name,
        "description": board.description,
        "position": board.position,
        # Counted here, not read from the stored count.
        "articlesCount": sum(1 for article in tables.articles if article.board_id == board.id),
    }


def _tree(tables: Tables) -> dict[str, Any]:
    return {
        "categories": [
            {
                "slug": category.slug,
                "name": category.name,
                "description": category.description,
                "position": category.position,
                "boards": [
                    _board(tables, board)
                    for board in sorted(tables.boards.values(), key=lambda b: b.position)
                    if board.category_id == category.id and not board.archived
                ],
            }
            for category in sorted(tables.categories, key=lambda c: c.position)
        ]
    }


def _score(tables: Tables, comment: Comment) -> int:
    return sum(value for (_, voted), value in tables.votes.items() if voted == comment.id)


def _comments(
    tables: Tables, article: Article, viewer: User | None, order: str = "new"
) -> dict[str, Any]:
    comments = _newest_first(
        [comment for comment in tables.comments if comment.article_id == article.id]
    )
    if order == "top":
        comments.sort(key=lambda comment: _score(tables, comment), reverse=True)
    return {
        "comments": [
            {
                "id": comment.id,
                "createdAt": _timestamp(comment.created_at),
                "updatedAt": _timestamp(comment.updated_at),
                "body": comment.body,
                "author": _profile(tables, tables.users[comment.author_id], viewer),
                # Counted here, not read from the stored score.
                "score": _score(tables, comment),
                "myVote": tables.votes.get((viewer.id, comment.id)) if viewer else None,
            }
            for comment in comments
        ]
    }


async def _boards(app: FastAPI, client: httpx.AsyncClient) -> str:
    """Two more categories and three boards (one archived later, with articles); answers
    the admin's token."""
    admin: str = (await register(client, "root"))["token"]
    await promote(app, "root")
    for path, body in (
        ("/api/categories", {"category": {"name": "Hobbies"}}),
        ("/api/categories", {"category": {"name": "Empty", "position": 1}}),
        ("/api/boards", {"board": {"name": "Cooking", "category": "hobbies"}}),
        ("/api/boards", {"board": {"name": "Chess", "category": "hobbies", "position": 1}}),
        ("/api/boards", {"board": {"name": "Old", "category": "community"}}),
    ):
        response = await client.post(path, json=body, headers=auth(admin))
        assert response.status_code == 201, response.text
    return admin


@pytest.fixture
async def tokens(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    """The board; answers each user's token by name."""
    root = await _boards(app, client)
    tokens = {name: (await register(client, name))["token"] for name in NAMES}
    profile = {"user": {"bio": "Writes about tags", "image": "https://example.com/ann.png"}}
    response = await client.put("/api/user", json=profile, headers=auth(tokens["ann"]))
    assert response.status_code == 200, response.text
    slugs: list[str] = []
    for index in range(ARTICLES):
        tags = [tag for bit, tag in enumerate(TAGS) if index >> bit & 1]
        author = tokens[NAMES[index % 3]]
        board = BOARDS[index % len(BOARDS)]
        slugs.append((await create_article(client, author, tagList=tags, board=board))["slug"])
    for index, slug in enumerate(slugs):
        for name in NAMES[: index % 4]:
            await favorite(client, tokens[name], slug)
        if index % 3 == 0:
            for name in ("ben", "dan"):
                comment = {"comment": {"body": f"{name} on {index}"}}
                response = await client.post(
                    f"/api/articles/{slug}/comments", json=comment, headers=auth(tokens[name])
                )
                assert response.status_code == 200, response.text
    await _votes(client, tokens, slugs)
    for follower, followee in (("ann", "ben"), ("ann", "cat"), ("ben", "ann"), ("dan", "cat")):
        await follow(client, tokens[follower], followee)
    # Tags replaced (one kept, one dropped, one added), cleared, and an article deleted.
    edits = [(slugs[3], ["alpha", "gamma"], "ann"), (slugs[7], [], "ben")]
    for slug, tags, name in edits:
        change = {"article": {"tagList": tags, "title": f"Edited {slug}"}}
        response = await client.put(
            f"/api/articles/{slug}", json=change, headers=auth(tokens[name])
        )
        assert response.status_code == 200, response.text
    response = await client.delete(f"/api/articles/{slugs[6]}", headers=auth(tokens["ann"]))
    assert response.status_code == 204, response.text
    # Moved between boards, then a board with articles archived.
    move = {"article": {"board": "chess"}}
    response = await client.put(f"/api/articles/{slugs[0]}", json=move, headers=auth(tokens["ann"]))
    assert response.status_code == 200, response.text
    response = await client.delete("/api/boards/old", headers=auth(root))
    assert response.status_code == 200, response.text
    # Two articles locked by the admin, one of them unlocked again.
    for slug, method in ((slugs[1], "POST"), (slugs[2], "POST"), (slugs[2], "DELETE")):
        response = await client.request(method, f"/api/articles/{slug}/lock", headers=auth(root))
        assert response.status_code == 200, response.text
    return tokens


async def _votes(client: httpx.AsyncClient, tokens: dict[str, str], slugs: list[str]) -> None:
    """Votes up and down on every comment, some changed and some taken back, and comment
    edits: scores that differ, and orders by score that differ from newest first."""
    for index, slug in enumerate(slugs):
        if index % 3 != 0:
            continue
        response = await client.get(f"/api/articles/{slug}/comments")
        comments = response.json()["comments"]
        for position, comment in enumerate(comments):
            path = f"/api/articles/{slug}/comments/{comment['id']}"
            for turn, name in enumerate(NAMES):
                value = -1 if (index + position + turn) % 4 < 2 + position % 2 else 1
                vote = {"vote": {"value": value}}
                response = await client.put(f"{path}/vote", json=vote, headers=auth(tokens[name]))
                assert response.status_code == 200, response.text
            # ann changes her mind, dan takes his vote back.
            flipped = {"vote": {"value": 1 if (index + position) % 2 else -1}}
            response = await client.put(f"{path}/vote", json=flipped, headers=auth(tokens["ann"]))
            assert response.status_code == 200, response.text
            if position == 0:
                response = await client.delete(f"{path}/vote", headers=auth(tokens["dan"]))
                assert response.status_code == 200, response.text
                edited = {"comment": {"body": f"{comment['body']}, edited"}}
                author = comment["author"]["username"]
                response = await client.put(path, json=edited, headers=auth(tokens[author]))
                assert response.status_code == 200, response.text


async def _get(
    client: httpx.AsyncClient,
    path: str,
    model: type[BaseModel],
    token: str | None,
    params: dict[str, Any] | None = None,
) -> Any:
    response = await client.get(path, params=params, headers=auth(token) if token else {})
    assert response.status_code == 200, (path, params, response.text)
    answer = response.json()
    # Exactly the declared wire model: no key more or less, values as it writes them.
    assert model.model_validate(answer).model_dump(mode="json") == answer
    return answer


LIST_QUERIES: list[dict[str, Any]] = [
    {},
    {"limit": 5},
    {"limit": 5, "offset": 5},
    {"offset": 100},
    *({"tag": tag} for tag in (*TAGS, "missing")),
    {"tag": "alpha", "limit": 2, "offset": 1},
    *({"author": name} for name in (*NAMES, "nobody")),
    *({"favorited": name} for name in (*NAMES, "nobody")),
    {"tag": "beta", "author": "ben"},
    {"tag": "alpha", "favorited": "cat"},
    {"author": "ann", "favorited": "ben", "limit": 1},
    *({"board": board} for board in ("general", "cooking", "chess", "old", "missing")),
    {"board": "cooking", "tag": "alpha"},
    {"board": "general", "author": "ann", "limit": 2},
    {"board": "chess", "favorited": "ann"},
    {"order": "top"},
    {"order": "top", "limit": 3, "offset": 2},
    {"order": "top", "tag": "alpha"},
    {"order": "top", "board": "general", "author": "ann"},
    {"order": "new", "favorited": "ben"},
]


@pytest.mark.parametrize("viewer_name", [None, "ann", "ben", "dan"])
async def test_every_fast_read_answers_what_the_orm_says(
    app: FastAPI,
    client: httpx.AsyncClient,
    tokens: dict[str, str],
    viewer_name: str | None,
) -> None:
    tables = await _load(app)
    viewer = tables.user_named(viewer_name) if viewer_name else None
    token = tokens[viewer_name] if viewer_name else None

    # Windows that cut the list: from the fifth newest article on, and from the newest.
    newest = _newest_first(tables.articles)
    windows = [
        {"since": newest[4].created_at.isoformat()},
        {"since": newest[0].created_at.isoformat(), "order": "top"},
        {"since": newest[8].created_at.isoformat(), "order": "top", "tag": "beta", "limit": 2},
    ]
    for params in LIST_QUERIES + windows:
        answer = await _get(client, "/api/articles", MultipleArticlesResponse, token, params)
        assert answer == _list(tables, params, viewer), params
    if token is not None:
        for params in ({}, {"limit": 3, "offset": 2}):
            answer = await _get(
                client, "/api/articles/feed", MultipleArticlesResponse, token, params
            )
            assert answer == _list(tables, {**params, "feed": True}, viewer), params
    for article in tables.articles:
        path = f"/api/articles/{article.slug}"
        answer = await _get(client, path, SingleArticleResponse, token)
        assert answer == {"article": _article(tables, article, viewer, body=True)}
        for order in ("new", "top"):
            answer = await _get(
                client, f"{path}/comments", MultipleCommentsResponse, token, {"order": order}
            )
            assert answer == _comments(tables, article, viewer, order)
    for user in tables.users.values():
        answer = await _get(client, f"/api/profiles/{user.username}", ProfileResponse, token)
        assert answer == {"profile": _profile(tables, user, viewer)}
    answer = await _get(client, "/api/tags", TagsResponse, token)
    assert answer == {"tags": tables.popular_tags}
    answer = await _get(client, "/api/categories", CategoriesResponse, token)
    assert answer == _tree(tables)
    for board in tables.boards.values():
        answer = await _get(client, f"/api/boards/{board.slug}", SingleBoardResponse, token)
        category = next(c for c in tables.categories if c.id == board.category_id)
        expected = {**_board(tables, board), "category": category.slug}
        assert answer == {"board": {**expected, "archived": board.archived}}
    # The board is not trivial: these answers have something to disagree on.
    assert len(tables.articles) == ARTICLES - 1
    assert len(tables.popular_tags) == len(TAGS)
    assert all((tables.follows, tables.comments, tables.favorites, tables.votes))
    scores = [_score(tables, comment) for comment in tables.comments]
    assert min(scores) < 0 < max(scores)
    assert any(
        _comments(tables, article, None, "top") != _comments(tables, article, None)
        for article in tables.articles
    )
    assert len({article.board_id for article in tables.articles}) == len(BOARDS) - 1
    assert any(board.archived for board in tables.boards.values())


@pytest.mark.parametrize("viewer_name", ["ann", "dan"])
async def test_favorites_answer_what_the_orm_says_after_the_write(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[str, str], viewer_name: str
) -> None:
    """A favorite reads its answer in the statement that writes: the article as the ORM
    loads it once the write is committed (counts, flags, the author followed or not)."""
    token = tokens[viewer_name]
    for article in (await _load(app)).articles:
        path = f"/api/articles/{article.slug}/favorite"
        # Added, again (nothing changes), removed, again, added back.
        for method in ("POST", "POST", "DELETE", "DELETE", "POST"):
            response = await client.request(method, path, headers=auth(token))
            assert response.status_code == 200, response.text
            answer = response.json()
            assert SingleArticleResponse.model_validate(answer).model_dump(mode="json") == answer
            tables = await _load(app)
            now = next(row for row in tables.articles if row.id == article.id)
            expected = _article(tables, now, tables.user_named(viewer_name), body=True)
            assert answer == {"article": expected}, (method, article.slug)


@pytest.mark.parametrize("author_name", ["ann", "dan"])
async def test_a_new_comment_answers_what_the_orm_says(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[str, str], author_name: str
) -> None:
    """A comment reads its author in the statement that writes it: the comment as the
    ORM loads it once committed, as its author sees it."""
    token = tokens[author_name]
    for article in (await _load(app)).articles:
        if article.locked_at is not None:
            continue
        body = {"comment": {"body": f"{author_name} again on {article.slug}"}}
        response = await client.post(
            f"/api/articles/{article.slug}/comments", json=body, headers=auth(token)
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert SingleCommentResponse.model_validate(answer).model_dump(mode="json") == answer
        tables = await _load(app)
        viewer = tables.user_named(author_name)
        expected = next(
            comment
            for comment in _comments(tables, article, viewer, "new")["comments"]
            if comment["id"] == answer["comment"]["id"]
        )
        assert answer == {"comment": expected}


# The operations answered with JSONBytes, their success status and declared wire model.
DOCUMENTED = [
    ("get", "/api/articles", "200", MultipleArticlesResponse),
    ("get", "/api/articles/feed", "200", MultipleArticlesResponse),
    ("post", "/api/articles", "201", SingleArticleResponse),
    ("get", "/api/articles/{slug}", "200", SingleArticleResponse),
    ("put", "/api/articles/{slug}", "200", SingleArticleResponse),
    ("post", "/api/articles/{slug}/favorite", "200", SingleArticleResponse),
    ("delete", "/api/articles/{slug}/favorite", "200", SingleArticleResponse),
    ("get", "/api/articles/{slug}/comments", "200", MultipleCommentsResponse),
    ("post", "/api/articles/{slug}/comments", "200", SingleCommentResponse),
    ("get", "/api/tags", "200", TagsResponse),
    ("get", "/api/profiles/{username}", "200", ProfileResponse),
    ("post", "/api/profiles/{username}/follow", "200", ProfileResponse),
    ("delete", "/api/profiles/{username}/follow", "200", ProfileResponse),
    ("get", "/api/categories", "200", CategoriesResponse),
    ("get", "/api/boards/{slug}", "200", SingleBoardResponse),
    ("post", "/api/boards", "201", SingleBoardResponse),
    ("put", "/api/boards/{slug}", "200", SingleBoardResponse),
    ("delete", "/api/boards/{slug}", "200", SingleBoardResponse),
]


async def test_routes_answering_bytes_still_document_their_wire_models(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()

    for method, path, status, model in DOCUMENTED:
        response = schema["paths"][path][method]["responses"][status]
        documented = response["content"]["application/json"]["schema"]
        assert documented == {"$ref": f"#/components/schemas/{model.__name__}"}, path
        assert model.__name__ in schema["components"]["schemas"]
