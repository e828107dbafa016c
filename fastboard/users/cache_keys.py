"""What this domain's read-cache keys name (see fastboard.cache)."""

from __future__ import annotations

# Which user has which name: the lists filtered by ``author`` or ``favorited``.
USERNAMES = "usernames"


def user(user_id: int) -> str:
    """A user as others see them (username, bio, image), wherever they are shown."""
    return f"user:{user_id}"
