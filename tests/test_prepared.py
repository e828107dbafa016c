"""Prebuilt SELECTs on the driver's prepared statements: what is compiled for the driver,
and a reader session borrowing a pooled connection per statement (PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import (
    BigInteger,
    Integer,
    Numeric,
    String,
    Table,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator
from starlette.requests import Request

from fastboard.articles.models import Tag
from fastboard.db import (
    Database,
    ReadSessionDep,
    Written,
    _request_session,
    changed,
    written_tables,
)
from fastboard.prepared import compile_for_driver, read_rows, write_alone, write_rows
from fastboard.settings import Settings

pytestmark = pytest.mark.anyio

ASYNCPG = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


class Shouting(TypeDecorator[str]):
    """A type whose values the dialect must convert on the way out."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else value.upper()


def test_parameters_are_laid_out_in_the_drivers_order_with_constants_filled_in() -> None:
    statement = select(Tag.name).where(
        Tag.id == bindparam("id", type_=BigInteger),
        Tag.name != "hidden",
        Tag.articles_count >= bindparam("least", type_=Integer),
    )

    driver = compile_for_driver(statement, ASYNCPG)

    assert driver is not None
    assert driver.sql.count("$") == 3
    assert driver.arguments({"least": 2, "id": 7}) == [7, "hidden", 2]


def test_integers_written_into_the_sql_are_numbers_only() -> None:
    limit = bindparam("limit", type_=Integer, literal_execute=True)
    offset = bindparam("offset", type_=Integer, literal_execute=True)
    statement = select(Tag.name).order_by(Tag.name).limit(limit).offset(offset)

    driver = compile_for_driver(statement, ASYNCPG)

    assert driver is not None
    assert driver.sql_for({"limit": 20, "offset": 40}).endswith("LIMIT 20 OFFSET 40")
    assert driver.arguments({"limit": 20, "offset": 40}) == []
    with pytest.raises(ValueError, match="invalid literal"):
        driver.sql_for({"limit": "1; DROP TABLE tags", "offset": 0})


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(
            select(Tag.name).where(Tag.id.in_(bindparam("ids", expanding=True))), id="in-list"
        ),
        pytest.param(select(literal("a", Shouting()).label("loud")), id="result-processor"),
        pytest.param(select(literal(1, Numeric()).label("n")), id="type-code-processor"),
        pytest.param(
            insert(Tag).values(name=bindparam("tag_name", type_=String)),
            id="python-side-default",
        ),
    ],
)
def test_what_needs_core_at_execution_time_is_left_to_core(statement: Any) -> None:
    assert compile_for_driver(statement, ASYNCPG) is None


# PostgreSQL: a reader session of an app whose pool is really used (not a test's connection).


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    if settings.is_sqlite:
        pytest.skip("the driver path is asyncpg's")
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()


async def test_each_read_borrows_a_pooled_connection_and_gives_it_back(
    database: Database,
) -> None:
    statement = select(func.now().label("now"), literal(1, Integer).label("one"))
    async with database.reader() as session:
        rows = await read_rows(session, statement, {})
        assert database.pool_status()["checkedout"] == 0
        assert not session.in_transaction()
        again = await read_rows(session, statement, {})

    assert rows[0]["one"] == again[0]["one"] == 1
    assert rows[0]["now"].tzinfo is not None
    assert rows[0]["now"].astimezone(UTC) <= datetime.now(UTC)
    assert database.pool_status()["checkedin"] == 1  # the same connection, twice


async def test_a_failing_statement_raises_what_core_would(database: Database) -> None:
    statement = select(cast(bindparam("text", type_=String), Integer).label("number"))
    assert compile_for_driver(statement, ASYNCPG) is not None
    async with database.reader() as session:
        with pytest.raises(DBAPIError) as raised:
            await read_rows(session, statement, {"text": "twelve"})
        rows = await read_rows(session, select(literal(2, Integer).label("two")), {})

    assert "invalid input syntax for type integer" in str(raised.value)
    assert not raised.value.connection_invalidated
    assert rows[0]["two"] == 2
    assert database.pool_status()["checkedout"] == 0


