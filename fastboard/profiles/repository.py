"""Every query on the follows table."""

from __future__ import annotations

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.db import insert_ignoring_duplicates
from fastboard.profiles.models import Follow


async def is_following(session: AsyncSession, follower_id: int, followee_id: int) -> bool:
    query = select(
        exists().where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
    )
    return bool(await session.scalar(query))


async def follow(session: AsyncSession, follower_id: int, followee_id: int) -> None:
    await insert_ignoring_duplicates(
        session, Follow, [{"follower_id": follower_id, "followee_id": followee_id}]
    )


async def unfollow(session: AsyncSession, follower_id: int, followee_id: int) -> None:
    await session.execute(
        delete(Follow).where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
    )
