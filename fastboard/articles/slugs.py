"""Slugs: readable, derived from the title, unique."""

from __future__ import annotations

import secrets

from slugify import slugify

MAX_SLUG_LENGTH = 200
# Slugs that are routes of their own under /api/articles/: GET /api/articles/feed is the
# feed, so an article with the slug "feed" could never be read.
RESERVED_SLUGS = frozenset({"feed"})


def base_slug(title: str) -> str:
    # allow_unicode keeps Korean, Cyrillic … readable instead of transliterating them;
    # a title with no letters at all (emoji only) falls back to "article".
    slug = slugify(title, allow_unicode=True, max_length=MAX_SLUG_LENGTH) or "article"
    return f"{slug}-article" if slug in RESERVED_SLUGS else slug


def with_suffix(slug: str) -> str:
    return f"{slug}-{secrets.token_hex(4)}"
