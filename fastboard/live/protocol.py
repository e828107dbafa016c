"""The live message contract: close codes, topics, and what a client message may say.

README.md ("Live updates") documents the same for clients in any language; the tests in
tests/live/ hold both to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import orjson


class Close(IntEnum):
    NORMAL = 1000
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012  # the worker is stopping (deploy, HUP): reconnect with since
    TRY_AGAIN_LATER = 1013  # live updates unavailable (Redis down): reconnect later
    UNAUTHORIZED = 4401  # invalid or expired token, deleted account, token expired
    FORBIDDEN = 4403  # suspended account
    TOO_SLOW = 4408  # the client did not read fast enough: reconnect with since


# Bounds per connection: a client cannot make the worker hold more than this.
MAX_TOPICS = 100
MAX_MESSAGE_BYTES = 16 * 1024

# Slugs keep non-ASCII letters (article and board slugs are slugified with
# allow_unicode): a letter or digit of any script first, then those, "-", ".", "_" or "~".
PUBLIC_TOPIC = re.compile(r"(board|article):[^\W_][\w.~-]{0,254}|articles")
ME = "me"

# Sec-WebSocket-Protocol: a client offers "fastboard" and "token.<jwt>"; the server
# accepts "fastboard" (never echoing the token).
SUBPROTOCOL = "fastboard"
TOKEN_SUBPROTOCOL_PREFIX = "token."  # noqa: S105 - a prefix, not a secret


class Malformed(Exception):
    """A client message the contract does not allow; the client gets an ``error``."""


@dataclass(frozen=True, slots=True)
class Auth:
    token: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    topics: tuple[str, ...]
    since: int | None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ping:
    pass


Message = Auth | Subscribe | Unsubscribe | Ping


def _topics(message: dict[str, Any]) -> tuple[str, ...]:
    topics = message.get("topics")
    if not isinstance(topics, list) or not topics:
        raise Malformed("topics must be a non-empty list of topic names")
    if len(topics) > MAX_TOPICS:
        raise Malformed(f"at most {MAX_TOPICS} topics")
    for topic in topics:
        if not isinstance(topic, str) or not (topic == ME or PUBLIC_TOPIC.fullmatch(topic)):
            shown = topic if isinstance(topic, str) and len(topic) <= 300 else "…"
            raise Malformed(
                f"unknown topic {shown!r}: use board:<slug>, article:<slug>, articles or me"
            )
    return tuple(dict.fromkeys(topics))


def parse(text: str) -> Message:
    """The message a client sent; raises Malformed with the reason it is not one."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Malformed("messages are JSON objects") from None
    if not isinstance(message, dict):
        raise Malformed("messages are JSON objects")
    kind = message.get("type")
    if kind == "auth":
        token = message.get("token")
        if not isinstance(token, str) or not token:
            raise Malformed("auth needs a token")
        return Auth(token)
    if kind == "subscribe":
        since = message.get("since")
        if since is not None and (type(since) is not int or since < 0):
            raise Malformed("since must be an event id (an integer of 0 or more)")
        return Subscribe(_topics(message), since)
    if kind == "unsubscribe":
        return Unsubscribe(_topics(message))
    if kind == "ping":
        return Ping()
    if not isinstance(kind, str):
        raise Malformed("a message needs a type")
    shown = kind if len(kind) <= 50 else kind[:50] + "…"
    raise Malformed(f"unknown message type {shown!r}")


def encode(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def error(text: str) -> str:
    return encode({"type": "error", "message": text})