async def test_a_connection_lost_mid_statement_is_discarded_not_pooled(
    database: Database,
) -> None:
    suicide = select(func.pg_terminate_backend(func.pg_backend_pid()).label("gone"))
    async with database.reader() as session:
        await read_rows(session, select(literal(1, Integer).label("one")), {})
        with pytest.raises(DBAPIError) as raised:
            await read_rows(session, suicide, {})
        assert raised.value.connection_invalidated
        rows = await read_rows(session, select(literal(3, Integer).label("three")), {})

    assert rows[0]["three"] == 3  # on a new connection
    assert database.pool_status()["checkedout"] == 0


@pytest.mark.own_app  # it adds a route, and loses a pooled connection
async def test_the_app_answers_503_when_a_read_loses_its_connection(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    if settings.is_sqlite:
        pytest.skip("the driver path is asyncpg's")

    @app.get("/test-lost")
    async def lost(session: ReadSessionDep) -> dict[str, Any]:
        suicide = select(func.pg_terminate_backend(func.pg_backend_pid()).label("gone"))
        await read_rows(session, suicide, {})
        return {}

    response = await client.get("/test-lost")

    assert response.status_code == 503, response.text
    assert (await client.get("/api/tags")).status_code == 200
    assert app.state.database.pool_status()["checkedout"] == 0


async def test_writes_run_inside_the_sessions_transaction_and_report_their_tables(
    database: Database,
) -> None:
    # Tags only: nothing else to set up. The first write begins the transaction (through
    # SQLAlchemy), the second goes to the driver; the rollback takes back both.
    tags: Table = Tag.__table__  # type: ignore[assignment]
    values = {"name": bindparam("tag_name", type_=String), "articles_count": 0}
    statement = insert(tags).values(values).returning(tags.c.id)
    assert compile_for_driver(statement, ASYNCPG) is not None
    names = [f"prepared-{uuid4().hex[:8]}" for _ in range(2)]
    async with database.writer() as session:
        ids = [
            (await write_rows(session, statement, {"tag_name": name}, writes=(Tag,)))[0]["id"]
            for name in names
        ]
        assert written_tables(session) == {"tags"}
        await session.rollback()
    async with database.reader() as session:
        found = await read_rows(session, select(Tag.id).where(Tag.name.in_(names)), {})

    assert len(set(ids)) == 2
    assert list(found) == []


async def test_a_write_alone_commits_by_itself_on_a_pooled_connection(
    database: Database,
) -> None:
    # The request's only statement: no BEGIN, no COMMIT, no connection kept by the
    # session; PostgreSQL commits the one statement, and the hooks learn its tables.
    tags: Table = Tag.__table__  # type: ignore[assignment]
    values = {"name": bindparam("tag_name", type_=String), "articles_count": 0}
    statement = insert(tags).values(values).returning(tags.c.id)
    name = f"alone-{uuid4().hex[:8]}"
    async with database.writer() as session:
        rows = await write_alone(session, statement, {"tag_name": name}, writes=(Tag,))
        assert not session.in_transaction()
        assert database.pool_status()["checkedout"] == 0
        assert written_tables(session) == {"tags"}
        # Anything more would be a second transaction.
        with pytest.raises(RuntimeError, match="write_alone"):
            await session.execute(select(literal(1, Integer)))
        await session.rollback()
    async with database.reader() as session:
        found = await read_rows(session, select(Tag.id).where(Tag.name == name), {})
    try:
        assert [row["id"] for row in found] == [rows[0]["id"]]
    finally:
        async with database.writer() as session, session.begin():
            await session.execute(tags.delete().where(tags.c.name == name))


async def test_a_write_alone_after_the_transaction_began_joins_it(database: Database) -> None:
    tags: Table = Tag.__table__  # type: ignore[assignment]
    values = {"name": bindparam("tag_name", type_=String), "articles_count": 0}
    statement = insert(tags).values(values).returning(tags.c.id)
    name = f"joined-{uuid4().hex[:8]}"
    async with database.writer() as session:
        await session.execute(select(literal(1, Integer)))  # begins the transaction
        await write_alone(session, statement, {"tag_name": name}, writes=(Tag,))
        await session.rollback()
    async with database.reader() as session:
        found = await read_rows(session, select(Tag.id).where(Tag.name == name), {})

    assert list(found) == []


def _hot_statements() -> list[Any]:
    from fastboard.articles import repository as articles
    from fastboard.comments import repository as comments

    return [
        articles._flags_statement("postgresql"),
        articles._toggled_statement(on=True),
        articles._toggled_statement(on=False),
        comments._add_as_statement(),
    ]


@pytest.mark.parametrize("index", range(4), ids=["flags", "favorite", "unfavorite", "comment"])
def test_the_hot_statements_run_as_the_drivers_prepared_statements(index: int) -> None:
    """Left to Core, they would still answer right, only slower (and a write alone would
    begin a transaction): nothing else would notice."""
    assert compile_for_driver(_hot_statements()[index], ASYNCPG) is not None


def _insert_tag() -> Any:
    tags: Table = Tag.__table__  # type: ignore[assignment]
    values = {"name": bindparam("tag_name", type_=String), "articles_count": 0}
    return insert(tags).values(values).returning(tags.c.id)


async def _delete_tags(database: Database, *names: str) -> None:
    tags: Table = Tag.__table__  # type: ignore[assignment]
    async with database.writer() as session, session.begin():
        await session.execute(tags.delete().where(tags.c.name.in_(names)))


async def test_a_second_write_alone_is_refused(database: Database) -> None:
    # It would commit by itself too: half a request's writes could land.
    first, second = f"first-{uuid4().hex[:8]}", f"second-{uuid4().hex[:8]}"
    try:
        async with database.writer() as session:
            await write_alone(session, _insert_tag(), {"tag_name": first}, writes=(Tag,))
            with pytest.raises(RuntimeError, match="write_alone"):
                await write_alone(session, _insert_tag(), {"tag_name": second}, writes=(Tag,))
        async with database.reader() as session:
            found = await read_rows(session, select(Tag.name).where(Tag.name == second), {})
        assert list(found) == []
    finally:
        await _delete_tags(database, first, second)


def _request(database: Database) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(database=database))
    return Request({"type": "http", "method": "POST", "app": app, "headers": []})


