"""One live client's conversation: the handshake, then its messages, one at a time."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from urllib.parse import urlsplit

from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect

from fastboard.db import Database, utcnow
from fastboard.live import protocol
from fastboard.live.hub import Connection, Hub
from fastboard.live.protocol import (
    ME,
    SUBPROTOCOL,
    TOKEN_SUBPROTOCOL_PREFIX,
    Auth,
    Close,
    Malformed,
    Ping,
    Subscribe,
    Unsubscribe,
)
from fastboard.security import verify_token
from fastboard.settings import Settings
from fastboard.users import repository as users

log = logging.getLogger(__name__)


def origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    """Same origin, or one the CORS settings allow: a page elsewhere cannot open the
    socket in its visitor's name. No Origin header: not a browser, nothing to hijack."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if urlsplit(origin).netloc == websocket.headers.get("host"):
        return True
    if origin in settings.cors_origins:
        return True
    pattern = settings.cors_origin_regex
    return pattern is not None and re.fullmatch(pattern, origin) is not None


def _offered_token(websocket: WebSocket) -> str | None:
    offered: list[str] = websocket.scope.get("subprotocols", [])
    for protocol_name in offered:
        if protocol_name.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            return protocol_name.removeprefix(TOKEN_SUBPROTOCOL_PREFIX)
    return None


async def serve(websocket: WebSocket) -> None:
    """``/api/live``: refuse a foreign origin (403), accept, then talk until either side
    closes."""
    app = websocket.app
    settings: Settings = app.state.settings
    hub: Hub = app.state.live
    if not origin_allowed(websocket, settings):
        await websocket.close(code=1008)  # before accepting: the handshake gets a 403
        return
    await hub.start()
    offered: list[str] = websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    if not hub.available:
        await websocket.close(Close.TRY_AGAIN_LATER, "live updates unavailable, reconnect later")
        return
    client = LiveClient(websocket, hub, app.state.database, settings)
    hub.add(client.connection)
    try:
        token = _offered_token(websocket)
        if token is not None:
            await client.authenticate(token)
        await client.connection.run(client.receive)
    finally:
        client.forget()


class LiveClient:
    def __init__(
        self, websocket: WebSocket, hub: Hub, database: Database, settings: Settings
    ) -> None:
        self.websocket = websocket
        self.hub = hub
        self.database = database
        self.settings = settings
        self.connection = Connection(websocket, hub, settings.live_send_queue)
        self._expiry: asyncio.TimerHandle | None = None

    def forget(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        self.hub.remove(self.connection)

    async def receive(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            text = message.get("text")
            if text is None:
                self.connection.send(protocol.error("messages are JSON text frames"))
                continue
            if len(text) > protocol.MAX_MESSAGE_BYTES:
                self.connection.close(Close.MESSAGE_TOO_BIG, "message too big")
                return
            try:
                await self.handle(protocol.parse(text))
            except Malformed as error:
                self.connection.send(protocol.error(str(error)))

    async def handle(self, message: protocol.Message) -> None:
        if isinstance(message, Auth):
            await self.authenticate(message.token)
        elif isinstance(message, Subscribe):
            await self.subscribe(message)
        elif isinstance(message, Unsubscribe):
            self.unsubscribe(message)
        elif isinstance(message, Ping):
            self.connection.send(protocol.encode({"type": "pong"}))

    async def authenticate(self, token: str) -> None:
        """Sign the connection in as the token's user; a token that does not speak for an
        account any more closes it (4401), so does a suspended account (4403)."""
        verified = verify_token(token, self.settings)
        if verified is None:
            self.connection.close(Close.UNAUTHORIZED, "token is invalid or has expired")
            return
        async with self.database.reader() as session:
            user = await users.get_by_id(session, verified.user_id)
        if user is None or user.token_version != verified.version:
            self.connection.close(Close.UNAUTHORIZED, "token is invalid or has expired")
            return
        if user.suspended_until is not None and user.suspended_until > utcnow():
            self.connection.close(Close.FORBIDDEN, "account suspended")
            return
        previous = self.connection.user_id
        if previous is not None and previous != user.id:
            self.hub.unsubscribe(self.connection, [f"user:{previous}"])
        self.connection.user_id = user.id
        self.connection.token_version = verified.version
        if self._expiry is not None:
            self._expiry.cancel()
        self._expiry = asyncio.get_running_loop().call_later(
            max(verified.expires_at - time.time(), 0),
            self.connection.close,
            Close.UNAUTHORIZED,
            "token expired",
        )
        self.connection.send(protocol.encode({"type": "authenticated", "username": user.username}))

    def _internal(self, topic: str) -> str:
        if topic != ME:
            return topic
        if self.connection.user_id is None:
            raise Malformed("me needs a signed-in connection: send auth first")
        return f"user:{self.connection.user_id}"

    async def subscribe(self, message: Subscribe) -> None:
        internal = {self._internal(topic): topic for topic in message.topics}
        connection = self.connection
        if len(connection.topics | internal.keys()) > protocol.MAX_TOPICS:
            raise Malformed(f"at most {protocol.MAX_TOPICS} topics per connection")
        new = [topic for topic in internal if topic not in connection.topics]
        if message.since is not None:
            connection.hold(new)
        self.hub.subscribe(connection, internal)
        connection.send(protocol.encode({"type": "subscribed", "topics": list(message.topics)}))
        if message.since is None:
            return
        try:
            replayed = await self.hub.replay(message.since)
        except (RedisError, OSError):
            log.warning("live replay failed", exc_info=True)
            replayed = None
        if replayed is None:
            for topic in new:
                connection.send(protocol.encode({"type": "resync", "topic": internal[topic]}))
            replayed = []
        connection.release(new, replayed)

    def unsubscribe(self, message: Unsubscribe) -> None:
        topics = [
            f"user:{self.connection.user_id}" if topic == ME else topic
            for topic in message.topics
            if topic != ME or self.connection.user_id is not None
        ]
        self.hub.unsubscribe(self.connection, topics)
        reply = {"type": "unsubscribed", "topics": list(message.topics)}
        self.connection.send(protocol.encode(reply))
