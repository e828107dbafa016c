"""Prebuilt statements run as the driver's prepared statements, for the hot paths.

A request that only reads (a reader session, autocommit on PostgreSQL) needs neither the
ORM's unit of work nor Core's execution context per statement: on asyncpg a statement is
compiled to SQL once, sent as a prepared statement on a connection borrowed from the
engine's pool for that one statement, and its rows come back as the driver's records.
A writer's statements, once its transaction has begun, go the same way on its connection.
Anything else (SQLite, an engine with statement listeners or echo, a statement that
needs Core at execution time) runs the same statement through SQLAlchemy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from sqlalchemy import Select, UpdateBase, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from fastboard.db import (
    ALONE_ANSWERED,
    ALONE_SENT,
    AUTOCOMMIT_READS,
    WRITTEN_ALONE,
    Base,
    WriterSession,
    note_written,
)

# Any SELECT, whatever its columns; or an INSERT, UPDATE or DELETE.
AnySelect: TypeAlias = Select[*tuple[Any, ...]]
Statement: TypeAlias = AnySelect | UpdateBase
_STATEMENT_LOG = logging.getLogger("sqlalchemy.engine.Engine")


class Row(Protocol):
    """A result row, read by column name (a driver record or a Core ``RowMapping``)."""

    def __getitem__(self, key: str, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A SELECT compiled for the driver: its SQL and how to lay out its parameters."""

    sql: str
    names: tuple[str, ...]  # the bound parameters, in the driver's positional order
    constants: Mapping[str, Any]  # values the statement carries itself (``scope = 'all'``)
    binders: Mapping[str, Callable[[Any], Any]]  # parameters the dialect converts first
    # Integer parameters written into the SQL (``literal_execute``), in order, and the SQL
    # around them: ``sql`` is then its first piece.
    inlined: tuple[str, ...] = ()
    pieces: tuple[str, ...] = ()

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name in self.names:
            value = params[name] if name in params else self.constants[name]
            binder = self.binders.get(name)
            values.append(value if binder is None else binder(value))
        return values

    def sql_for(self, params: Mapping[str, Any]) -> str:
        if not self.inlined:
            return self.sql
        parts = [self.sql]
        for name, piece in zip(self.inlined, self.pieces, strict=True):
            # int(): only a number can be written into the statement.
            parts += (str(int(params[name])), piece)
        return "".join(parts)


def compile_for_driver(statement: Statement, dialect: Dialect) -> DriverStatement | None:
    """``statement`` as SQL for the driver; None when it needs Core at execution time:
    lists expanded per call (``IN``), column defaults made in Python (``default=``), or
    result columns the dialect has to convert.

    A required ``literal_execute`` parameter must be an integer (LIMIT, OFFSET): it is
    written into the SQL per call. PostgreSQL plans a prepared statement anew on every
    execution while a generic plan looks costlier than the custom ones, which a LIMIT
    it cannot see makes it; with the numbers in the SQL the plan is made once.
    """
    compiled: Any = statement.compile(dialect=dialect)
    # Lists expanded per call, or column defaults computed in Python per execution.
    if compiled.post_compile_params or compiled.insert_prefetch or compiled.update_prefetch:
        return None
    for column in statement.exported_columns:  # the SELECT's columns, or RETURNING's
        try:
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
        except Exception:  # a processor that depends on the column's type code (numeric)
            return None
        if processor is not None:
            return None
    binds = compiled.binds
    required = {name for name, bind in binds.items() if bind.required}
    inlined = [bind.key for bind in compiled.literal_execute_params if bind.key in required]
    # Stand-ins for the inlined integers, found again in the rendered SQL.
    markers = {name: -(10**15) - index for index, name in enumerate(inlined)}
    # Parameters rendered as literals (a separator, say) are constants: render them once.
    expanded = compiled.construct_expanded_state({**dict.fromkeys(required), **markers})
    sql: str = expanded.statement
    placed = sorted(inlined, key=lambda name: sql.index(str(markers[name])))
    pieces: list[str] = []
    for name in reversed(placed):
        sql, piece = sql.split(str(markers[name]))
        pieces.insert(0, piece)
    names = tuple(expanded.positiontup or ())
    constants = {name: binds[name].effective_value for name in names if name not in required}
    binders = {}
    for name in names:
        binder = binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if binder is not None:
            binders[name] = binder
    return DriverStatement(sql, names, constants, binders, tuple(placed), tuple(pieces))


