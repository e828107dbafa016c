"""``release_connection``: a session that has written nothing gives its connection back for
slow work, and one with writes is refused, so they stay in the request's one transaction.

They count the app's pooled connections, so each runs on an app of its own (``own_app``).
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from fastboard.db import release_connection, written_tables
from fastboard.users.models import User

pytestmark = [pytest.mark.anyio, pytest.mark.own_app]


def new_user(name: str) -> User:
    return User(username=name, email=f"{name}@example.com", password_hash="unused")


async def test_a_session_that_only_read_gives_its_connection_back(app: FastAPI) -> None:
    database = app.state.database
    async with database.writer() as session:
        session.add(new_user("kept"))
        await session.commit()
    async with database.writer() as session:
        user = await session.scalar(select(User).where(User.username == "kept"))
        assert database.pool_status()["checkedout"] == 1

        await release_connection(session)

        assert database.pool_status()["checkedout"] == 0
        assert user is not None
        assert user.username == "kept"  # still loaded: no lazy reload after the release
        user.username = "renamed"  # and still tracked: the next transaction writes it
        await session.commit()
    async with database.reader() as session:
        assert await session.scalar(select(User.username)) == "renamed"


async def test_pending_changes_are_refused(app: FastAPI) -> None:
    async with app.state.database.writer() as session:
        session.add(new_user("pending"))

        with pytest.raises(RuntimeError):
            await release_connection(session)


async def test_flushed_writes_are_refused(app: FastAPI) -> None:
    async with app.state.database.writer() as session:
        session.add(new_user("flushed"))
        await session.flush()

        with pytest.raises(RuntimeError):
            await release_connection(session)
        await session.rollback()
    async with app.state.database.reader() as session:
        assert await session.scalar(select(User.username)) is None


async def test_statements_that_write_are_refused(app: FastAPI) -> None:
    async with app.state.database.writer() as session:
        await session.execute(update(User).values(bio="x"))
        assert written_tables(session) == {"users"}

        with pytest.raises(RuntimeError):
            await release_connection(session)


async def test_a_release_inside_a_savepoint_is_refused(app: FastAPI) -> None:
    async with app.state.database.writer() as session, session.begin_nested():
        with pytest.raises(RuntimeError):
            await release_connection(session)
