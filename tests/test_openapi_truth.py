"""``/openapi.json`` tells the truth: what the app answers on an operation is documented
there, and what it refuses is declared there; limits hold in the app itself.

The fuzzing (tests/fuzz/) checks schema-generated requests; these walk every operation
with the requests a schema would not generate (bad tokens, bodies that are not JSON,
nesting, sizes) and check the answers against the same schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import compile_path

from fastboard.guards import MAX_HEADER_BYTES, MAX_JSON_DEPTH, MAX_QUERY_BYTES, json_depth_exceeds
from fastboard.settings import Settings
from tests.conftest import auth, create_article

pytestmark = pytest.mark.anyio

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


async def _schema(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def _concrete(path: str, slug: str) -> str:
    return path.replace("{slug}", slug).replace("{id}", "999999").replace("{username}", "nobody")


BODIES = [None, b"{}", b"{", b'{"x": ' + b"[" * 100 + b"]" * 100 + b"}", b"\xff\xfe"]


async def test_every_answer_to_every_operation_is_documented(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    """No token, a bad token, a good one; no body, an empty object, broken JSON, deep
    nesting, bytes that are not UTF-8: whatever the answer, the schema lists it."""
    schema = await _schema(client)
    slug = (await create_article(client, alice["token"]))["slug"]
    undocumented: list[str] = []
    operations = _operations(schema)
    assert len(operations) > 40
    for method, path, operation in operations:
        if (method, path) == ("DELETE", "/api/user"):
            continue  # a correct body would delete alice; its answers are tested elsewhere
        documented = set(operation["responses"])
        url = _concrete(path, slug)
        for headers in ({}, {"Authorization": "Token not.a.jwt"}, auth(alice["token"])):
            for body in BODIES if "requestBody" in operation else [None]:
                sent = {**headers, "Content-Type": "application/json"} if body else headers
                response = await client.request(method, url, content=body, headers=sent)
                if str(response.status_code) not in documented:
                    undocumented.append(f"{method} {path} -> {response.status_code}")
                if response.status_code >= 400:
                    assert response.headers["content-type"] == "application/json"
                    assert set(response.json()) == {"errors"}, response.text
    assert not undocumented, sorted(set(undocumented))


async def test_guards_answers_are_documented_on_every_operation(
    client: httpx.AsyncClient,
) -> None:
    for method, path, operation in _operations(await _schema(client)):
        codes = set(operation["responses"])
        assert {"414", "422", "431"} <= codes, (method, path)
        if "requestBody" in operation:
            assert "413" in codes, (method, path)


async def test_list_limits_are_declared(client: httpx.AsyncClient) -> None:
    schema = await _schema(client)
    for method, path, operation in _operations(schema):
        for parameter in operation.get("parameters", ()):
            if parameter["name"] == "limit":
                assert parameter["schema"]["minimum"] == 1, (method, path)
                assert parameter["schema"]["maximum"] == 100, (method, path)
            if parameter["name"] == "offset":
                assert parameter["schema"]["minimum"] == 0, (method, path)
                assert "maximum" in parameter["schema"], (method, path)
            if parameter["in"] == "query" and parameter["schema"].get("type") == "string":
                assert "maxLength" in parameter["schema"] or "enum" in parameter["schema"], (
                    method,
                    path,
                    parameter["name"],
                )


async def test_free_text_query_parameters_declare_that_nul_is_refused(
    client: httpx.AsyncClient,
) -> None:
    """The app refuses NUL in any query string (fastboard.guards): a parameter that looked
    free to hold it was a schema-valid request refused (found by `make fuzz`)."""
    schema = await _schema(client)
    checked = 0
    for method, path, operation in _operations(schema):
        for parameter in operation.get("parameters", ()):
            if parameter["in"] != "query":
                continue
            declared = parameter["schema"]
            for string in [declared, *declared.get("anyOf", ())]:
                if string.get("type") != "string" or "enum" in string or "format" in string:
                    continue
                pattern = string.get("pattern")
                assert pattern is not None, (method, path, parameter["name"])
                assert not re.search(pattern, "a\x00b"), (method, path, parameter["name"])
                assert re.search(pattern, "news"), (method, path, parameter["name"])
                checked += 1
    assert checked >= 6  # tag, author, favorited, board on the list; q, board on search


async def test_blank_and_control_character_rules_are_declared(client: httpx.AsyncClient) -> None:
    """The validators' rules are patterns in the schema, and the patterns agree with them."""
    article = (await _schema(client))["components"]["schemas"]["NewArticle"]["properties"]
    title = re.compile(article["title"]["pattern"])
    tag = re.compile(article["tagList"]["items"]["pattern"])
    assert title.search("A title")
    assert title.search("  x  ")
    for refused in ("   ", "", "a\x00b"):
        assert not title.search(refused)
    assert tag.search("python")
    for refused in (" ", "a\x1fb"):
        assert not tag.search(refused)

    for blank in ("   ", "\t\n"):
        response = await client.post(
            "/api/articles",
            json={"article": {"title": blank, "description": "d", "body": "b"}},
            headers={"Authorization": "Token x"},
        )
        assert response.status_code in (401, 422)