class _Compiled:
    """Each statement compiled once per dialect. Statements passed here are built once
    (module constants or cached builders), so this stays as small as the code."""

    def __init__(self) -> None:
        self._known: dict[tuple[int, str], tuple[Statement, DriverStatement | None]] = {}

    def get(self, statement: Statement, dialect: Dialect) -> DriverStatement | None:
        key = (id(statement), dialect.name)
        known = self._known.get(key)
        if known is None or known[0] is not statement:
            known = (statement, compile_for_driver(statement, dialect))
            self._known[key] = known
        return known[1]


_compiled = _Compiled()


def _driver_path(engine: AsyncEngine, statement: Statement) -> DriverStatement | None:
    dialect = engine.dialect
    if dialect.driver != "asyncpg":
        return None
    # Statement listeners (tests count statements) and echo see what Core executes.
    if engine.sync_engine.dispatch.before_cursor_execute or _STATEMENT_LOG.isEnabledFor(
        logging.INFO
    ):
        return None
    return _compiled.get(statement, dialect)


async def read_rows(
    session: AsyncSession, statement: AnySelect, params: Mapping[str, Any]
) -> Sequence[Row]:
    """The rows of ``statement`` with ``params``, read by column name.

    In a reader session that holds no connection yet, the statement borrows one from the
    pool for itself alone; otherwise it runs on the session's connection, in its
    transaction.
    """
    bind = session.bind
    if session.info.get(AUTOCOMMIT_READS) and isinstance(bind, AsyncEngine):
        driver = _driver_path(bind, statement)
        if driver is not None and not session.in_transaction():
            return await _pooled_fetch(bind, driver, params)
    connection = await session.connection()
    driver = _driver_path(connection.engine, statement)
    if driver is not None:
        pooled = await connection.get_raw_connection()
        asyncpg_connection: Any = pooled.driver_connection
        # A writer's transaction begins with its first statement through SQLAlchemy: a
        # read before that goes through Core, which begins it.
        if session.info.get(AUTOCOMMIT_READS) or asyncpg_connection.is_in_transaction():
            return await _fetch(pooled, connection.dialect, driver, params, invalidate=False)
    rows: Sequence[Row] = (await connection.execute(statement, params)).mappings().all()
    return rows


async def write_rows(
    session: AsyncSession,
    statement: UpdateBase,
    params: Mapping[str, Any],
    *,
    writes: Sequence[type[Base]],
) -> Sequence[Row]:
    """Run a prebuilt INSERT, UPDATE or DELETE in the session's transaction; the rows
    its RETURNING gives, if any. ``writes``: the models whose tables it writes (those of
    DML inside its WITH too), for the after-commit hooks."""
    note_written(session, *writes)
    connection = await session.connection()
    driver = _driver_path(connection.engine, statement)
    if driver is not None:
        pooled = await connection.get_raw_connection()
        asyncpg_connection: Any = pooled.driver_connection
        if asyncpg_connection.is_in_transaction():
            return await _fetch(pooled, connection.dialect, driver, params, invalidate=False)
    result: Any = await session.execute(statement, params)
    rows: Sequence[Row] = result.mappings().all() if result.returns_rows else []
    return rows


