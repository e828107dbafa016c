"""Helpers for the users tests: read what the API stored, straight from the database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from fastboard.users.models import User

StoredUser = Callable[[str], Awaitable[dict[str, Any] | None]]


@pytest.fixture
def stored_user(app: FastAPI) -> StoredUser:
    """``await stored_user("alice")``: the users row as a dict of columns, or None."""

    async def read(username: str) -> dict[str, Any] | None:
        async with app.state.database.writer() as session:
            user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            return None
        return {column.key: getattr(user, column.key) for column in User.__table__.columns}

    return read
