"""Role changes, suspensions and deleted accounts show in the next anonymous read, in
every worker, although anonymous reads come from the shared cache."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from fastboard.app import create_app
from fastboard.settings import Settings
from tests.conftest import CachedReads, auth, create_article, require_redis
from tests.moderation.conftest import Account

pytestmark = pytest.mark.anyio


@pytest.fixture
async def second_worker(
    redis_url: str | None, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """Another app on the same database and Redis, as another Gunicorn worker is."""
    require_redis(redis_url)
    other = create_app(settings)
    transport = httpx.ASGITransport(app=other)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    await other.state.live.close()
    await other.state.read_cache.close()
    await other.state.database.dispose()


async def authors(client: httpx.AsyncClient, slug: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The author as the anonymous list and the anonymous article show them."""
    listed = (await client.get("/api/articles")).json()["articles"][0]["author"]
    single = (await client.get(f"/api/articles/{slug}")).json()["article"]["author"]
    return listed, single


async def cached_by(client: httpx.AsyncClient, count_queries: Any, slug: str) -> None:
    """Read anonymously until the shared cache answers without the database."""
    await authors(client, slug)
    with count_queries() as counter:
        await authors(client, slug)
    assert counter.count == 0


@pytest.mark.own_app  # two apps, so real commits
async def test_a_role_change_shows_in_every_workers_next_anonymous_read(
    client: httpx.AsyncClient,
    second_worker: httpx.AsyncClient,
    count_queries: Any,
    admin: Account,
    alice: Account,
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]
    await cached_by(client, count_queries, slug)  # cached, in Redis, for both workers

    changed = await second_worker.put(
        "/api/profiles/alice/role", json={"role": "moderator"}, headers=auth(admin["token"])
    )

    assert changed.status_code == 200
    for worker in (client, second_worker):
        listed, single = await authors(worker, slug)
        assert listed["role"] == single["role"] == "moderator"


@pytest.mark.own_app
async def test_a_suspension_and_a_deletion_show_in_every_workers_next_anonymous_read(
    client: httpx.AsyncClient,
    second_worker: httpx.AsyncClient,
    count_queries: Any,
    admin: Account,
    alice: Account,
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]
    await cached_by(client, count_queries, slug)
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    suspended = await second_worker.post(
        "/api/profiles/alice/suspension",
        json={"suspension": {"until": until, "reason": "spam"}},
        headers=auth(admin["token"]),
    )

    assert suspended.status_code == 200
    with count_queries() as counter:
        await authors(client, slug)
    assert counter.count > 0  # the cached pages were made old: the database answered
    await second_worker.delete("/api/profiles/alice/suspension", headers=auth(admin["token"]))
    await cached_by(client, count_queries, slug)

    gone = await second_worker.request(
        "DELETE",
        "/api/user",
        json={"user": {"password": "correct-horse"}},
        headers=auth(alice["token"]),
    )

    assert gone.status_code == 204
    for worker in (client, second_worker):
        listed, single = await authors(worker, slug)
        assert listed["username"] == single["username"] == "[deleted]"


async def test_a_lock_shows_in_the_next_anonymous_read_and_leaves_other_articles_cached(
    client: httpx.AsyncClient, cached_reads: CachedReads, moderator: Account, alice: Account
) -> None:
    locked = f"/api/articles/{(await create_article(client, alice['token']))['slug']}"
    other = f"/api/articles/{(await create_article(client, alice['token']))['slug']}"
    await cached_reads.warm(locked, other)

    response = await client.post(f"{locked}/lock", headers=auth(moderator["token"]))

    assert response.status_code == 200
    # Only the locked article was evicted: the other one is still answered from the cache.
    assert await cached_reads.served(locked, other) == {locked: False, other: True}
    assert (await client.get(locked)).json()["article"]["locked"] is True
    assert (await client.get(other)).json()["article"]["locked"] is False
    await client.delete(f"{locked}/lock", headers=auth(moderator["token"]))
    assert (await client.get(locked)).json()["article"]["locked"] is False