async def write_alone(
    session: AsyncSession,
    statement: UpdateBase | AnySelect,
    params: Mapping[str, Any],
    *,
    writes: Sequence[type[Base]],
) -> Sequence[Row]:
    """Run a prebuilt statement that writes (DML in its WITH, or an INSERT, UPDATE or
    DELETE) as the request's only statement: the rows it gives.

    On PostgreSQL, in a session that has begun nothing, it runs on a connection borrowed
    from the pool for itself alone, outside any explicit transaction: PostgreSQL runs one
    statement as one transaction, all of it or none, so the request still writes in one
    transaction, without the BEGIN and COMMIT round trips. The session's after-commit
    hooks still learn what it wrote (``writes``: the models whose tables it writes). The
    caller must run nothing else in the session afterwards (it would begin a second
    transaction). Elsewhere, as ``write_rows`` in the session's transaction.
    """
    if session.info.get(WRITTEN_ALONE):
        # It would commit on its own too: a request whose writes may land half.
        raise RuntimeError("nothing may run in the session after write_alone()")
    bind = session.bind
    if not session.in_transaction() and isinstance(bind, AsyncEngine):
        driver = _driver_path(bind, statement)
        if driver is not None:
            note_written(session, *writes)
            session.info[WRITTEN_ALONE] = ALONE_SENT
            answered = await _pooled_fetch(bind, driver, params)
            session.info[WRITTEN_ALONE] = ALONE_ANSWERED
            return answered
    if isinstance(statement, UpdateBase):
        return await write_rows(session, statement, params, writes=writes)
    note_written(session, *writes)
    rows: Sequence[Row] = (await session.execute(statement, params)).mappings().all()
    return rows


@event.listens_for(WriterSession, "after_begin")
def _one_transaction(session: Session, _transaction: Any, _connection: Any) -> None:
    # A statement after a write sent alone would begin a second transaction: a request
    # whose writes may land half. Refuse it (a bug in the caller, never input).
    if session.info.get(WRITTEN_ALONE):
        raise RuntimeError("nothing may run in the session after write_alone()")


async def _pooled_fetch(
    engine: AsyncEngine, driver: DriverStatement, params: Mapping[str, Any]
) -> Sequence[Row]:
    pooled = await engine.raw_connection()
    try:
        return await _fetch(pooled, engine.dialect, driver, params, invalidate=True)
    except BaseException as error:
        if not isinstance(error, Exception):
            # Cancelled mid-statement: what the connection has yet to read is unknown.
            pooled.invalidate(error)
        raise
    finally:
        # Checking in may close a connection (overflow, invalidated): driver calls
        # that SQLAlchemy makes from a greenlet.
        await greenlet_spawn(pooled.close)


async def _fetch(
    pooled: PoolProxiedConnection,
    dialect: Dialect,
    driver: DriverStatement,
    params: Mapping[str, Any],
    *,
    invalidate: bool,
) -> Sequence[Row]:
    arguments = driver.arguments(params)
    asyncpg_connection: Any = pooled.driver_connection
    try:
        records: Sequence[Row] = await asyncpg_connection.fetch(driver.sql_for(params), *arguments)
    except Exception as error:
        raise _as_sqlalchemy_error(error, pooled, dialect, driver, invalidate) from error
    return records


def _as_sqlalchemy_error(
    error: Exception,
    pooled: PoolProxiedConnection,
    dialect: Dialect,
    driver: DriverStatement,
    invalidate: bool,
) -> Exception:
    """What Core would have raised: the DB-API error the dialect maps the driver's to,
    wrapped in ``DBAPIError``, the connection invalidated when it is gone (so the error
    handlers answer 503 and the pool opens a new one)."""
    dbapi: Any = dialect.loaded_dbapi
    try:
        # The dialect's own translation (asyncpg's exception classes → DB-API's).
        adapted: Any = pooled.dbapi_connection
        adapted._handle_exception(error)
    except dbapi.Error as translated:
        disconnect = dialect.is_disconnect(translated, pooled.dbapi_connection, None)
        if disconnect and invalidate:
            pooled.invalidate(translated)
        wrapped: Exception = DBAPIError.instance(
            driver.sql,
            None,
            translated,
            dbapi.Error,
            hide_parameters=True,
            connection_invalidated=disconnect,
            dialect=dialect,
        )
        return wrapped
    except Exception as other:  # not the driver's (OSError, say): as it is
        return other
    return error