async def test_schema_declares_the_tag_list_limit(client: httpx.AsyncClient) -> None:
    article = (await _schema(client))["components"]["schemas"]["NewArticle"]["properties"]
    assert article["tagList"]["maxItems"] == 10


# Malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b'{"user": ', b"not json", b'{"user": {"username": "\xff"}}', b"\xff"]
)
async def test_unparsable_bodies_are_documented_422s(
    client: httpx.AsyncClient, content: bytes
) -> None:
    response = await client.post(
        "/api/users", content=content, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json() == {"errors": {"body": ["is not valid JSON"]}}
    documented = (await _schema(client))["paths"]["/api/users"]["post"]["responses"]
    assert "422" in documented


# 405 ------------------------------------------------------------------------------------


async def test_405_allow_names_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    """Every path of the schema, asked with a method it does not serve: a 405 whose
    ``Allow`` lists exactly the methods the schema documents there."""
    schema = await _schema(client)
    templates = {path: compile_path(path)[0] for path in schema["paths"]}
    for path in schema["paths"]:
        url = _concrete(path, "some-slug")
        # /api/articles/feed is also /api/articles/{slug}: both paths' methods apply.
        documented = {
            method.upper()
            for other, item in schema["paths"].items()
            if templates[other].match(url)
            for method in item
            if method in HTTP_METHODS
        }
        unserved = next(m for m in ("PATCH", "PUT", "POST", "DELETE") if m not in documented)
        response = await client.request(unserved, url)
        assert response.status_code == 405, (path, response.status_code)
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed - {"HEAD"} == documented, path
        assert set(response.json()) == {"errors"}


async def test_405_allow_on_a_path_split_across_routes(client: httpx.AsyncClient) -> None:
    # GET and POST /api/articles are two routes: Starlette alone would name only GET.
    response = await client.patch("/api/articles")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


# Limits ---------------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    return b'{"user": {"username": ' + b"[" * depth + b"]" * depth + b"}}"


def test_json_depth_counts_only_structure() -> None:
    assert not json_depth_exceeds(b'{"a": [1, {"b": [2]}]}')
    assert not json_depth_exceeds(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert json_depth_exceeds(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
    assert json_depth_exceeds(b"{" + b'"a":{' * 70 + b"}" * 71)
    # Brackets inside strings are text, escaped quotes included.
    text = json.dumps({"body": "[" * 500 + '"\\' + "{" * 500}).encode()
    assert not json_depth_exceeds(text)
    # Unbalanced is not deep: the JSON parser refuses it.
    assert not json_depth_exceeds(b"[" * 500)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 500_000])
async def test_deep_json_is_422_without_recursion(client: httpx.AsyncClient, depth: int) -> None:
    response = await client.post(
        "/api/users", content=_nested(depth), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json() == {
        "errors": {"body": [f"is nested too deeply (limit: {MAX_JSON_DEPTH} levels)"]}
    }


async def test_json_at_the_depth_limit_reaches_validation(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/users",
        content=_nested(MAX_JSON_DEPTH - 2),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert "nested" not in response.text  # the schema refused it, not the depth guard


class TestBodySize:
    @pytest.fixture
    def settings(self, session_settings: Settings) -> Settings:
        return session_settings.model_copy(update={"max_body_bytes": 1000})

    async def test_a_declared_length_over_the_limit_is_413(self, client: httpx.AsyncClient) -> None:
        body = json.dumps({"user": {"username": "x" * 2000}}).encode()
        response = await client.post(
            "/api/users", content=body, headers={"Content-Type": "application/json"}
        )

        assert response.status_code == 413
        assert response.headers["connection"] == "close"
        assert response.json() == {
            "errors": {"body": ["request body is too large (limit: 1000 bytes)"]}
        }

    async def test_a_streamed_body_over_the_limit_is_413(self, client: httpx.AsyncClient) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b" " * 100  # no Content-Length: counted as it arrives

        response = await client.post(
            "/api/users", content=chunks(), headers={"Content-Type": "application/json"}
        )

        assert response.status_code == 413
        assert set(response.json()["errors"]) == {"body"}

    async def test_a_body_within_the_limit_is_served(self, client: httpx.AsyncClient) -> None:
        user = {"username": "small", "email": "small@example.com", "password": "long-enough"}
        response = await client.post("/api/users", json={"user": user})

        assert response.status_code == 201


async def test_default_body_limit_is_one_mebibyte(app: FastAPI) -> None:
    assert app.state.settings.max_body_bytes == 1024 * 1024


async def test_long_query_string_is_414(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/articles", params={"tag": "x" * (MAX_QUERY_BYTES + 1)})

    assert response.status_code == 414
    assert set(response.json()["errors"]) == {"query"}


async def test_large_headers_are_431(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/tags", headers={"X-Padding": "x" * MAX_HEADER_BYTES})

    assert response.status_code == 431
    assert set(response.json()["errors"]) == {"headers"}


async def test_ordinary_requests_pass_the_limits(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/articles", params={"tag": "x" * 64, "limit": 5})

    assert response.status_code == 200


# What fuzzing found: rules the app enforced and the schema did not declare ---------------


async def test_board_slug_pattern_agrees_with_the_app(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    schema = (await _schema(client))["components"]["schemas"]
    pattern = re.compile(schema["NewCategory"]["properties"]["slug"]["anyOf"][0]["pattern"])
    for slug, valid in [
        ("news", True),
        ("a-1", True),
        ("A", False),
        ("a--b", False),
        ("-a", False),
    ]:
        assert bool(pattern.search(slug)) is valid, slug
        response = await client.post(
            "/api/categories",
            json={"category": {"name": f"Name {slug}", "slug": slug}},
            headers=auth(admin["token"]),
        )
        assert (response.status_code == 201) is valid, (slug, response.text)


async def test_special_use_email_domains_are_declared_and_refused(
    client: httpx.AsyncClient,
) -> None:
    schema = (await _schema(client))["components"]["schemas"]
    pattern = re.compile(schema["NewUser"]["properties"]["email"]["pattern"])
    assert pattern.search("someone@example.com")
    for email in ("someone@box.test", "someone@HOST.LOCAL", "someone@localhost", "a@b.onion"):
        assert not pattern.search(email), email
        user = {"username": "special", "email": email, "password": "long-enough"}
        response = await client.post("/api/users", json={"user": user})
        assert response.status_code == 422, email
        assert list(response.json()["errors"]) == ["email"]


async def test_token_form_declares_what_it_accepts(client: httpx.AsyncClient) -> None:
    form = (await _schema(client))["components"]["schemas"]["TokenForm"]["properties"]
    assert form["grant_type"]["const"] == "password"
    assert form["password"]["minLength"] == 1
    # "password\n" matched the old pattern "^password$" in Python's dialect, not the app's.
    response = await client.post(
        "/api/users/token",
        data={"grant_type": "password\n", "username": "a@example.com", "password": "x"},
    )
    assert response.status_code == 422


async def test_a_new_name_must_make_a_slug_and_the_schema_says_so(
    client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    schema = (await _schema(client))["components"]["schemas"]
    for model in ("NewCategory", "NewBoard"):
        pattern = re.compile(schema[model]["properties"]["name"]["pattern"])
        assert pattern.search("News 2")
        assert pattern.search("한국어")
        for no_slug in ("???", "_", "\ufe70", " - "):
            assert not pattern.search(no_slug), (model, no_slug)
    for name, created in (("???", False), ("\ufe70", False), ("Q & A", True)):
        response = await client.post(
            "/api/categories", json={"category": {"name": name}}, headers=auth(admin["token"])
        )
        assert (response.status_code == 201) is created, (name, response.text)


async def test_depth_is_a_json_rule(client: httpx.AsyncClient) -> None:
    """A form body full of brackets is not JSON: the form's own rules answer."""
    response = await client.post(
        "/api/users/token",
        content=b"username=" + b"[" * 100,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 422
    assert "nested" not in response.text


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"].rsplit("/", 1)[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _unbounded(node: Any, where: str) -> Iterator[str]:
    if isinstance(node, dict):
        kind = node.get("type")
        bounded_by_value = {"enum", "const"} & set(node)
        if kind == "array" and "maxItems" not in node:
            yield where
        if kind == "string" and not ({"maxLength", "format"} & set(node) or bounded_by_value):
            yield where
        if kind == "integer" and "maximum" not in node and not bounded_by_value:
            yield where
        for key, value in node.items():
            yield from _unbounded(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _unbounded(value, f"{where}[{index}]")


async def test_every_request_body_field_is_bounded(client: httpx.AsyncClient) -> None:
    """Strings have a maximum length, arrays a maximum count, integers a maximum, in every
    schema a request body can reach."""
    schema = await _schema(client)
    components = schema["components"]["schemas"]
    pending = [
        ref
        for _, _, operation in _operations(schema)
        for ref in _refs(operation.get("requestBody", {}))
    ]
    seen: set[str] = set()
    unbounded: list[str] = []
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        unbounded.extend(_unbounded(components[name], name))
        pending.extend(_refs(components[name]))
    assert len(seen) > 20
    assert not unbounded
