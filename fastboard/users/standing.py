"""Whether a token's account may act: the one rule behind every authenticated request,
for the dependencies that load the account and for writes that read it in their own
statement. No FastAPI here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastboard.db import SAFE_METHODS
from fastboard.errors import Forbidden, Unauthorized
from fastboard.fields import iso_millis

INVALID_TOKEN = "token is invalid or has expired"  # noqa: S105 - a message, not a secret


@dataclass(frozen=True, slots=True)
class Standing:
    """What the rule needs of an account found at the token's version."""

    suspended_until: datetime | None
    suspension_reason: str | None

    def may_write(self, now: datetime) -> bool:
        """Not suspended at ``now``: may do more than read."""
        return self.suspended_until is None or self.suspended_until <= now


def admit(standing: Standing | None, method: str, now: datetime) -> None:
    """Raise unless the account (None: none at the token's version, so a password change,
    logout everywhere or deletion spent the token) may do ``method`` at ``now``."""
    if standing is None:
        raise Unauthorized(INVALID_TOKEN, field="token")
    until = standing.suspended_until
    if method not in SAFE_METHODS and until is not None and not standing.may_write(now):
        reason = f" ({standing.suspension_reason})" if standing.suspension_reason else ""
        raise Forbidden(
            f"your account is suspended until {iso_millis(until)}{reason}", field="user"
        )
