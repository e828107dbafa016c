"""Query parameters shared by the list endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

MAX_LIMIT = 100
# Bounded so the value always fits the databases' integer types: no driver overflow (500).
MAX_OFFSET = 2**31 - 1

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many items to return")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many items to skip")]
