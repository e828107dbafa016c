"""Slugs of categories and boards: derived from the name, or given and checked."""

from __future__ import annotations

from slugify import slugify

MAX_SLUG_LENGTH = 64


def slug_for(name: str) -> str:
    """The slug a name gets; empty when the name has no letter or digit at all."""
    # allow_unicode, as article slugs: a Korean board keeps a readable address.
    return str(slugify(name, allow_unicode=True, max_length=MAX_SLUG_LENGTH))


def check_slug(value: str) -> str:
    """A given slug must be one the name rule could have made: no case or spelling to
    normalise, so each address has one spelling."""
    if slug_for(value) != value:
        raise ValueError("must be lowercase letters or digits separated by single hyphens")
    return value
