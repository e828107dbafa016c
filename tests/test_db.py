"""The connection pool after the server closed connections; the after-commit hook."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, event, select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from fastboard.articles.models import Tag
from fastboard.db import Database, ReadSessionDep, SessionDep, Written, changed
from fastboard.errors import Invalid
from fastboard.profiles.models import Follow
from fastboard.settings import Settings
from tests.conftest import auth, create_article, register

pytestmark = pytest.mark.anyio


async def _terminate_app_connections(url: str) -> int:
    """Close the app's server-side connections, as a PostgreSQL restart would."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = 'fastboard' AND datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await engine.dispose()
    return int(killed or 0)


@pytest.mark.own_app  # it closes the app's connections, and the test's with them
async def test_a_connection_the_server_closed_is_replaced_not_handed_out(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    database = app.state.database
    if database.settings.is_sqlite:
        pytest.skip("SQLite has no server to close connections")
    assert (await client.get("/api/articles")).status_code == 200
    assert database.pool_status()["checkedin"] >= 1

    assert await _terminate_app_connections(database.settings.database_url) >= 1
    await asyncio.sleep(0.2)  # let the event loop read the server's goodbye

    opened: list[object] = []
    event.listen(database.sync_engine, "connect", lambda *args: opened.append(args))
    # Distinct pages: each one a database read, whatever the read cache holds.
    responses = [await client.get("/api/articles", params={"offset": n}) for n in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert len(opened) == 1  # one fresh connection, reused afterwards


# The after-commit hook: what subscribers (the read cache) learn about committed writes.


def _hook_calls(app: FastAPI, events: list[object]) -> None:
    async def record(written: Written) -> None:
        events.append(written)

    app.state.database.after_commit(record)


def _log_response_start(app: FastAPI, events: list[object]) -> httpx.AsyncClient:
    """A client whose transport notes when the response starts, among the hook calls."""

    async def noting(scope: Any, receive: Any, send: Any) -> None:
        async def send_noted(message: Any) -> None:
            if message["type"] == "http.response.start":
                events.append("response")
            await send(message)

        await app(scope, receive, send_noted)

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=noting), base_url="http://test")


@pytest.mark.own_app  # its after-commit hooks would outlive it in a shared app
async def test_a_committed_write_reports_its_tables_before_the_response_starts(
    app: FastAPI,
) -> None:
    events: list[object] = []
    _hook_calls(app, events)
    async with _log_response_start(app, events) as client:
        user = await register(client)
        events.clear()
        article = await create_article(client, user["token"], tagList=["t"])
        comment = {"comment": {"body": "Hi"}}
        response = await client.post(
            f"/api/articles/{article['slug']}/comments", json=comment, headers=auth(user["token"])
        )

    assert response.status_code == 200
    # The live events the services named travel as notes (tests/live checks them).
    notes = [
        [(note.topic, note.event) for note in event.notes]  # type: ignore[attr-defined]
        for event in events
        if isinstance(event, Written)
    ]
    assert notes == [
        [("board:general", "article.created"), ("articles", "article.created")],
        [(f"article:{article['slug']}", "comment.created")],  # on your own article: no "me"
    ]
    events = [replace(e, notes=()) if isinstance(e, Written) else e for e in events]
    # (The versions that start the article's and the comment's history name no key: the
    # history is never cached.)
    article_tables = frozenset(
        {"articles", "article_counts", "tags", "article_tags", "article_versions"}
    )
    assert events == [
        # The services named what the new article changes: the lists, the tags and the
        # count of its board.
        Written(
            article_tables | {"boards"},
            frozenset({"articles", "tags", "board-counts"}),
            article_tables | {"boards"},
        ),
        "response",
        Written(
            frozenset({"comments", "comment_versions"}),
            frozenset({f"comments:{article['slug']}"}),
            frozenset({"comments", "comment_versions"}),
        ),
        "response",
    ]


