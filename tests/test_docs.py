"""/docs and /redoc work offline, and /openapi.json documents the whole Conduit API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from fastboard.app import create_app
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio

# The copy kept in the repository (spec/README.md says where it comes from).
SPEC_PATH = Path(__file__).resolve().parents[1] / "spec" / "realworld-openapi.yml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
SPEC_PREFIX = "/api"  # the spec's server URL ends in /api
METHODS = {"get", "put", "post", "delete", "patch"}

URL_IN_HTML = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
}


@pytest.fixture(scope="module")
def docs_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """Documentation needs no database: one app on an unused SQLite path serves the module."""
    var = tmp_path_factory.mktemp("docs")
    return create_app(make_settings(f"sqlite+aiosqlite:///{var}/unused.db", var))


@pytest.fixture
async def docs_client(docs_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=docs_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def openapi(docs_client: httpx.AsyncClient) -> dict[str, Any]:
    response = await docs_client.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def operations(schema: dict[str, Any], prefix: str = "") -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), prefix + path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


SPEC_OPERATIONS = operations(SPEC, SPEC_PREFIX)


def referenced_urls(html: str) -> list[str]:
    return [first or second for first, second in URL_IN_HTML.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_reference_only_local_assets(
    docs_client: httpx.AsyncClient, page: str
) -> None:
    response = await docs_client.get(page)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = referenced_urls(response.text)
    assert "/openapi.json" in urls
    assets = [url for url in urls if url != "/openapi.json"]
    assert assets
    assert all(url.startswith("/docs/assets/") for url in assets), urls
    for host in ("http://", "https://", "//cdn", "jsdelivr", "unpkg", "googleapis"):
        assert host not in response.text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_assets_are_served_with_their_content_type(
    docs_client: httpx.AsyncClient, page: str
) -> None:
    html = (await docs_client.get(page)).text
    assets = [url for url in referenced_urls(html) if url.startswith("/docs/assets/")]

    for url in assets:
        response = await docs_client.get(url)
        assert response.status_code == 200, url
        assert response.content, url
        expected = CONTENT_TYPES[Path(url).suffix]
        assert response.headers["content-type"].startswith(expected), url


async def test_missing_docs_asset_is_404_envelope(docs_client: httpx.AsyncClient) -> None:
    response = await docs_client.get("/docs/assets/nope.js")

    assert response.status_code == 404
    assert set(response.json()) == {"errors"}


async def test_oauth2_redirect_page_is_served(docs_client: httpx.AsyncClient) -> None:
    response = await docs_client.get("/docs/oauth2-redirect")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_openapi_has_every_spec_operation_at_its_path_and_method(
    openapi: dict[str, Any],
) -> None:
    ours = operations(openapi)

    missing = sorted(set(SPEC_OPERATIONS) - set(ours))
    assert missing == []
    assert len(SPEC_OPERATIONS) == 19
    for key, spec_operation in SPEC_OPERATIONS.items():
        assert ours[key]["operationId"] == spec_operation["operationId"], key


async def test_openapi_operation_ids_are_unique_and_cover_the_spec(
    openapi: dict[str, Any],
) -> None:
    ids = [operation["operationId"] for operation in operations(openapi).values()]
    spec_ids = {operation["operationId"] for operation in SPEC_OPERATIONS.values()}

    assert len(ids) == len(set(ids))
    assert spec_ids <= set(ids)


async def test_openapi_success_status_codes_match_the_spec(openapi: dict[str, Any]) -> None:
    ours = operations(openapi)

    for key, spec_operation in SPEC_OPERATIONS.items():
        spec_success = {code for code in spec_operation["responses"] if code.startswith("2")}
        our_success = {code for code in ours[key]["responses"] if code.startswith("2")}
        assert our_success == spec_success, key


async def test_openapi_documents_token_and_oauth2_security_schemes(
    openapi: dict[str, Any],
) -> None:
    schemes = openapi["components"]["securitySchemes"]

    assert schemes["Token"] == {**schemes["Token"], "type": "apiKey", "in": "header"}
    assert schemes["Token"]["name"] == "Authorization"
    assert schemes["OAuth2"]["type"] == "oauth2"
    assert schemes["OAuth2"]["flows"]["password"]["tokenUrl"] == "/api/users/token"


async def test_openapi_secures_the_operations_the_spec_secures(openapi: dict[str, Any]) -> None:
    ours = operations(openapi)

    for key, spec_operation in SPEC_OPERATIONS.items():
        if "security" not in spec_operation:
            continue
        schemes = {name for requirement in ours[key].get("security", []) for name in requirement}
        assert "Token" in schemes, key
        assert "401" in ours[key]["responses"], key


async def test_openapi_documents_errors_with_the_envelope_model(openapi: dict[str, Any]) -> None:
    assert openapi["components"]["schemas"]["GenericErrorModel"]["required"] == ["errors"]

    for key, operation in operations(openapi).items():
        if not key[1].startswith("/api/"):
            continue
        errors = {code: r for code, r in operation["responses"].items() if code[0] in "45"}
        assert "503" in errors, key
        for code, response in errors.items():
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/GenericErrorModel", (key, code)


async def test_openapi_documents_the_errors_the_spec_lists(openapi: dict[str, Any]) -> None:
    ours = operations(openapi)

    for key, spec_operation in SPEC_OPERATIONS.items():
        spec_errors = {code for code in spec_operation["responses"] if code[0] in "45"}
        if key == ("GET", "/api/user"):
            spec_errors.discard("422")  # takes no input, so it cannot be invalid
        assert spec_errors <= set(ours[key]["responses"]), key


async def test_openapi_does_not_advertise_fastapi_validation_errors(
    openapi: dict[str, Any],
) -> None:
    """Clients get {"errors": …} on 422, never FastAPI's {"detail": …}."""
    schemas = openapi["components"]["schemas"]

    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas


