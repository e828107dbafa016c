"""The moderation log: every action, newest first, paged at a constant statement count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.articles.test_queries import TRANSACTION_CONTROL
from tests.conftest import auth, create_article
from tests.moderation.conftest import Account, log_entries

pytestmark = pytest.mark.anyio

LOG_STATEMENTS = 2  # the moderator's account, then the page with its total


async def lock_many(
    client: httpx.AsyncClient, moderator: Account, author: Account, n: int
) -> list[str]:
    slugs = []
    for _ in range(n):
        slug = (await create_article(client, author["token"]))["slug"]
        response = await client.post(f"/api/articles/{slug}/lock", headers=auth(moderator["token"]))
        assert response.status_code == 200
        slugs.append(slug)
    return slugs


async def test_the_log_is_newest_first_and_pages(
    client: httpx.AsyncClient, moderator: Account, alice: Account
) -> None:
    slugs = await lock_many(client, moderator, alice, 5)

    first = await log_entries(client, moderator["token"], limit=2)
    rest = await log_entries(client, moderator["token"], limit=20, offset=2)
    past = await log_entries(client, moderator["token"], offset=10)

    assert first["entriesCount"] == rest["entriesCount"] == past["entriesCount"] == 5
    targets = [entry["target"] for entry in first["entries"] + rest["entries"]]
    assert targets == slugs[::-1]
    assert past["entries"] == []
    entry = first["entries"][0]
    assert set(entry) == {
        "id", "createdAt", "moderator", "action", "targetType", "target", "detail", "reason",
    }  # fmt: skip
    assert entry["moderator"] == "mod"
    created = datetime.fromisoformat(entry["createdAt"])
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)


async def test_a_log_page_costs_the_same_statements_whatever_its_size(
    client: httpx.AsyncClient, count_queries: Any, moderator: Account, alice: Account
) -> None:
    await lock_many(client, moderator, alice, 12)
    counts = []
    for limit in (1, 12):
        with count_queries() as counter:
            page = await log_entries(client, moderator["token"], limit=limit)
        assert len(page["entries"]) == limit
        counts.append(
            len([sql for sql in counter.statements if not TRANSACTION_CONTROL.match(sql)])
        )

    assert counts == [LOG_STATEMENTS, LOG_STATEMENTS]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}])
async def test_bad_paging_is_422(
    client: httpx.AsyncClient, moderator: Account, params: dict[str, Any]
) -> None:
    response = await client.get(
        "/api/moderation/log", params=params, headers=auth(moderator["token"])
    )

    assert response.status_code == 422
    assert set(response.json()) == {"errors"}


async def test_a_moderators_entries_outlive_their_account(
    client: httpx.AsyncClient, moderator: Account, admin: Account, alice: Account
) -> None:
    await lock_many(client, moderator, alice, 1)

    gone = await client.request(
        "DELETE",
        "/api/user",
        json={"user": {"password": "correct-horse"}},
        headers=auth(moderator["token"]),
    )

    assert gone.status_code == 204
    [entry] = (await log_entries(client, admin["token"]))["entries"]
    assert entry["moderator"] == "mod"


@pytest.mark.parametrize("reason", ["", "x" * 1001])
async def test_a_bad_reason_on_a_deletion_is_422_and_deletes_nothing(
    client: httpx.AsyncClient, moderator: Account, alice: Account, reason: str
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]

    response = await client.delete(
        f"/api/articles/{slug}", params={"reason": reason}, headers=auth(moderator["token"])
    )

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["reason"]
    assert (await client.get(f"/api/articles/{slug}")).status_code == 200
