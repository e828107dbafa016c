"""Every query on the follows table, and a user as others see them: the author columns
that other domains' queries join."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Select,
    SQLColumnExpression,
    String,
    bindparam,
    delete,
    exists,
    false,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.db import insert_ignoring_duplicates
from fastboard.prepared import Row, read_rows
from fastboard.profiles.models import Follow
from fastboard.users.models import User

# A viewer's id as a value, or as a bound parameter of a statement built once.
ViewerId = int | BindParameter[int] | None


@dataclass(frozen=True, slots=True)
class Author:
    """A user as a viewer sees them: the columns ``author_columns`` selects."""

    id: int
    username: str
    bio: str
    image: str | None
    following: bool
    role: str = "user"

    @classmethod
    def from_mapping(cls, row: Row) -> Author:
        return cls(
            id=row["author_id"],
            username=row["author_username"],
            bio=row["author_bio"],
            image=row["author_image"],
            following=row["following"],
            role=row["author_role"],
        )

    @classmethod
    def of(cls, user: User, *, following: bool) -> Author:
        return cls(user.id, user.username, user.bio, user.image, following, user.role)


def viewer_follows(user_id: SQLColumnExpression[int], viewer_id: ViewerId) -> ColumnElement[bool]:
    """The ``following`` column: whether the viewer follows ``user_id`` (false when anonymous)."""
    if viewer_id is None:
        return false().label("following")
    followed = exists().where(Follow.follower_id == viewer_id, Follow.followee_id == user_id)
    return followed.label("following")


def author_columns(author_id: SQLColumnExpression[int], viewer_id: ViewerId) -> list[Any]:
    """The columns of an ``Author``, for a query that joins ``User`` on ``author_id``."""
    return [
        author_id.label("author_id"),
        User.username.label("author_username"),
        User.bio.label("author_bio"),
        User.image.label("author_image"),
        viewer_follows(author_id, viewer_id),
        User.role.label("author_role"),
    ]


def followed_by(follower_id: SQLColumnExpression[int]) -> Select[int]:
    """The ids of the users ``follower_id`` follows, as a subquery."""
    return select(Follow.followee_id).where(Follow.follower_id == follower_id)


@cache
def _author_statement(*, with_viewer: bool) -> Select[Any]:
    viewer_id = bindparam("viewer_id", type_=BigInteger) if with_viewer else None
    username = bindparam("username", type_=String)
    return select(*author_columns(User.id, viewer_id)).where(User.username == username)


async def get_author(
    session: AsyncSession, username: str, *, viewer_id: int | None
) -> Author | None:
    params: dict[str, Any] = {"username": username}
    if viewer_id is not None:
        params["viewer_id"] = viewer_id
    statement = _author_statement(with_viewer=viewer_id is not None)
    rows = await read_rows(session, statement, params)
    return Author.from_mapping(rows[0]) if rows else None


async def follow(session: AsyncSession, follower_id: int, followee_id: int) -> None:
    await insert_ignoring_duplicates(
        session, Follow, [{"follower_id": follower_id, "followee_id": followee_id}]
    )


async def unfollow(session: AsyncSession, follower_id: int, followee_id: int) -> None:
    await session.execute(
        delete(Follow).where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
    )
