"""Statement counts: the tree and one board cost one statement whatever their size."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.articles.test_queries import run_counted
from tests.boards.conftest import new_board, new_category
from tests.conftest import create_article

pytestmark = pytest.mark.anyio


async def test_the_tree_is_one_statement_for_one_board_or_many(
    client: httpx.AsyncClient, count_queries: Any, admin: dict[str, Any], alice: dict[str, Any]
) -> None:
    token = admin["token"]
    _, small = await run_counted(client, count_queries, "/api/categories", None)
    for category in ("Hobbies", "Work", "Empty"):
        await new_category(client, token, category)
    for index in range(12):
        category = ("hobbies", "work", "community")[index % 3]
        board = await new_board(client, token, f"Board {index}", category)
        await create_article(client, alice["token"], board=board["slug"])

    response, large = await run_counted(client, count_queries, "/api/categories", None)
    _, signed_in = await run_counted(client, count_queries, "/api/categories", alice["token"])

    categories = response.json()["categories"]
    assert [len(c["boards"]) for c in categories] == [5, 4, 4, 0]
    assert sum(b["articlesCount"] for c in categories for b in c["boards"]) == 12
    assert small == large == signed_in == 1


async def test_one_board_is_one_statement(
    client: httpx.AsyncClient, count_queries: Any, alice: dict[str, Any]
) -> None:
    await create_article(client, alice["token"])

    response, count = await run_counted(client, count_queries, "/api/boards/general", None)

    assert response.json()["board"]["articlesCount"] == 1
    assert count == 1