async def test_token_endpoint_is_documented_as_a_form(openapi: dict[str, Any]) -> None:
    body = openapi["paths"]["/api/users/token"]["post"]["requestBody"]

    assert list(body["content"]) == ["application/x-www-form-urlencoded"]


# fastboard's own operations beyond the spec: documented, with examples.
BOARD_OPERATIONS = {
    ("PUT", "/api/user/password"): "ChangePassword",
    ("DELETE", "/api/user"): "DeleteCurrentUser",
    ("GET", "/api/user/export"): "ExportCurrentUser",
    ("PUT", "/api/profiles/{username}/role"): "SetProfileRole",
    ("POST", "/api/profiles/{username}/suspension"): "SuspendProfile",
    ("DELETE", "/api/profiles/{username}/suspension"): "LiftProfileSuspension",
    ("POST", "/api/articles/{slug}/lock"): "LockArticle",
    ("DELETE", "/api/articles/{slug}/lock"): "UnlockArticle",
    ("GET", "/api/moderation/log"): "GetModerationLog",
}


def _resolved(schema: dict[str, Any], openapi: dict[str, Any]) -> dict[str, Any]:
    """A schema with its $ref followed (also through anyOf, as an optional body has it)."""
    for option in schema.get("anyOf", []):
        if "$ref" in option:
            schema = option
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = openapi["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return found


def _has_example(content: dict[str, Any], openapi: dict[str, Any]) -> bool:
    media = content["application/json"]
    return bool(
        media.get("example")
        or media.get("examples")
        or _resolved(media["schema"], openapi).get("examples")
    )


async def test_board_operations_are_documented_with_examples(openapi: dict[str, Any]) -> None:
    ours = operations(openapi)

    for key, operation_id in BOARD_OPERATIONS.items():
        operation = ours[key]
        assert operation["operationId"] == operation_id
        assert operation["summary"], key
        assert "Token" in {name for req in operation.get("security", []) for name in req}, key
        assert "401" in operation["responses"], key
        success = next(code for code in operation["responses"] if code.startswith("2"))
        if success != "204":
            assert _has_example(operation["responses"][success]["content"], openapi), key
        if "requestBody" in operation:
            assert _has_example(operation["requestBody"]["content"], openapi), key
