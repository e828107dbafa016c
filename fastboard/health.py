"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.applications import Starlette

from fastboard.db import Database
from fastboard.preflight import current_revisions, head_revisions, migrations_finding

log = logging.getLogger(__name__)
router = APIRouter(tags=["Operations"])

READY_TIMEOUT_SECONDS = 2.0


class SchemaCheck:
    """Whether the database schema is at the newest migration the code knows.

    Once it was, it stays so for the life of the process (migrations run before workers
    start, never under them), and readiness costs a ``SELECT 1`` again.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._heads: set[str] | None = None
        self._at_head = False

    async def behind(self) -> str | None:
        """None when the schema is at head, else what is wrong and what to do about it."""
        if self._at_head:
            return None
        if self._heads is None:
            # Reading the migration scripts imports them: once, and off the event loop.
            self._heads = await anyio.to_thread.run_sync(head_revisions, self._database.settings)
        async with self._database.engine.connect() as conn:
            current = await conn.run_sync(current_revisions)
        finding = migrations_finding(current, self._heads)
        self._at_head = finding.ok
        return None if finding.ok else finding.detail


def _schema_check(app: Starlette) -> SchemaCheck:
    check: SchemaCheck | None = getattr(app.state, "schema_check", None)
    if check is None:
        check = app.state.schema_check = SchemaCheck(app.state.database)
    return check


def _unavailable(field: str, reason: str) -> JSONResponse:
    return JSONResponse({"status": "unavailable", "errors": {field: [reason]}}, status_code=503)


@router.get("/health", summary="Liveness: the process is up and serving")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: the database answers and its schema is at the newest migration",
    responses={503: {"description": "The database is unreachable, or not migrated"}},
)
async def ready(request: Request) -> JSONResponse:
    # Any failure to answer means "not ready", never a 500.
    try:
        await request.app.state.database.ping(seconds=READY_TIMEOUT_SECONDS)
    except Exception as exc:
        log.warning("readiness check failed: %r", exc)
        return _unavailable("database", "is unreachable")
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            behind = await _schema_check(request.app).behind()
    except Exception as exc:
        log.warning("readiness check could not read the schema version: %r", exc)
        return _unavailable("migrations", "could not be checked")
    if behind is not None:
        log.warning("readiness check failed: %s", behind)
        return _unavailable("migrations", behind)
    return JSONResponse({"status": "ok"})
