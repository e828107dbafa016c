"""A user's own data as one JSON document, written out as it is read.

The response starts before the data is all read: each part is read in keyset chunks of
``CHUNK`` rows through a session of the export's own (the request's session ends before
the body is sent), so an account with a large history costs bounded memory. Each chunk is
its own short read: the export is not one snapshot of a moment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fastboard.db import utcnow
from fastboard.fields import TAG_SEPARATOR, iso_millis
from fastboard.users import repository
from fastboard.users.models import User

CHUNK = 500
JSON = dict[str, Any]


def _user_json(user: User) -> JSON:
    return {
        "username": user.username,
        "email": user.email,
        "bio": user.bio,
        "image": user.image or "",
        "role": user.role,
        "createdAt": iso_millis(user.created_at),
    }


def _article_json(row: Any) -> JSON:
    return {
        "slug": row.slug,
        "title": row.title,
        "description": row.description,
        "body": row.body,
        "tagList": sorted(row.tags.split(TAG_SEPARATOR)) if row.tags else [],
        "createdAt": iso_millis(row.created_at),
        "updatedAt": iso_millis(row.updated_at),
        "favoritesCount": row.favorites_count,
    }


def _comment_json(row: Any) -> JSON:
    return {
        "id": row.id,
        "article": row.slug,
        "body": row.body,
        "createdAt": iso_millis(row.created_at),
        "updatedAt": iso_millis(row.updated_at),
    }


def _favorite_json(row: Any) -> JSON:
    return {"article": row.slug, "createdAt": iso_millis(row.created_at)}


def _follow_json(row: Any) -> JSON:
    return {"username": row.username, "createdAt": iso_millis(row.created_at)}


_PARTS: list[tuple[str, repository.ExportPart, Callable[[Any], JSON]]] = [
    ("articles", repository.ExportPart.ARTICLES, _article_json),
    ("comments", repository.ExportPart.COMMENTS, _comment_json),
    ("favorites", repository.ExportPart.FAVORITES, _favorite_json),
    ("following", repository.ExportPart.FOLLOWING, _follow_json),
]


async def _items(
    session: AsyncSession, part: repository.ExportPart, user_id: int, shape: Callable[[Any], JSON]
) -> AsyncIterator[bytes]:
    after = 0
    separator = b""
    while True:
        rows = await repository.export_chunk(session, part, user_id, after=after, limit=CHUNK)
        if rows:
            yield separator + b",".join(orjson.dumps(shape(row)) for row in rows)
            separator = b","
            after = rows[-1].key
        if len(rows) < CHUNK:
            return


async def export(sessions: async_sessionmaker[AsyncSession], user: User) -> AsyncIterator[bytes]:
    """``{"export": {"exportedAt", "user", "articles", "comments", "favorites",
    "following"}}``, in pieces."""
    head = {"exportedAt": iso_millis(utcnow()), "user": _user_json(user)}
    yield b'{"export":' + orjson.dumps(head)[:-1]
    async with sessions() as session:
        for name, part, shape in _PARTS:
            yield b',"%s":[' % name.encode()
            async for chunk in _items(session, part, user.id, shape):
                yield chunk
            yield b"]"
    yield b"}}"
