"""What this domain's read-cache keys name (see fastboard.cache)."""

from __future__ import annotations


def follows_of(user_id: int) -> str:
    """Whom a user follows: whose articles their feed shows."""
    return f"follows:{user_id}"
