"""The search operation in the OpenAPI schema: documented, with an example."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fastboard.search.schemas import SearchResponse
from tests.test_docs import _has_example

pytestmark = pytest.mark.anyio


async def test_search_is_documented_with_an_example(client: httpx.AsyncClient) -> None:
    openapi: dict[str, Any] = (await client.get("/openapi.json")).json()

    operation = openapi["paths"]["/api/search"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert operation["operationId"] == "Search"
    assert operation["summary"]
    assert set(parameters) == {"q", "board", "limit", "offset"}
    assert parameters["q"]["required"] is True
    assert parameters["q"]["schema"]["maxLength"] == 200
    assert {"401", "422"} <= set(operation["responses"])
    assert _has_example(operation["responses"]["200"]["content"], openapi)


def test_the_example_is_a_valid_answer() -> None:
    extra = SearchResponse.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    examples = extra["examples"]
    assert isinstance(examples, list)
    for example in examples:
        SearchResponse.model_validate(example)
