"""GET /api/articles/{slug}/history: every version of an article, newest first, with diffs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fastboard.cache import ReadCache
from fastboard.history.service import DIFF_INLINE_CHARACTERS, unified_diff
from fastboard.settings import Settings
from tests.articles.conftest import PROFILE_KEYS, TIMESTAMP, follow
from tests.articles.test_queries import run_counted
from tests.conftest import auth, create_article
from tests.history.conftest import Account, edit_article, read_history

pytestmark = pytest.mark.anyio

VERSION_KEYS = {
    "version",
    "createdAt",
    "editor",
    "slug",
    "title",
    "description",
    "body",
    "tagList",
    "board",
    "diff",
}


def history_path(slug: str) -> str:
    return f"/api/articles/{slug}/history"


async def test_a_new_article_starts_its_history_as_version_1(
    client: httpx.AsyncClient, alice: Account
) -> None:
    article = await create_article(
        client, alice["token"], title="Dragons", body="Very carefully.", tagList=["b", "a"]
    )

    page = await read_history(client, history_path(article["slug"]))

    assert page["versionsCount"] == 1
    [version] = page["versions"]
    assert set(version) == VERSION_KEYS
    assert TIMESTAMP.match(version["createdAt"])
    assert version["createdAt"] == article["createdAt"]
    assert set(version["editor"]) == PROFILE_KEYS
    assert version["editor"]["username"] == "alice"
    assert {key: version[key] for key in ("slug", "title", "body", "tagList", "board")} == {
        "slug": article["slug"],
        "title": "Dragons",
        "body": "Very carefully.",
        "tagList": ["a", "b"],
        "board": "general",
    }
    assert version["version"] == 1
    assert version["diff"] == "--- (nothing)\n+++ version 1\n@@ -0,0 +1 @@\n+Very carefully."


async def test_every_edit_keeps_the_version_it_replaced(
    client: httpx.AsyncClient, alice: Account, admin: Account
) -> None:
    response = await client.post(
        "/api/boards",
        json={"board": {"name": "Cooking", "category": "community"}},
        headers=auth(admin["token"]),
    )
    assert response.status_code == 201, response.text
    token = alice["token"]
    slug = (await create_article(client, token, title="One", body="line 1\nline 2"))["slug"]
    await edit_article(client, token, slug, body="line 1\nline two\nline 3")
    renamed = (await edit_article(client, token, slug, title="Two"))["slug"]
    await edit_article(client, token, renamed, tagList=["x"], description="New description")
    await edit_article(client, token, renamed, board="cooking")

    page = await read_history(client, history_path(renamed))

    versions = page["versions"]
    assert page["versionsCount"] == 5
    assert [v["version"] for v in versions] == [5, 4, 3, 2, 1]
    assert [v["board"] for v in versions] == ["cooking", "general", "general", "general", "general"]
    assert [v["tagList"] for v in versions] == [["x"], ["x"], [], [], []]
    assert [v["title"] for v in versions] == ["Two", "Two", "Two", "One", "One"]
    assert [v["slug"] for v in versions] == [renamed] * 3 + [slug] * 2
    assert versions[1]["description"] == "New description"
    assert versions[4]["body"] == "line 1\nline 2"
    assert versions[3]["body"] == versions[0]["body"] == "line 1\nline two\nline 3"
    assert versions[3]["diff"] == (
        "--- version 1\n+++ version 2\n@@ -1,2 +1,3 @@\n line 1\n-line 2\n+line two\n+line 3"
    )
    # Edits that leave the body alone show no diff of it.
    assert [v["diff"] for v in versions[:3]] == ["", "", ""]
    assert all(v["editor"]["username"] == "alice" for v in versions)
    assert versions[0]["createdAt"] >= versions[4]["createdAt"]


async def test_an_edit_that_changes_nothing_adds_no_version(
    client: httpx.AsyncClient, alice: Account
) -> None:
    slug = (await create_article(client, alice["token"], title="Same", tagList=["t"]))["slug"]

    await edit_article(client, alice["token"], slug, title="Same", body="The body", tagList=["t"])

    assert (await read_history(client, history_path(slug)))["versionsCount"] == 1


async def test_a_page_compares_its_oldest_version_with_the_one_before(
    client: httpx.AsyncClient, alice: Account
) -> None:
    slug = (await create_article(client, alice["token"], body="v1"))["slug"]
    for number in range(2, 6):
        await edit_article(client, alice["token"], slug, body=f"v{number}")

    page = await read_history(client, history_path(slug), limit=2, offset=1)
    past_the_end = await read_history(client, history_path(slug), offset=5)

    assert page["versionsCount"] == 5
    assert [v["version"] for v in page["versions"]] == [4, 3]
    assert page["versions"][1]["diff"] == "--- version 2\n+++ version 3\n@@ -1 +1 @@\n-v2\n+v3"
    assert past_the_end == {"versions": [], "versionsCount": 5}
    last = await read_history(client, history_path(slug), limit=1, offset=4)
    assert last["versions"][0]["diff"] == "--- (nothing)\n+++ version 1\n@@ -0,0 +1 @@\n+v1"


async def test_the_editor_is_shown_as_the_reader_sees_them(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]
    await follow(client, bob["token"], "alice")

    signed_in = await read_history(client, history_path(slug), bob["token"])
    anonymous = await read_history(client, history_path(slug))

    assert signed_in["versions"][0]["editor"]["following"] is True
    assert anonymous["versions"][0]["editor"]["following"] is False


async def test_a_history_page_costs_the_same_statements_whatever_its_size(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    count_queries: Any,
    alice: Account,
    bob: Account,
) -> None:
    app.state.read_cache = ReadCache(settings.model_copy(update={"redis_url": None}))
    slug = (await create_article(client, alice["token"]))["slug"]
    for number in range(12):
        await edit_article(client, alice["token"], slug, body=f"body {number}")
    path = history_path(slug)

    counts = {}
    for token in (None, bob["token"]):
        for limit in (1, 13):
            response, counts[token, limit] = await run_counted(
                client, count_queries, path, token, {"limit": limit}
            )
            assert len(response.json()["versions"]) == limit

    # The article, then the page (editor, total and the version before it included); a
    # token adds the reader's account.
    assert counts[None, 1] == counts[None, 13] == 2
    assert counts[bob["token"], 1] == counts[bob["token"], 13] == 3


async def test_a_deleted_articles_history_is_for_moderators_only(
    client: httpx.AsyncClient, alice: Account, bob: Account, moderator: Account, admin: Account
) -> None:
    slug = (await create_article(client, alice["token"], title="Gone", body="old"))["slug"]
    await edit_article(client, alice["token"], slug, body="newer")
    response = await client.delete(f"/api/articles/{slug}", headers=auth(alice["token"]))
    assert response.status_code == 204

    for token in (None, alice["token"], bob["token"]):
        response = await client.get(history_path(slug), headers=auth(token) if token else {})
        assert response.status_code == 404, response.text
        assert response.json() == {"errors": {"article": ["article not found"]}}
    for reader in (moderator, admin):
        page = await read_history(client, history_path(slug), reader["token"])
        assert [v["body"] for v in page["versions"]] == ["newer", "old"]

    # Once another article takes the slug, the slug names that one.
    await create_article(client, bob["token"], title="Gone", body="fresh")
    page = await read_history(client, history_path(slug), moderator["token"])
    assert [v["body"] for v in page["versions"]] == ["fresh"]


async def test_an_old_slug_of_a_renamed_article_names_no_history(
    client: httpx.AsyncClient, alice: Account, moderator: Account
) -> None:
    slug = (await create_article(client, alice["token"], title="Before"))["slug"]
    renamed = (await edit_article(client, alice["token"], slug, title="After"))["slug"]

    response = await client.get(history_path(slug), headers=auth(moderator["token"]))

    assert response.status_code == 404
    assert (await read_history(client, history_path(renamed)))["versionsCount"] == 2


async def test_korean_titles_keep_their_history(client: httpx.AsyncClient, alice: Account) -> None:
    slug = (await create_article(client, alice["token"], title="안녕하세요 세계", body="서버"))[
        "slug"
    ]
    await edit_article(client, alice["token"], slug, body="서버를 켭니다")

    page = await read_history(client, history_path(slug))

    assert page["versions"][0]["diff"].endswith("-서버\n+서버를 켭니다")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 2**40}, "offset"),
        ({"limit": "many"}, "limit"),
    ],
)
async def test_bad_paging_is_a_422(
    client: httpx.AsyncClient, alice: Account, params: dict[str, Any], field: str
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]

    response = await client.get(history_path(slug), params=params)

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]


async def test_a_huge_offset_within_range_is_an_empty_page(
    client: httpx.AsyncClient, alice: Account
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]

    page = await read_history(client, history_path(slug), offset=2**31 - 1)

    assert page == {"versions": [], "versionsCount": 1}


async def test_an_unknown_article_has_no_history(client: httpx.AsyncClient) -> None:
    for path in ("/api/articles/nothing-here/history", "/api/articles/nothing-here/history.csv"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json() == {"errors": {"article": ["article not found"]}}


async def test_long_bodies_are_compared_as_short_ones(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Past DIFF_INLINE_CHARACTERS the comparing moves to a worker thread; same diffs."""
    lines = [f"line {n} " + "x" * 60 for n in range(500)]
    before = "\n".join(lines)
    after = "\n".join([*lines[:250], "inserted", *lines[250:499]])
    assert len(before) + len(after) > DIFF_INLINE_CHARACTERS
    slug = (await create_article(client, alice["token"], body=before))["slug"]
    await edit_article(client, alice["token"], slug, body=after)

    page = await read_history(client, history_path(slug))
    csv_answer = await client.get(f"{history_path(slug)}.csv")

    expected = unified_diff(before, after, 2)
    assert page["versions"][0]["diff"] == expected
    assert "+inserted" in expected
    assert f"-{lines[499]}" in expected
    assert csv_answer.status_code == 200
    assert "+inserted" in csv_answer.text
