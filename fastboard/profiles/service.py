"""Profiles and following."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.errors import Invalid, NotFound
from fastboard.profiles import repository
from fastboard.profiles.schemas import Profile
from fastboard.users import repository as users
from fastboard.users.models import User


def profile_out(user: User, *, following: bool) -> Profile:
    return Profile(
        username=user.username, bio=user.bio, image=user.image or "", following=following
    )


async def _user_named(session: AsyncSession, username: str) -> User:
    user = await users.get_by_username(session, username)
    if user is None:
        raise NotFound("profile not found", field="profile")
    return user


async def get(session: AsyncSession, username: str, viewer: User | None) -> Profile:
    user = await _user_named(session, username)
    following = viewer is not None and await repository.is_following(session, viewer.id, user.id)
    return profile_out(user, following=following)


async def follow(session: AsyncSession, username: str, viewer: User) -> Profile:
    user = await _user_named(session, username)
    if user.id == viewer.id:
        raise Invalid("you cannot follow yourself", field="profile")
    await repository.follow(session, viewer.id, user.id)
    return profile_out(user, following=True)


async def unfollow(session: AsyncSession, username: str, viewer: User) -> Profile:
    user = await _user_named(session, username)
    await repository.unfollow(session, viewer.id, user.id)
    return profile_out(user, following=False)
