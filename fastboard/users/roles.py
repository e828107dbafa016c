"""Who may keep order on the board: every account has one role, ranked."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    USER = "user"
    MODERATOR = "moderator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def outranks(self, other: Role) -> bool:
        """Whether this role may moderate ``other``: nobody moderates an equal or higher role."""
        return self.rank > other.rank

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {Role.USER: 0, Role.MODERATOR: 1, Role.ADMIN: 2}

# What the database accepts, in the check constraint of users.role.
ROLE_NAMES = tuple(role.value for role in Role)