@pytest.mark.parametrize("keys", [["tag:alone"], []], ids=["keys-named", "nothing-named"])
async def test_a_request_failing_after_its_write_alone_still_announces_what_it_named(
    database: Database, keys: list[str]
) -> None:
    """No rollback undoes a write sent alone: an error after it (building the answer,
    a cancellation) must not keep the cache and live readers from learning of it. A
    statement that refused (nothing named) wrote nothing: nothing is announced."""
    announced: list[Written] = []

    async def hook(written: Written) -> None:
        announced.append(written)

    database.after_commit(hook)
    name = f"failing-{uuid4().hex[:8]}"
    sessions = _request_session(_request(database))  # as FastAPI drives it
    session = await anext(sessions)
    try:
        await write_alone(session, _insert_tag(), {"tag_name": name}, writes=(Tag,))
        changed(session, Tag, keys=keys)
        with pytest.raises(ValueError, match="after the write"):
            await sessions.athrow(ValueError("after the write"))
        async with database.reader() as reader:
            found = await read_rows(reader, select(Tag.name).where(Tag.name == name), {})
        assert [row["name"] for row in found] == [name]  # committed all the same
        assert [written.keys for written in announced] == ([frozenset(keys)] if keys else [])
    finally:
        await _delete_tags(database, name)
