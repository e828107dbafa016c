"""Database access: the per-process engine, the request session and the declarative base.

The engine is created lazily, on first use inside a worker's event loop. Nothing here
connects at import time or in ``create_app()``, so Gunicorn can fork workers safely and a
worker can start while the database is down (``/ready`` reports it; requests get 503).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine, ExceptionContext, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from starlette.types import ASGIApp, Receive, Scope, Send

from fastboard.settings import Settings

log = logging.getLogger(__name__)

# Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        # asyncpg reads timestamptz as UTC-aware datetimes already: no pass over every value.
        if dialect.driver == "asyncpg":
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _engine_kwargs(settings: Settings) -> dict[str, Any]:
    if settings.is_sqlite:
        return {"connect_args": {"timeout": settings.db_connect_timeout}}
    server_settings = {"application_name": "fastboard"}
    if settings.db_statement_timeout_ms:
        server_settings["statement_timeout"] = str(settings.db_statement_timeout_ms)
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
        # No pool_pre_ping: on asyncpg it costs three round trips per checkout (BEGIN, ";",
        # ROLLBACK). _discard_closed catches what it would (a restarted or terminated
        # server) for free; recycling retires connections a middlebox may have dropped.
        "pool_recycle": settings.db_pool_recycle,
        "connect_args": {
            "timeout": settings.db_connect_timeout,
            "server_settings": server_settings,
        },
    }


def _discard_closed(dbapi_connection: Any, _record: ConnectionPoolEntry, _proxy: Any) -> None:
    """Refuse a pooled connection the server has closed; the pool then opens a new one.

    When PostgreSQL restarts or terminates a backend it closes the socket, and asyncpg
    marks the idle connection closed as soon as the event loop sees that: a local check,
    no round trip.
    """
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


def _sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Take transaction control away from the sqlite3 module, which otherwise opens
    # transactions lazily and commits on RELEASE of a savepoint opened outside one;
    # _sqlite_begin emits BEGIN itself, so savepoints nest inside a real transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def build_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        _ensure_sqlite_dir(settings.database_url)
    # No echo=settings.db_echo: configure_logging() turns the statement log on.
    engine = create_async_engine(
        settings.database_url,
        # Bound values (emails, password hashes) stay out of exception messages and logs.
        hide_parameters=True,
        **_engine_kwargs(settings),
    )
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        event.listen(engine.sync_engine, "handle_error", _sqlite_full_explains)
    else:
        event.listen(engine.sync_engine, "checkout", _discard_closed)
    return engine


WRITE_INTENT = "fastboard_write_intent"
# In the ``info`` of sessions that only read, outside any transaction (PostgreSQL).
AUTOCOMMIT_READS = "fastboard_autocommit_reads"


# Where a connection keeps the SQLITE_FULL error that ended its transaction.
_FULL = "fastboard_sqlite_full"


def _sqlite_full_explains(context: ExceptionContext) -> BaseException | None:
    """Raise the SQLITE_FULL error in place of the "no such savepoint" it causes.

    A full database makes SQLite roll the whole transaction back on its own; the ROLLBACK
    TO SAVEPOINT that follows then fails, and its error would hide why.
    """
    connection = context.connection
    if connection is None:
        return None
    original = context.original_exception
    if getattr(original, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        connection.info[_FULL] = context.sqlalchemy_exception
        return None
    full: BaseException | None = connection.info.pop(_FULL, None)
    if full is not None and "no such savepoint" in str(original):
        return full
    return None


def _sqlite_begin(connection: Any) -> None:
    connection.info.pop(_FULL, None)
    # A deferred BEGIN that reads first and writes later fails at once with "database is
    # locked" when another connection committed in between; BEGIN IMMEDIATE takes the
    # write lock up front (waiting busy_timeout for it). Reads keep the deferred BEGIN so
    # they still run side by side under WAL.
    immediate = connection.get_execution_options().get(WRITE_INTENT, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for an in-memory database."""
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def _ensure_sqlite_dir(url: str) -> None:
    file = sqlite_file(url)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True, slots=True)
class Written:
    """What a committed transaction wrote, as the after-commit hooks learn it."""

    tables: frozenset[str]  # every table it wrote
    # What its writes changed, in finer keys than tables, as the code that wrote them
    # named it (``changed``), and the tables those keys describe.
    keys: frozenset[str] = frozenset()
    described: frozenset[str] = frozenset()
    # What its writers asked to be done once it commits, in the order they asked
    # (``after_commit_note``): live events to publish.
    notes: tuple[object, ...] = ()

    @property
    def undescribed(self) -> frozenset[str]:
        """Tables written with no finer keys named: whatever was read from them may differ."""
        return self.tables - self.described


