"""Undo what the write scenarios did, through the public API, so the data set stays as seeded.

The write scenarios favorite only pairs that were free when seeded and comment only with
``LOAD_COMMENT``: unfavoriting every such pair (a no-op where it is not favorited) and
deleting every comment with that body, as its author, restores the seeded rows exactly.
The runner checks the row counts afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

import httpx

from bench.scenarios import LOAD_COMMENT
from bench.seed import bounded

CONCURRENCY = 16


class RestoreError(RuntimeError):
    pass


async def _send(client: httpx.AsyncClient, method: str, path: str, token: str, expect: int) -> None:
    response = await client.request(method, path, headers={"Authorization": f"Token {token}"})
    if response.status_code != expect:
        raise RestoreError(
            f"{method} {path} answered {response.status_code}: {response.text[:200]}"
        )


async def _marked_comments(client: httpx.AsyncClient, slug: str) -> list[tuple[str, int, str]]:
    response = await client.get(f"/api/articles/{slug}/comments")
    if response.status_code != 200:
        raise RestoreError(f"GET comments of {slug} answered {response.status_code}")
    comments: list[dict[str, Any]] = response.json()["comments"]
    return [
        (slug, comment["id"], comment["author"]["username"])
        for comment in comments
        if comment["body"] == LOAD_COMMENT
    ]


async def _restore(
    base_url: str,
    tokens: dict[str, str],
    pairs: Iterable[tuple[str, str]],
    slugs: Iterable[str],
) -> tuple[int, int]:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        unfavorite: list[Callable[[], Awaitable[None]]] = [
            partial(_send, client, "DELETE", f"/api/articles/{slug}/favorite", tokens[user], 200)
            for user, slug in pairs
        ]
        await bounded(unfavorite, CONCURRENCY)
        found = await bounded([partial(_marked_comments, client, s) for s in slugs], CONCURRENCY)
        marked = [comment for comments in found for comment in comments]
        delete: list[Callable[[], Awaitable[None]]] = [
            partial(
                _send, client, "DELETE", f"/api/articles/{slug}/comments/{id_}", tokens[author], 204
            )
            for slug, id_, author in marked
        ]
        await bounded(delete, CONCURRENCY)
    return len(unfavorite), len(marked)


def restore(
    base_url: str,
    tokens: dict[str, str],
    pairs: Iterable[tuple[str, str]],
    slugs: Iterable[str],
) -> tuple[int, int]:
    """Unfavorite ``pairs`` and delete the load comments on ``slugs``, through the API of
    the server at ``base_url``; returns (pairs unfavorited, comments deleted)."""
    return asyncio.run(_restore(base_url, tokens, list(pairs), list(slugs)))
