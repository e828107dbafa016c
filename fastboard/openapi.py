"""OpenAPI helpers: the RealWorld error envelope documented on every operation, with every
status code the app can answer there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

_DESCRIPTIONS = {
    401: "Unauthorized: missing, malformed, expired or invalid token",
    403: "Forbidden: only the owner may do this",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large (the `max_body_bytes` setting, 1 MiB by default)",
    414: "Query string too long (over 8 KiB)",
    422: "Invalid input: a field breaks a rule, the body is not JSON or nests over 64 levels",
    429: "Too many requests: try again after `Retry-After` seconds",
    431: "Request headers too large (over 16 KiB)",
    503: "The database is unavailable",
}

_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})
# fastboard.guards answers these before any route runs, on every operation: 422 for NUL
# in a query string or a body nested too deeply.
_EVERY_OPERATION = (414, 422, 431)
_WITH_A_BODY = (413,)
_ERROR_SCHEMA = "GenericErrorModel"


class GenericErrorModel(BaseModel):
    """``{"errors": {"<field or 'body'>": ["message", …]}}``"""

    errors: dict[str, list[str]]


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"model": GenericErrorModel, "description": _DESCRIPTIONS[code]}
        for code in (*codes, 503)
    }


def _error_response(code: int) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[code],
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{_ERROR_SCHEMA}"}}
        },
    }


def document_guards(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the answers of the app-wide guards to every operation of ``schema``."""
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            codes = _EVERY_OPERATION + (_WITH_A_BODY if "requestBody" in operation else ())
            for code in codes:
                responses.setdefault(str(code), _error_response(code))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(_ERROR_SCHEMA, GenericErrorModel.model_json_schema())
    return schema


def install_openapi(app: FastAPI) -> None:
    """``/openapi.json`` with the guards' answers documented (built once, then kept)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_guards(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
