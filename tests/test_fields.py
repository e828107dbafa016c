"""How shared field values are written out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fastboard.fields import iso_millis


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC), "2024-05-01T12:00:00.000Z"),
        # Milliseconds are cut, not rounded: 999.999 ms stays in its second.
        (datetime(2024, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), "2024-12-31T23:59:59.999Z"),
        (datetime(999, 1, 2, 3, 4, 5, 6_000, tzinfo=UTC), "0999-01-02T03:04:05.006Z"),
        # Another offset is written as the same instant in UTC.
        (
            datetime(2024, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))),
            "2023-12-31T23:30:00.000Z",
        ),
    ],
)
def test_timestamps_are_utc_with_milliseconds_and_z(value: datetime, written: str) -> None:
    assert iso_millis(value) == written
