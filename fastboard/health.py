"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)
router = APIRouter(tags=["Operations"])

READY_TIMEOUT_SECONDS = 2.0


@router.get("/health", summary="Liveness: the process is up and serving")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: the database answers",
    responses={503: {"description": "The database is unreachable"}},
)
async def ready(request: Request) -> JSONResponse:
    try:
        await request.app.state.database.ping(seconds=READY_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure to answer means "not ready", never a 500
        log.warning("readiness check failed: %r", exc)
        return JSONResponse(
            {"status": "unavailable", "errors": {"database": ["is unreachable"]}}, status_code=503
        )
    return JSONResponse({"status": "ok"})
