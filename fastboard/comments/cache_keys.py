"""What this domain's read-cache keys name (see fastboard.cache)."""

from __future__ import annotations


def comments_on(slug: str) -> str:
    """The comments of the article at ``slug``, and that it is there."""
    return f"comments:{slug}"
