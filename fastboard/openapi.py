"""OpenAPI helpers: the RealWorld error envelope documented on every operation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_DESCRIPTIONS = {
    401: "Unauthorized: missing, malformed, expired or invalid token",
    403: "Forbidden: only the owner may do this",
    404: "Not found",
    409: "Conflict",
    422: "Invalid input",
    503: "The database is unavailable",
}


class GenericErrorModel(BaseModel):
    """``{"errors": {"<field or 'body'>": ["message", …]}}``"""

    errors: dict[str, list[str]]


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"model": GenericErrorModel, "description": _DESCRIPTIONS[code]}
        for code in (*codes, 503)
    }
