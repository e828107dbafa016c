"""Wire-format pieces shared by several domains' schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def _iso_millis(value: datetime) -> str:
    # RealWorld clients expect e.g. 2024-05-01T12:00:00.000Z: fractional seconds and "Z".
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(_iso_millis, return_type=str)]