@pytest.mark.own_app  # its after-commit hooks and routes would outlive it in a shared app
async def test_a_table_written_without_named_changes_is_reported_whole(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    events: list[Written] = []

    async def record(written: Written) -> None:
        events.append(written)

    app.state.database.after_commit(record)

    @app.post("/test-two-tables")
    async def two_tables(session: SessionDep) -> None:
        session.add(Tag(name="described"))
        await session.flush()
        changed(session, Tag, keys=["tags"])
        await session.execute(text("SELECT 1"))  # a read is no write
        await session.execute(delete(Follow))

    assert (await client.post("/test-two-tables")).status_code == 200

    [written] = events
    assert written.tables == {"tags", "follows"}
    assert written.keys == {"tags"}
    assert written.undescribed == {"follows"}


@pytest.mark.own_app  # its after-commit hooks and routes would outlive it in a shared app
async def test_named_changes_alone_are_reported(app: FastAPI, client: httpx.AsyncClient) -> None:
    """A write by a path the session does not see (raw SQL) can still name its keys."""
    events: list[Written] = []

    async def record(written: Written) -> None:
        events.append(written)

    app.state.database.after_commit(record)

    @app.post("/test-named-only")
    async def named_only(session: SessionDep) -> None:
        changed(session, keys=["article:1"])

    assert (await client.post("/test-named-only")).status_code == 200
    assert events == [Written(frozenset(), frozenset({"article:1"}))]


@pytest.mark.own_app  # its after-commit hooks would outlive it in a shared app
async def test_a_favorite_reports_the_favorites_and_the_counter_it_wrote(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # On PostgreSQL both writes are one statement, the favorite inside its WITH.
    user = await register(client)
    slug = (await create_article(client, user["token"]))["slug"]
    events: list[object] = []
    _hook_calls(app, events)

    for method in ("POST", "DELETE", "DELETE"):
        response = await client.request(
            method, f"/api/articles/{slug}/favorite", headers=auth(user["token"])
        )
        assert response.status_code == 200, response.text

    both = frozenset({"favorites", "articles"})
    assert [written.tables for written in events[:2]] == [both, both]  # type: ignore[attr-defined]
    # The second unfavorite changes no row: it still reports the table it tried to write,
    # and names no key (nothing shown changed).
    assert len(events) == 3
    assert "favorites" in events[2].tables  # type: ignore[attr-defined]
    assert events[2].keys == frozenset()  # type: ignore[attr-defined]
    assert response.json()["article"]["favoritesCount"] == 0


@pytest.mark.own_app  # its after-commit hooks would outlive it in a shared app
async def test_reads_and_failed_writes_report_nothing(
    app: FastAPI, client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    events: list[object] = []
    _hook_calls(app, events)

    @app.post("/test-write-then-fail")
    async def write_then_fail(session: SessionDep) -> None:
        session.add(Tag(name="never-stored"))
        await session.flush()
        raise Invalid("refused after writing")

    assert (await client.get("/api/articles")).status_code == 200
    assert (await client.post("/test-write-then-fail")).status_code == 422
    taken = {"username": "alice", "email": "other@example.com", "password": "correct-horse"}
    assert (await client.post("/api/users", json={"user": taken})).status_code == 422

    assert events == []
    async with app.state.database.reader() as session:
        assert await session.scalar(select(Tag).where(Tag.name == "never-stored")) is None


@pytest.mark.own_app  # its after-commit hooks would outlive it in a shared app
async def test_a_failing_hook_neither_fails_the_write_nor_skips_the_others(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(written: Written) -> None:
        raise RuntimeError("hook broke")

    events: list[object] = []
    app.state.database.after_commit(broken)
    _hook_calls(app, events)

    user = await register(client)

    assert user["username"]
    assert events == [Written(frozenset({"users"}), described=frozenset({"users"}))]
    assert "hook broke" in caplog.text


# Read sessions: handed out by a plain dependency, closed once the request is answered.


@pytest.mark.own_app  # it adds a route
async def test_a_read_session_is_closed_after_the_request_even_when_it_fails(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    seen: list[AsyncSession] = []

    @app.get("/test-read-then-fail")
    async def read_then_fail(session: ReadSessionDep) -> None:
        seen.append(session)
        # Holds a connection until the session closes (ORM use, not read_rows).
        assert await session.scalar(select(Tag.id).limit(1)) is None
        raise Invalid("refused after reading")

    response = await client.get("/test-read-then-fail")

    assert response.status_code == 422
    assert len(seen) == 1
    assert not seen[0].in_transaction()
    assert app.state.database.pool_status().get("checkedout", 0) == 0


async def test_a_read_session_needs_the_middleware_that_closes_it(settings: Settings) -> None:
    bare = FastAPI()
    bare.state.database = Database(settings)

    @bare.get("/read")
    async def read(session: ReadSessionDep) -> None:
        pass

    transport = httpx.ASGITransport(app=bare)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(RuntimeError, match="CloseReadSessions"):
            await client.get("/read")
