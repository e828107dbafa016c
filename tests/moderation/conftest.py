"""Builders for the moderation tests: accounts of each role, the log as the API reads it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from fastboard.users.models import User
from fastboard.users.roles import Role
from tests.conftest import auth, register

Promote = Callable[[str, Role], Awaitable[None]]
Account = dict[str, Any]


@pytest.fixture
def promote(app: FastAPI) -> Promote:
    """``await promote("alice", Role.ADMIN)``: what ``fastboard users set-role`` does,
    without its log entry."""

    async def give(username: str, role: Role) -> None:
        async with app.state.database.writer() as session:
            await session.execute(update(User).where(User.username == username).values(role=role))
            await session.commit()

    return give


@pytest.fixture
async def admin(client: httpx.AsyncClient, promote: Promote) -> Account:
    account = await register(client, "root")
    await promote("root", Role.ADMIN)
    return account


@pytest.fixture
async def moderator(client: httpx.AsyncClient, promote: Promote) -> Account:
    account = await register(client, "mod")
    await promote("mod", Role.MODERATOR)
    return account


async def log_entries(client: httpx.AsyncClient, token: str, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/moderation/log", params=params, headers=auth(token))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page
