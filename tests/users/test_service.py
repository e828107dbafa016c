"""The lost-race paths of the users service, forced deterministically.

Over HTTP a race between "is this name free?" and the INSERT happens only by chance; here
the check is made to miss a row that another transaction has committed in between, so the
unique constraint is what catches the duplicate. The service must then answer the same 422
as the early check, and leave the request's transaction usable (on PostgreSQL an unhandled
IntegrityError would abort it).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.errors import Invalid
from fastboard.users import repository, service
from fastboard.users.models import User
from fastboard.users.schemas import NewUser, UpdateUser

pytestmark = pytest.mark.anyio

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g"


@pytest.fixture
def check_misses_first_time(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Make the first ``taken_fields`` call answer "nothing taken", as if it had run just
    before a concurrent transaction committed; later calls ask the database."""
    real = repository.taken_fields
    calls: list[dict[str, Any]] = []

    async def stale_then_real(session: AsyncSession, **kwargs: Any) -> set[str]:
        calls.append(kwargs)
        if len(calls) == 1:
            return set()
        return await real(session, **kwargs)

    monkeypatch.setattr(repository, "taken_fields", stale_then_real)
    return calls


async def _commit_user(app: FastAPI, username: str, email: str) -> None:
    async with app.state.database.writer() as session:
        await repository.add(session, username=username, email=email, password_hash=HASH)
        await session.commit()


async def _still_usable(session: AsyncSession) -> None:
    assert await session.scalar(text("SELECT 1")) == 1


@pytest.mark.parametrize(
    ("username", "email", "field"),
    [("alice", "other@example.com", "username"), ("other", "alice@example.com", "email")],
)
async def test_register_that_loses_the_race_is_invalid_naming_the_field(
    app: FastAPI,
    check_misses_first_time: list[dict[str, Any]],
    username: str,
    email: str,
    field: str,
) -> None:
    await _commit_user(app, "alice", "alice@example.com")
    data = NewUser(username=username, email=email, password="correct-horse")

    async with app.state.database.writer() as session:
        with pytest.raises(Invalid) as raised:
            await service.register(session, data, app.state.settings)
        await _still_usable(session)
        count = await session.scalar(select(func.count()).select_from(User))

    assert len(check_misses_first_time) == 2  # the stale check, then the one after the race
    assert raised.value.field == field
    assert raised.value.message == "has already been taken"
    assert count == 1


async def test_update_that_loses_the_race_is_invalid_and_changes_nothing(
    app: FastAPI, check_misses_first_time: list[dict[str, Any]]
) -> None:
    await _commit_user(app, "bob", "bob@example.com")
    await _commit_user(app, "carol", "carol@example.com")

    async with app.state.database.writer() as session:
        carol = await repository.get_by_username(session, "carol")
        assert carol is not None
        with pytest.raises(Invalid) as raised:
            await service.update(session, carol, UpdateUser(username="bob"), app.state.settings)
        await _still_usable(session)
        await session.commit()

    assert raised.value.field == "username"
    async with app.state.database.writer() as session:
        names = set(await session.scalars(select(User.username)))
    assert names == {"bob", "carol"}