# Called once a request's transaction that wrote has committed.
AfterCommit = Callable[[Written], Awaitable[None]]


class Database:
    """Owns one process's engine and session factory, both created on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: AsyncEngine | None = None
        self._reader: async_sessionmaker[AsyncSession] | None = None
        self._writer: async_sessionmaker[AsyncSession] | None = None
        self._after_commit: list[AfterCommit] = []

    def after_commit(self, hook: AfterCommit) -> None:
        """Have ``hook`` called after every request transaction that wrote and committed,
        with what it wrote, before that request's response is sent."""
        self._after_commit.append(hook)

    async def committed(self, written: Written) -> None:
        """Run the after-commit hooks for a transaction that wrote ``written``."""
        for hook in self._after_commit:
            try:
                await hook(written)
            except Exception:
                # The data is stored: answering an error now would tell the client otherwise.
                log.exception("after-commit hook %r failed", hook)

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = build_engine(self.settings)
        return self._engine

    @property
    def reader(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for reads. On PostgreSQL they run in autocommit: a read is one or two
        statements, and skipping BEGIN and COMMIT saves two round trips per request; their
        ``fastboard.prepared.read_rows`` borrow a pooled connection per statement."""
        if self._reader is None:
            bind = self.engine
            info: dict[str, Any] = {}
            if not self.settings.is_sqlite:
                bind = bind.execution_options(isolation_level="AUTOCOMMIT")
                info[AUTOCOMMIT_READS] = True
            self._reader = async_sessionmaker(bind, expire_on_commit=False, info=info)
        return self._reader

    @property
    def writer(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for requests that intend to write (only SQLite treats them apart)."""
        if self._writer is None:
            bind = self.engine.execution_options(**{WRITE_INTENT: True})
            self._writer = async_sessionmaker(
                bind, expire_on_commit=False, sync_session_class=WriterSession
            )
        return self._writer

    @property
    def sync_engine(self) -> Engine:
        return self.engine.sync_engine

    async def ping(self, *, seconds: float) -> None:
        """Run ``SELECT 1``; raises when the database cannot answer within ``seconds``."""
        async with asyncio.timeout(seconds), self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    def pool_status(self) -> dict[str, int]:
        if self._engine is None:
            return {}
        pool: Any = self._engine.pool
        figures: dict[str, int] = {}
        for name in ("size", "checkedin", "checkedout", "overflow"):
            method = getattr(pool, name, None)
            if callable(method):
                figures[name] = int(method())
        return figures

    async def dispose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
            self._reader = None
            self._writer = None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITTEN = "fastboard_written_tables"


class WriterSession(Session):
    """A request session that records which tables it writes, for the after-commit hooks."""


@event.listens_for(WriterSession, "after_flush")
def _record_flushed(session: Session, _context: Any) -> None:
    written = session.info.setdefault(_WRITTEN, set())
    for instance in (*session.new, *session.dirty, *session.deleted):
        written.add(instance.__table__.name)


@event.listens_for(WriterSession, "do_orm_execute")
def _record_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table: Any = state.statement.table  # type: ignore[attr-defined]
        state.session.info.setdefault(_WRITTEN, set()).add(table.name)


def note_written(session: AsyncSession, *models: type[Base]) -> None:
    """Count ``models``' tables among those the session wrote, for writes its own
    bookkeeping cannot see (DML inside a WITH of another statement)."""
    written = session.info.setdefault(_WRITTEN, set())
    written.update(model.__tablename__ for model in models)


def written_tables(session: AsyncSession) -> frozenset[str]:
    """The tables this session has written so far (ORM flushes and DML statements)."""
    return frozenset(session.info.get(_WRITTEN, ()))


_KEYS = "fastboard_changed_keys"
_DESCRIBED = "fastboard_described_tables"


def changed(session: AsyncSession, *tables: type[Base], keys: Iterable[str] = ()) -> None:
    """Name what this transaction's writes to ``tables`` changed: ``keys`` (possibly
    none), for the after-commit hooks, in place of "anything read from these tables".

    The names are the domains' own (``article:12``); the read cache invalidates only
    them. Name every change your writes to ``tables`` make in this transaction: a table
    written without a call keeps the safe default, its whole table.
    """
    info = session.info
    info.setdefault(_DESCRIBED, set()).update(model.__tablename__ for model in tables)
    info.setdefault(_KEYS, set()).update(keys)


_NOTES = "fastboard_after_commit_notes"


def after_commit_note(session: AsyncSession, note: object) -> None:
    """Hand ``note`` to the after-commit hooks of this session's transaction: they get it
    once the transaction has committed, and never when it rolls back."""
    session.info.setdefault(_NOTES, []).append(note)


def written(session: AsyncSession) -> Written:
    """What this session has written so far, with the keys its writers named."""
    info = session.info
    return Written(
        written_tables(session),
        frozenset(info.get(_KEYS, ())),
        frozenset(info.get(_DESCRIBED, ())),
        tuple(info.get(_NOTES, ())),
    )


async def release_connection(session: AsyncSession) -> None:
    """Give a session's connection back to the pool (on SQLite: its write lock too) before
    slow work such as password hashing; its next statement begins a new transaction.

    Only for a session that has written nothing: ending a transaction without writes stores
    nothing, so the request's writes all still land in the one transaction the session
    dependency commits. Loaded objects stay loaded (``expire_on_commit=False``).
    """
    if (
        session.new
        or session.dirty
        or session.deleted
        or written_tables(session)
        or session.in_nested_transaction()
    ):
        raise RuntimeError("release_connection() on a session with writes in its transaction")
    await session.commit()


# Set by ``fastboard.prepared.write_alone``: the request's write went to PostgreSQL as one
# statement outside any transaction, which commits it by itself; ALONE_SENT while its answer
# has not come back (committed or not: unknown), ALONE_ANSWERED once it has.
WRITTEN_ALONE = "fastboard.written_alone"
ALONE_SENT = "sent"
ALONE_ANSWERED = "answered"


async def _announce_written_alone(database: Database, session: AsyncSession) -> None:
    """The request failed after a write sent alone: no rollback undoes that write, so the
    readers (cache, live) must still learn of it. Answered: what the service named
    (nothing named: the statement refused, wrote nothing). Unknown: its tables."""
    state = session.info.get(WRITTEN_ALONE)
    if state is None:
        return
    changes = written(session)
    if state == ALONE_SENT:
        changes = Written(changes.tables)  # its keys and events unknown: its tables, whole
    elif not (changes.keys or changes.notes):
        return
    with anyio.CancelScope(shield=True):  # also when the request was cancelled
        await database.committed(changes)


async def _request_session(request: Request) -> AsyncGenerator[AsyncSession, None]:
    """One transaction per request: commit when the endpoint succeeds, roll back otherwise."""
    database: Database = request.app.state.database
    factory = database.reader if request.method in SAFE_METHODS else database.writer
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            await _announce_written_alone(database, session)
            raise
        # Nothing began (reads on pooled connections): nothing to commit, though keys
        # named for a write made elsewhere are still announced.
        if session.in_transaction():
            await session.commit()
        changes = written(session)
        if changes.tables or changes.keys or changes.notes:
            # Before the response goes out: the writer never reads its own write stale.
            await database.committed(changes)


# scope="function": the commit runs before the response is sent, so a failed commit
# becomes an error response instead of a 200 for data that was never stored.
SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]

