"""``/api/live``: the WebSocket of live updates (message contract: README, "Live updates")."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from fastboard.live import client

router = APIRouter()


@router.websocket("/live", name="live")
async def live(websocket: WebSocket) -> None:
    await client.serve(websocket)
