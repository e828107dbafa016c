"""PUT/DELETE /api/articles/{slug}/comments/{id}/vote, scores, myVote and ?order=top."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fastboard.cache import ReadCache
from fastboard.settings import Settings
from tests.articles.test_queries import TRANSACTION_CONTROL, run_counted
from tests.conftest import CachedReads, auth, create_article, register

pytestmark = pytest.mark.anyio
Account = dict[str, Any]


@pytest.fixture
async def slug(client: httpx.AsyncClient, alice: Account) -> str:
    created: str = (await create_article(client, alice["token"], title="Voted on"))["slug"]
    return created


async def add_comment(client: httpx.AsyncClient, token: str, slug: str, body: str) -> int:
    response = await client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": body}}, headers=auth(token)
    )
    assert response.status_code == 200, response.text
    comment_id: int = response.json()["comment"]["id"]
    return comment_id


async def vote(
    client: httpx.AsyncClient, token: str, slug: str, comment_id: int, value: int | None
) -> dict[str, Any]:
    path = f"/api/articles/{slug}/comments/{comment_id}/vote"
    if value is None:
        response = await client.delete(path, headers=auth(token))
    else:
        response = await client.put(path, json={"vote": {"value": value}}, headers=auth(token))
    assert response.status_code == 200, response.text
    comment: dict[str, Any] = response.json()["comment"]
    return comment


async def listed(
    client: httpx.AsyncClient, slug: str, token: str | None = None, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/articles/{slug}/comments", params=params, headers=auth(token) if token else {}
    )
    assert response.status_code == 200, response.text
    comments: list[dict[str, Any]] = response.json()["comments"]
    return comments


async def test_votes_move_the_score_one_per_reader(
    client: httpx.AsyncClient, slug: str, alice: Account, bob: Account
) -> None:
    comment_id = await add_comment(client, alice["token"], slug, "Vote on me")
    steps = [
        (bob, 1, 1, 1),
        (bob, 1, 1, 1),  # the same vote again changes nothing
        (bob, -1, -1, -1),  # changed
        (alice, 1, 0, 1),  # her own comment, why not
        (bob, None, 1, None),  # taken back
        (bob, None, 1, None),  # taking back nothing is no error
    ]
    for voter, value, score, mine in steps:
        answer = await vote(client, voter["token"], slug, comment_id, value)
        assert (answer["score"], answer["myVote"]) == (score, mine), (voter["username"], value)
        assert answer["id"] == comment_id
        assert answer["body"] == "Vote on me"

    [shown_to_bob] = await listed(client, slug, bob["token"])
    [shown_to_alice] = await listed(client, slug, alice["token"])
    [anonymous] = await listed(client, slug)
    assert (shown_to_bob["score"], shown_to_bob["myVote"]) == (1, None)
    assert (shown_to_alice["score"], shown_to_alice["myVote"]) == (1, 1)
    assert (anonymous["score"], anonymous["myVote"]) == (1, None)


async def test_top_orders_comments_by_score_ties_newest_first(
    client: httpx.AsyncClient, slug: str, alice: Account, bob: Account
) -> None:
    ids = {name: await add_comment(client, alice["token"], slug, name) for name in "ABCD"}
    await vote(client, bob["token"], slug, ids["A"], 1)
    await vote(client, alice["token"], slug, ids["A"], 1)
    await vote(client, bob["token"], slug, ids["C"], 1)
    await vote(client, bob["token"], slug, ids["D"], -1)

    top = [c["body"] for c in await listed(client, slug, order="top")]
    new = [c["body"] for c in await listed(client, slug, order="new")]
    default = [c["body"] for c in await listed(client, slug, bob["token"])]

    assert top == ["A", "C", "B", "D"]
    assert new == default == ["D", "C", "B", "A"]
    assert [c["body"] for c in await listed(client, slug, bob["token"], order="top")] == top


async def test_comments_with_scores_cost_one_statement_whatever_their_number(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    count_queries: Any,
    alice: Account,
    bob: Account,
) -> None:
    app.state.read_cache = ReadCache(settings.model_copy(update={"redis_url": None}))
    few = (await create_article(client, alice["token"], title="Few"))["slug"]
    many = (await create_article(client, alice["token"], title="Many"))["slug"]
    for index in range(16):
        article = few if index == 0 else many
        comment_id = await add_comment(client, alice["token"], article, f"comment {index}")
        await vote(client, bob["token"], article, comment_id, 1 if index % 3 else -1)

    counts = {}
    for token in (None, bob["token"]):
        for article in (few, many):
            for order in ("new", "top"):
                path = f"/api/articles/{article}/comments"
                response, counts[token, article, order] = await run_counted(
                    client, count_queries, path, token, {"order": order}
                )
                if token:
                    assert all(c["myVote"] in (1, -1) for c in response.json()["comments"])

    assert {count for (token, _, _), count in counts.items() if token is None} == {1}
    assert {count for (token, _, _), count in counts.items() if token} == {2}  # + the reader


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"vote": {"value": 2}}, "value"),
        ({"vote": {"value": 0}}, "value"),
        ({"vote": {"value": "up"}}, "value"),
        ({"vote": {"value": 1.5}}, "value"),
        ({"vote": {"value": None}}, "value"),
        ({"vote": {}}, "value"),
        ({"value": 1}, "body"),
        ([1], "body"),
    ],
)
async def test_a_vote_other_than_one_or_minus_one_is_a_422(
    client: httpx.AsyncClient, slug: str, alice: Account, bob: Account, body: Any, field: str
) -> None:
    comment_id = await add_comment(client, alice["token"], slug, "Vote on me")

    response = await client.put(
        f"/api/articles/{slug}/comments/{comment_id}/vote", json=body, headers=auth(bob["token"])
    )

    assert response.status_code == 422, response.text
    assert list(response.json()["errors"]) == [field]
    assert (await listed(client, slug))[0]["score"] == 0


async def test_votes_on_what_is_not_there_are_404s_and_bad_ids_422s(
    client: httpx.AsyncClient, slug: str, alice: Account, bob: Account
) -> None:
    comment_id = await add_comment(client, alice["token"], slug, "Vote on me")
    body = {"vote": {"value": 1}}
    cases = [
        (f"/api/articles/{slug}/comments/{comment_id + 100}/vote", 404, "comment"),
        (f"/api/articles/no-such-article/comments/{comment_id}/vote", 404, "article"),
        (f"/api/articles/{slug}/comments/abc/vote", 422, "id"),
        (f"/api/articles/{slug}/comments/-1/vote", 422, "id"),
    ]
    for path, status, field in cases:
        for method in ("PUT", "DELETE"):
            response = await client.request(method, path, json=body, headers=auth(bob["token"]))
            assert response.status_code == status, (method, path, response.text)
            assert list(response.json()["errors"]) == [field]
    response = await client.get(f"/api/articles/{slug}/comments", params={"order": "best"})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["order"]


async def test_a_vote_evicts_the_articles_cached_comments_only(
    cached_reads: CachedReads, client: httpx.AsyncClient, slug: str, alice: Account, bob: Account
) -> None:
    comment_id = await add_comment(client, alice["token"], slug, "Vote on me")
    other = (await create_article(client, alice["token"], title="Other"))["slug"]
    comments = f"/api/articles/{slug}/comments"
    evicted = [comments, f"{comments}?order=top"]
    kept = [f"/api/articles/{other}/comments", f"/api/articles/{slug}", "/api/articles"]
    await cached_reads.warm(*evicted, *kept)

    await vote(client, bob["token"], slug, comment_id, -1)

    assert await cached_reads.served(*evicted, *kept) == {
        **dict.fromkeys(evicted, False),
        **dict.fromkeys(kept, True),
    }
    assert (await listed(client, slug))[0]["score"] == -1
    # Voting the same again changes nothing, and evicts nothing.
    await cached_reads.warm(*evicted)
    await vote(client, bob["token"], slug, comment_id, -1)
    assert await cached_reads.served(*evicted) == dict.fromkeys(evicted, True)


async def test_a_deleted_accounts_votes_leave_the_scores(
    client: httpx.AsyncClient, slug: str, alice: Account
) -> None:
    comment_id = await add_comment(client, alice["token"], slug, "Vote on me")
    leaver, stayer = await register(client, "leaver"), await register(client, "stayer")
    await vote(client, leaver["token"], slug, comment_id, -1)
    await vote(client, stayer["token"], slug, comment_id, -1)

    response = await client.request(
        "DELETE",
        "/api/user",
        json={"user": {"password": "correct-horse"}},
        headers=auth(leaver["token"]),
    )
    assert response.status_code == 204, response.text

    assert (await listed(client, slug))[0]["score"] == -1


async def test_a_comment_is_one_statement_on_postgresql(
    settings: Settings, client: httpx.AsyncClient, count_queries: Any, alice: Account, bob: Account
) -> None:
    """The token's account, the comment, its version 1 and whom it notifies, in one: no
    load of the user first, no read of the thread after."""
    slug = (await create_article(client, alice["token"]))["slug"]
    await add_comment(client, alice["token"], slug, "first")
    with count_queries() as counter:
        comment_id = await add_comment(client, bob["token"], slug, "second")
    queries = [sql for sql in counter.statements if not TRANSACTION_CONTROL.match(sql)]
    # SQLite: the account, the article, the thread, the comment, its version.
    assert len(queries) == (5 if settings.is_sqlite else 1), queries
    assert [c["id"] for c in await listed(client, slug)] == [comment_id, comment_id - 1]
