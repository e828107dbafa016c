"""Concurrent admins and authors: positions stay 1..n, counts stay right."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.boards.conftest import layout, new_board, tree
from tests.conftest import auth, create_article

pytestmark = [pytest.mark.anyio, pytest.mark.own_app]  # concurrent requests, real commits


async def test_boards_created_and_moved_at_once_keep_positions_without_gaps(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    token = admin["token"]
    created = await asyncio.gather(
        *(
            client.post(
                "/api/boards",
                json={"board": {"name": f"B{n}", "category": "community", "position": 1}},
                headers=auth(token),
            )
            for n in range(6)
        )
    )
    assert [response.status_code for response in created] == [201] * 6
    moved = await asyncio.gather(
        *(
            client.put(
                f"/api/boards/b{n}", json={"board": {"position": 7 - n}}, headers=auth(token)
            )
            for n in range(6)
        )
    )
    assert [response.status_code for response in moved] == [200] * 6

    ((_, _, boards),) = layout(await tree(client))
    assert sorted(position for _, position in boards) == list(range(1, 8))


async def test_articles_posted_while_their_board_is_deleted_archive_it(
    client: httpx.AsyncClient, admin: dict[str, Any], alice: dict[str, Any]
) -> None:
    await new_board(client, admin["token"], "Busy")
    posts = [
        create_article(client, alice["token"], board="busy", title=f"Post {n}") for n in range(4)
    ]

    *_, deleted = await asyncio.gather(
        *posts,
        client.delete("/api/boards/busy", headers=auth(admin["token"])),
        return_exceptions=True,
    )

    assert isinstance(deleted, httpx.Response)
    # The delete went first (nothing to keep: 204) and the posts then failed, or after
    # at least one post: archived with them all counted.
    board = await client.get("/api/boards/busy")
    if deleted.status_code == 204:
        assert board.status_code == 404
    else:
        assert deleted.status_code == 200
        stored = board.json()["board"]
        listed = await client.get("/api/articles", params={"board": "busy"})
        assert stored["archived"] is True
        assert stored["articlesCount"] == listed.json()["articlesCount"] >= 1
