"""The history, edit, vote and ordering operations are in the OpenAPI schema, with examples."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from tests.test_docs import _has_example, _resolved

pytestmark = pytest.mark.anyio

JSON_OPERATIONS = {
    ("get", "/api/articles/{slug}/history"): "GetArticleHistory",
    ("get", "/api/articles/{slug}/comments/{id}/history"): "GetArticleCommentHistory",
    ("put", "/api/articles/{slug}/comments/{id}"): "UpdateArticleComment",
    ("put", "/api/articles/{slug}/comments/{id}/vote"): "VoteArticleComment",
    ("delete", "/api/articles/{slug}/comments/{id}/vote"): "DeleteArticleCommentVote",
}
CSV_OPERATIONS = {
    ("get", "/api/articles/{slug}/history.csv"): "GetArticleHistoryCsv",
    ("get", "/api/articles/{slug}/comments/{id}/history.csv"): "GetArticleCommentHistoryCsv",
}


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


async def test_every_new_operation_is_documented_with_examples(openapi: dict[str, Any]) -> None:
    for (method, path), operation_id in {**JSON_OPERATIONS, **CSV_OPERATIONS}.items():
        operation = openapi["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert operation["summary"], path
        assert {"404", "422", "503"} <= set(operation["responses"]), (method, path)
        answer = operation["responses"]["200"]["content"]
        if (method, path) in JSON_OPERATIONS:
            assert _has_example(answer, openapi), (method, path)
        if "history" in path:
            # The CSV is documented too, with an example a csv reader reads back.
            example = answer["text/csv"]["example"]
            header = next(csv.reader(io.StringIO(example.removeprefix("\ufeff"))))
            assert header[:2] == ["version", "createdAt"], path
        if "requestBody" in operation:
            assert _has_example(operation["requestBody"]["content"], openapi), (method, path)
        if method != "get":
            schemes = {name for req in operation.get("security", []) for name in req}
            assert "Token" in schemes, (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


async def test_the_list_and_comment_parameters_are_documented(openapi: dict[str, Any]) -> None:
    articles = {p["name"]: p for p in openapi["paths"]["/api/articles"]["get"]["parameters"]}
    comments = {
        p["name"]: p for p in openapi["paths"]["/api/articles/{slug}/comments"]["get"]["parameters"]
    }
    history = openapi["paths"]["/api/articles/{slug}/history"]["get"]["parameters"]

    assert articles["order"]["schema"]["enum"] == ["new", "top"]
    assert articles["order"]["schema"]["default"] == "new"
    assert articles["since"]["description"]
    assert comments["order"]["schema"]["enum"] == ["new", "top"]
    assert {p["name"] for p in history} == {"slug", "limit", "offset"}


async def test_comments_document_their_score_and_the_readers_vote(
    openapi: dict[str, Any],
) -> None:
    comment = openapi["components"]["schemas"]["Comment"]
    vote = _resolved(openapi["components"]["schemas"]["VoteRequest"]["properties"]["vote"], openapi)

    # The Conduit fields are all still there.
    assert {"id", "createdAt", "updatedAt", "body", "author"} <= set(comment["required"])
    assert comment["properties"]["score"]["type"] == "integer"
    assert vote["properties"]["value"]["enum"] == [1, -1]
