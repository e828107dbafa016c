"""Migration 0008 on a populated 0005 database (0007, search, runs first): what was written
before it starts its history as version 1, scores start at 0, and the API reads the
backfilled history."""

from __future__ import annotations

from datetime import UTC, datetime

import anyio.to_thread
import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from fastboard.app import create_app
from fastboard.fields import TAG_SEPARATOR
from fastboard.migrate import upgrade_to_head
from fastboard.settings import Settings
from tests.conftest import _close
from tests.test_migrations import _downgrade_to, _inspect, _sql, _upgrade_to, fresh_settings

pytestmark = pytest.mark.anyio
__all__ = ["fresh_settings"]  # the fixture, used here

CREATED = datetime(2026, 1, 1, tzinfo=UTC)
UPDATED = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


async def _populate(settings: Settings) -> None:
    """At 0005: two users, two articles (one tagged, on a second board), two comments."""
    when = {"created": CREATED, "updated": UPDATED}
    await _sql(
        settings,
        *(
            (
                "INSERT INTO users (id, username, email, password_hash, bio, created_at,"
                " updated_at) VALUES (:id, :name, :email, 'x', '', :created, :created)",
                {**when, "id": n, "name": name, "email": f"{name}@example.com"},
            )
            for n, name in [(1, "ann"), (2, "ben")]
        ),
        (
            "INSERT INTO boards (id, category_id, slug, name, description, position,"
            " archived, articles_count)"
            " SELECT 2, id, 'chess', 'Chess', '', 2, false, 1 FROM categories",
            {},
        ),
        (
            "INSERT INTO articles (id, slug, title, description, body, author_id, board_id,"
            " favorites_count, created_at, updated_at) VALUES"
            " (1, 'first', 'First', 'd1', 'body one', 1, 1, 0, :created, :updated),"
            " (2, '서버-이야기', '서버 이야기', 'd2', '서버를', 2, 2, 0, :created, :created)",
            when,
        ),
        ("INSERT INTO tags (id, name, articles_count) VALUES (1, 'b', 1), (2, 'a', 1)", {}),
        ("INSERT INTO article_tags (article_id, tag_id) VALUES (1, 1), (1, 2)", {}),
        (
            "INSERT INTO comments (id, article_id, author_id, body, created_at, updated_at)"
            " VALUES (1, 1, 2, 'nice', :created, :updated),"
            " (2, 2, 1, '좋아요', :created, :created)",
            when,
        ),
    )


async def test_0008_starts_the_history_of_what_is_there(fresh_settings: Settings) -> None:
    await anyio.to_thread.run_sync(_upgrade_to, fresh_settings, "0005")
    await _populate(fresh_settings)

    await anyio.to_thread.run_sync(upgrade_to_head, fresh_settings)

    articles = await _sql(
        fresh_settings,
        (
            "SELECT article_id, number, slug, title, description, body, tags, board,"
            " editor_id FROM article_versions ORDER BY article_id",
            {},
        ),
    )
    comments = await _sql(
        fresh_settings,
        (
            "SELECT comment_id, article_id, number, body, editor_id FROM comment_versions"
            " ORDER BY comment_id",
            {},
        ),
    )
    scores = await _sql(fresh_settings, ("SELECT id, score FROM comments ORDER BY id", {}))
    first_tags = articles[0][6].split(TAG_SEPARATOR)
    assert sorted(first_tags) == ["a", "b"]
    assert [row[:6] + row[7:] for row in articles] == [
        (1, 1, "first", "First", "d1", "body one", "general", 1),
        (2, 1, "서버-이야기", "서버 이야기", "d2", "서버를", "chess", 2),
    ]
    assert articles[1][6] == ""
    assert comments == [(1, 1, 1, "nice", 2), (2, 2, 1, "좋아요", 1)]
    assert scores == [(1, 0), (2, 0)]
    state = await _inspect(fresh_settings)
    assert state["diff"] == []

    # The API reads it: version 1 as of the last update, by the author.
    app = create_app(fresh_settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            article = (await client.get("/api/articles/first/history")).json()
            comment = (await client.get("/api/articles/first/comments/1/history")).json()
            korean = (await client.get("/api/articles/서버-이야기/history.csv")).text
    finally:
        await _close(app)
    [version] = article["versions"]
    assert (version["version"], version["createdAt"], version["tagList"]) == (
        1,
        "2026-01-02T03:04:05.678Z",
        ["a", "b"],
    )
    assert version["editor"]["username"] == "ann"
    assert comment["versions"][0]["body"] == "nice"
    assert comment["versions"][0]["editor"]["username"] == "ben"
    assert "서버를" in korean

    # A vote other than ±1 is refused by the table itself.
    with pytest.raises(IntegrityError):
        await _sql(
            fresh_settings,
            (
                "INSERT INTO comment_votes (comment_id, user_id, value, created_at)"
                " VALUES (1, 1, 2, :now)",
                {"now": CREATED},
            ),
        )

    # And back to 0007: the tables gone, the content still there, and the search's
    # SQLite triggers too (neither direction rebuilds a table).
    triggers = await _search_triggers(fresh_settings)
    await anyio.to_thread.run_sync(_downgrade_to, fresh_settings, "0007")
    assert await _sql(fresh_settings, ("SELECT count(*) FROM comments", {})) == [(2,)]
    state = await _inspect(fresh_settings)
    assert not {"article_versions", "comment_versions", "comment_votes"} & state["tables"]
    assert await _search_triggers(fresh_settings) == triggers


async def _search_triggers(settings: Settings) -> list[str]:
    if not settings.is_sqlite:
        return []
    rows = await _sql(
        settings, ("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name", {})
    )
    names = [name for (name,) in rows]
    assert "comments_search_update" in names
    return names
