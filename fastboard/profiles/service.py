"""Profiles and following; the one place a profile is built for the wire."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.db import changed
from fastboard.errors import Invalid, NotFound
from fastboard.live import events as live
from fastboard.profiles import repository
from fastboard.profiles.cache_keys import follows_of
from fastboard.profiles.models import Follow
from fastboard.profiles.repository import Author
from fastboard.users.models import User

# Shaped as the wire model ``Profile`` (profiles.schemas), keys in its order.
ProfileJSON = dict[str, Any]


def profile_json(author: Author, *, following: bool) -> ProfileJSON:
    return {
        "username": author.username,
        "bio": author.bio,
        "image": author.image or "",
        "following": following,
        "role": author.role,
    }


async def _author_named(session: AsyncSession, username: str, viewer: User | None) -> Author:
    author = await repository.get_author(session, username, viewer_id=viewer.id if viewer else None)
    if author is None:
        raise NotFound("profile not found", field="profile")
    return author


async def get(session: AsyncSession, username: str, viewer: User | None) -> ProfileJSON:
    author = await _author_named(session, username, viewer)
    return profile_json(author, following=author.following)


async def follow(session: AsyncSession, username: str, user: User) -> ProfileJSON:
    author = await _author_named(session, username, user)
    if author.id == user.id:
        raise Invalid("you cannot follow yourself", field="profile")
    await repository.follow(session, user.id, author.id)
    changed(session, Follow, keys=[follows_of(user.id)])
    live.followed(
        session, author.id, profile_json(Author.of(user, following=False), following=False)
    )
    return profile_json(author, following=True)


async def unfollow(session: AsyncSession, username: str, user: User) -> ProfileJSON:
    author = await _author_named(session, username, user)
    await repository.unfollow(session, user.id, author.id)
    changed(session, Follow, keys=[follows_of(user.id)])
    return profile_json(author, following=False)
