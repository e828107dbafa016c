"""A database with no room left: writes get a 503 that says so, reads go on, and once
there is room again writes succeed without a restart; nothing stored before is lost.

SQLite's SQLITE_FULL comes for real two ways: a page limit on the app's connections
(``PRAGMA max_page_count``, anywhere), and a small tmpfs filled to the last byte (where
this machine lets the test mount one). PostgreSQL's disk_full is raised by the server
itself, from a trigger.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text

from fastboard.app import create_app
from fastboard.db import sqlite_file
from fastboard.migrate import upgrade_to_head
from tests.conftest import auth, create_article, make_settings, register

pytestmark = pytest.mark.anyio

FULL = {"errors": {"database": ["is full, try again later"]}}
# Bodies of a few pages each: the database fills in a few writes.
BIG_BODY = "x" * 16_000
MAX_WRITES = 400
# SQLite's own ceiling for max_page_count: no limit.
NO_PAGE_LIMIT = 4_294_967_294


async def sqlite_app(directory: Path, var_dir: Path) -> FastAPI:
    """An app of its own on a migrated SQLite file in ``directory``; no read cache, so
    every read reaches the database."""
    url = f"sqlite+aiosqlite:///{directory / 'fastboard.db'}"
    settings = make_settings(url, var_dir, redis_url=None)
    await anyio.to_thread.run_sync(upgrade_to_head, settings)
    return create_app(settings)


@pytest.fixture
async def client_of() -> AsyncIterator[Any]:
    apps: list[FastAPI] = []

    def client(app: FastAPI) -> httpx.AsyncClient:
        apps.append(app)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")

    yield client
    for app in apps:
        await app.state.database.dispose()


class PageLimit:
    """``PRAGMA max_page_count`` on every connection the app checks out: its database can
    grow to ``pages`` and no further (None: as far as SQLite goes)."""

    def __init__(self) -> None:
        self.pages: int | None = None

    def __call__(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {self.pages or NO_PAGE_LIMIT}")
        cursor.close()


async def page_count(app: FastAPI) -> int:
    async with app.state.database.engine.connect() as conn:
        return int(await conn.scalar(text("PRAGMA page_count")) or 0)


async def write_until_full(
    client: httpx.AsyncClient, token: str
) -> tuple[list[str], httpx.Response]:
    """Create articles until one is refused; returns the acknowledged slugs and the
    refusal."""
    acknowledged: list[str] = []
    for n in range(MAX_WRITES):
        article = {"title": f"Filler {n}", "description": "d", "body": BIG_BODY}
        response = await client.post(
            "/api/articles", json={"article": article}, headers=auth(token)
        )
        if response.status_code != 201:
            return acknowledged, response
        acknowledged.append(response.json()["article"]["slug"])
    raise AssertionError(f"{MAX_WRITES} writes and the database is still not full")


def stored_slugs(database: Path) -> set[str]:
    """The articles in the file, read by SQLite itself, after an integrity check."""
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return {slug for (slug,) in conn.execute("SELECT slug FROM articles")}


async def fill_refuse_and_recover(
    client: httpx.AsyncClient, free_space: Any, database: Path, fill: Any
) -> None:
    """What both ways of filling the database check: refusals, reads, recovery, data."""
    user = await register(client)
    token = user["token"]
    # Big: the WAL holds pages beyond the end of the database file, which a checkpoint
    # must grow the file for.
    before = [
        (await create_article(client, token, title=f"Before {n}", body=BIG_BODY))["slug"]
        for n in range(5)
    ]
    await fill()

    acknowledged, refused = await write_until_full(client, token)
    assert refused.status_code == 503, refused.text
    assert refused.json() == FULL
    assert refused.headers["retry-after"] == "60"
    # Other writes are refused the same way, never with a 500.
    comment = {"comment": {"body": BIG_BODY}}
    commented = await client.post(
        f"/api/articles/{before[0]}/comments", json=comment, headers=auth(token)
    )
    assert commented.status_code == 503, commented.text
    assert commented.json() == FULL
    # Reads go on.
    listed = await client.get("/api/articles", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    assert {a["slug"] for a in listed.json()["articles"]} >= set(before + acknowledged)
    assert (await client.get(f"/api/articles/{before[0]}")).status_code == 200

    await free_space()
    again = await create_article(client, token, title="After", body=BIG_BODY)
    commented = await client.post(
        f"/api/articles/{before[0]}/comments", json=comment, headers=auth(token)
    )
    assert commented.status_code == 200, commented.text

    assert stored_slugs(database) >= {*before, *acknowledged, again["slug"]}


async def test_a_sqlite_database_at_its_page_limit_refuses_writes_with_503_until_it_has_room(
    tmp_path: Path, client_of: Any
) -> None:
    app = await sqlite_app(tmp_path, tmp_path / "var")
    limit = PageLimit()
    event.listen(app.state.database.sync_engine, "checkout", limit)

    async def fill() -> None:
        limit.pages = await page_count(app) + 8  # room for a write or two

    async def free_space() -> None:
        limit.pages = None

    async with client_of(app) as client:
        await fill_refuse_and_recover(client, free_space, tmp_path / "fastboard.db", fill)


async def test_a_write_refused_for_room_says_full_wherever_it_ran_out(
    tmp_path: Path, client_of: Any
) -> None:
    """Out of room inside a savepoint (the slug retry around an article's insert), SQLite
    rolls the whole transaction back; the answer still says why. Each margin runs out at
    another statement of the write."""
    app = await sqlite_app(tmp_path, tmp_path / "var")
    limit = PageLimit()
    event.listen(app.state.database.sync_engine, "checkout", limit)
    async with client_of(app) as client:
        token = (await register(client))["token"]
        refusals = []
        for margin in range(1, 13):
            limit.pages = await page_count(app) + margin
            _, refused = await write_until_full(client, token)
            refusals.append((refused.status_code, refused.json()))
            limit.pages = None
    assert refusals == [(503, FULL)] * 12


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for the test; skipped where mounting is not allowed (not
    root, a container without the capability), in CI too: the page-limit test above
    covers the same path everywhere."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mount = shutil.which("mount")
    if mount is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    command = [mount, "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount_point)]
    mounted = subprocess.run(command, capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


async def test_a_full_disk_refuses_sqlite_writes_with_503_and_a_checkpoint_breaks_no_read(
    small_disk: Path, tmp_path: Path, client_of: Any
) -> None:
    app = await sqlite_app(small_disk, tmp_path / "var")
    database = small_disk / "fastboard.db"
    assert sqlite_file(app.state.settings.database_url) == database
    ballast = small_disk / "ballast"
    checkpoint: list[str] = []

    async def fill() -> None:
        # All the room but a few pages, so the database grows into a full disk.
        free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
        with ballast.open("wb") as file:
            file.write(b"\0" * max(free - 64 * 1024, 0))

    async def free_space() -> None:
        # A checkpoint on a full disk first: the WAL keeps what it could not copy.
        with sqlite3.connect(database) as conn:
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.OperationalError as exc:
                checkpoint.append(str(exc))
        listed = await client.get("/api/articles", params={"limit": 100})
        assert listed.status_code == 200, listed.text
        ballast.unlink()

    async with client_of(app) as client:
        await fill_refuse_and_recover(client, free_space, database, fill)
    # The checkpoint could not copy the WAL into the file on the full disk.
    assert checkpoint == ["database or disk is full"]


@pytest.mark.own_app  # a trigger on the app's own database
@pytest.mark.parametrize(
    ("condition", "answer"),
    [
        ("disk_full", FULL),
        ("out_of_memory", {"errors": {"database": ["is unavailable, try again shortly"]}}),
    ],
)
async def test_postgresql_out_of_room_is_a_503(
    app: FastAPI, client: httpx.AsyncClient, condition: str, answer: dict[str, Any]
) -> None:
    """PostgreSQL's insufficient resources (SQLSTATE class 53), raised by the server."""
    database = app.state.database
    if database.settings.is_sqlite:
        pytest.skip("a PostgreSQL error")
    user = await register(client)
    article = await create_article(client, user["token"])
    raising = f"""
        CREATE FUNCTION fastboard_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'no room' USING ERRCODE = '{condition}'; END $$
    """
    async with database.engine.begin() as conn:
        await conn.execute(text(raising))
        await conn.execute(
            text(
                "CREATE TRIGGER fastboard_test_refuse BEFORE INSERT ON comments"
                " FOR EACH ROW EXECUTE FUNCTION fastboard_test_refuse()"
            )
        )
    try:
        comment = {"comment": {"body": "Hi"}}
        response = await client.post(
            f"/api/articles/{article['slug']}/comments", json=comment, headers=auth(user["token"])
        )
    finally:
        async with database.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER fastboard_test_refuse ON comments"))
            await conn.execute(text("DROP FUNCTION fastboard_test_refuse()"))

    assert response.status_code == 503, response.text
    assert response.json() == answer
    assert "retry-after" in response.headers
