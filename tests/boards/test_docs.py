"""Every boards operation is in the OpenAPI schema, with examples of what it takes and gives."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from fastboard.boards import schemas

pytestmark = pytest.mark.anyio

OPERATIONS = {
    ("get", "/api/categories"): ("GetCategories", "200"),
    ("post", "/api/categories"): ("CreateCategory", "201"),
    ("put", "/api/categories/{slug}"): ("UpdateCategory", "200"),
    ("delete", "/api/categories/{slug}"): ("DeleteCategory", "204"),
    ("get", "/api/boards/{slug}"): ("GetBoard", "200"),
    ("post", "/api/boards"): ("CreateBoard", "201"),
    ("put", "/api/boards/{slug}"): ("UpdateBoard", "200"),
    ("delete", "/api/boards/{slug}"): ("DeleteBoard", "204"),
}
WRITES = {key for key in OPERATIONS if key[0] != "get"}


def _component(schema: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
    return found


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


async def test_every_boards_operation_is_documented_with_examples(openapi: dict[str, Any]) -> None:
    documented = {
        (method, path): operation
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
        if "Boards" in operation.get("tags", ())
    }

    assert set(documented) == set(OPERATIONS)
    for key, (operation_id, success) in OPERATIONS.items():
        operation = documented[key]
        assert operation["operationId"] == operation_id
        assert success in operation["responses"], key
        answers = [
            response["content"]["application/json"]["schema"]
            for code, response in operation["responses"].items()
            if code.startswith("2") and "content" in response
        ]
        for answer in answers:
            assert _component(openapi, answer)["examples"], key
        if "requestBody" in operation:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert _component(openapi, body)["examples"], key


async def test_writes_are_documented_as_secured_and_admin_only(openapi: dict[str, Any]) -> None:
    for method, path in WRITES:
        operation = openapi["paths"][path][method]
        schemes = {name for requirement in operation.get("security", []) for name in requirement}
        assert "Token" in schemes, (method, path)
        assert {"401", "403", "422"} <= set(operation["responses"]), (method, path)
        assert operation["description"].startswith("Admins only."), (method, path)


async def test_the_article_list_documents_the_board_filter(openapi: dict[str, Any]) -> None:
    parameters = openapi["paths"]["/api/articles"]["get"]["parameters"]
    article = openapi["components"]["schemas"]["Article"]

    assert "board" in {parameter["name"] for parameter in parameters}
    assert "board" in article["required"]
    assert "board" in openapi["components"]["schemas"]["NewArticle"]["properties"]


@pytest.mark.parametrize(
    "model",
    [
        schemas.NewCategoryRequest,
        schemas.UpdateCategoryRequest,
        schemas.NewBoardRequest,
        schemas.UpdateBoardRequest,
        schemas.CategoriesResponse,
        schemas.SingleCategoryResponse,
        schemas.SingleBoardResponse,
    ],
)
def test_the_examples_are_valid_instances_of_their_model(model: type[BaseModel]) -> None:
    examples = model.model_json_schema()["examples"]

    assert examples
    for example in examples:
        model.model_validate(example)
