"""Builders for the boards tests: categories and boards made through the API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import auth


async def new_category(
    client: httpx.AsyncClient, token: str, name: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/categories", json={"category": {"name": name, **fields}}, headers=auth(token)
    )
    assert response.status_code == 201, response.text
    category: dict[str, Any] = response.json()["category"]
    return category


async def new_board(
    client: httpx.AsyncClient, token: str, name: str, category: str = "community", **fields: Any
) -> dict[str, Any]:
    payload = {"board": {"name": name, "category": category, **fields}}
    response = await client.post("/api/boards", json=payload, headers=auth(token))
    assert response.status_code == 201, response.text
    board: dict[str, Any] = response.json()["board"]
    return board


async def tree(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/api/categories")
    assert response.status_code == 200, response.text
    categories: list[dict[str, Any]] = response.json()["categories"]
    return categories


def layout(categories: list[dict[str, Any]]) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """The tree as (category, position, [(board, position)]): what ordering tests compare."""
    return [
        (c["slug"], c["position"], [(b["slug"], b["position"]) for b in c["boards"]])
        for c in categories
    ]
