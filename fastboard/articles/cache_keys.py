"""What this domain's read-cache keys name (see fastboard.cache): readers depend on them,
writers name those they change."""

from __future__ import annotations

# Which articles there are, in which order, under which tags: every list and its count.
ARTICLES = "articles"
# The tags and how many articles carry each: the popular tags.
TAGS = "tags"
# Who favorited what: the lists filtered by ``favorited``.
FAVORITES = "favorites"


def article(article_id: int) -> str:
    """One article as lists and its page show it: fields, tags, favorites count."""
    return f"article:{article_id}"