_READ_SESSIONS = "fastboard.read_sessions"


def read_session(request: Request) -> AsyncSession:
    """The request's reader session (what ``ReadSessionDep`` gives), opened on first use
    and closed by ``CloseReadSessions`` once the request is answered.

    One per request, as FastAPI's dependency cache would make it, but also for code that
    needs it only sometimes (``optional_viewer``, with a token) and so does not declare
    it: each declared dependency costs a solving pass on every request, cached or not."""
    opened: list[AsyncSession] | None = request.scope.get(_READ_SESSIONS)
    if opened is None:
        raise RuntimeError("ReadSessionDep needs the CloseReadSessions middleware")
    if opened:
        return opened[0]
    database: Database = request.app.state.database
    session = database.reader()
    opened.append(session)
    return session


async def _read_session(request: Request) -> AsyncSession:
    # A plain dependency, which FastAPI solves for a fraction of what a generator
    # dependency (exit stack, cancel scope) costs on every request.
    return read_session(request)


# For routes that only read: their statements run on pooled connections (PostgreSQL) or in
# one read transaction (SQLite), and the session is closed after the response.
ReadSessionDep = Annotated[AsyncSession, Depends(_read_session)]


class CloseReadSessions:
    """Closes the sessions ``ReadSessionDep`` handed out to a request once it is answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        opened: list[AsyncSession] = []
        scope[_READ_SESSIONS] = opened
        try:
            await self.app(scope, receive, send)
        finally:
            for session in opened:
                # Reads on pooled connections leave the session as it was made: nothing
                # to close (closing still costs a greenlet switch).
                if session.in_transaction() or session.identity_map or session.new:
                    await session.close()


async def insert_ignoring_duplicates(
    session: AsyncSession, model: type[Base], rows: list[dict[str, Any]]
) -> int:
    """INSERT … ON CONFLICT DO NOTHING; returns how many rows were inserted.

    Toggles (follow, favorite) and tag upserts use this rather than catching
    IntegrityError, which on PostgreSQL would abort the whole request transaction.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).values(rows).on_conflict_do_nothing()
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
