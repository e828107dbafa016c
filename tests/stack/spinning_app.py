"""fastboard's app plus ``GET /spin``, a request that busy-loops its worker's event loop,
and ``GET /pause``, a slow request that leaves the loop free.

Served only by tests/stack/test_worker_timeout.py (``tests.stack.spinning_app:create_app()``):
the production app has no route that blocks its loop, and must never get one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import time

from fastapi import FastAPI
from starlette.routing import Route

from fastboard.app import create_app as create_fastboard_app

log = logging.getLogger("fastboard.tests.spin")


async def spin(seconds: float = 120.0) -> dict[str, float]:
    """Hold the event loop, never awaiting, for ``seconds`` (a safety bound: Gunicorn's
    timeout is meant to end it much sooner)."""
    log.warning("spinning in worker %d", os.getpid())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass
    return {"spun": seconds}


async def pause(seconds: float) -> dict[str, float]:
    """Slow, but awaiting: the event loop, and so the heartbeat, carries on."""
    await asyncio.sleep(seconds)
    return {"paused": seconds}


def create_app() -> FastAPI:
    # The worker Gunicorn kills gets SIGABRT: no core file for it.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    app = create_fastboard_app()
    app.add_api_route("/spin", spin, methods=["GET"])
    app.add_api_route("/pause", pause, methods=["GET"])
    # First, ahead of the web UI's catch-all page routes.
    routes = app.router.routes
    for _ in range(2):
        route = routes.pop()
        assert isinstance(route, Route)
        routes.insert(0, route)
    return app
