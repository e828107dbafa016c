"""JSON answers written once, straight from plain values.

Routes that return one declare their wire model all the same (``response_model``), so the
OpenAPI schema documents them; what they skip is FastAPI's validation and serialisation
pass over a value the service has just built to that model's shape.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def json_bytes(content: Any) -> bytes:
    """The JSON of ``content`` as every answer writes it."""
    return orjson.dumps(content)


class JSONBytes(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json_bytes(content)
