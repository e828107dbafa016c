"""Every query on the users table."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, Integer, Select, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.articles.models import Article, ArticleTag, Favorite, Tag
from fastboard.comments.models import Comment
from fastboard.db import UTCDateTime, insert_ignoring_duplicates, utcnow
from fastboard.fields import TAG_SEPARATOR
from fastboard.profiles.models import Follow
from fastboard.users.models import (
    DELETED_EMAIL,
    DELETED_USERNAME,
    UNUSABLE_PASSWORD_HASH,
    User,
)


def token_account() -> Any:
    """The account a token names, at the token's version (the bound parameters
    ``viewer_id`` and ``token_version``), as a CTE for a write to check in its own
    statement: its profile, its standing, and whether it may write at ``now``."""
    return (
        select(
            User.id.label("viewer_id"),
            User.username.label("viewer_username"),
            User.bio.label("viewer_bio"),
            User.image.label("viewer_image"),
            User.role.label("viewer_role"),
            User.suspended_until,
            User.suspension_reason,
            or_(
                User.suspended_until.is_(None),
                User.suspended_until <= bindparam("now", type_=UTCDateTime),
            ).label("allowed"),
        )
        .where(
            User.id == bindparam("viewer_id", type_=BigInteger),
            User.token_version == bindparam("token_version", type_=Integer),
        )
        .cte("viewer")
    )


async def get_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def get_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def taken_fields(
    session: AsyncSession, *, username: str | None, email: str | None, exclude_id: int | None = None
) -> set[str]:
    """Which of ``username`` / ``email`` already belong to another user (one query)."""
    conditions = []
    if username is not None:
        conditions.append(User.username == username)
    if email is not None:
        conditions.append(User.email == email)
    if not conditions:
        return set()
    query = select(User.username, User.email).where(or_(*conditions))
    if exclude_id is not None:
        query = query.where(User.id != exclude_id)
    taken: set[str] = set()
    for row in await session.execute(query):
        if username is not None and row.username == username:
            taken.add("username")
        if email is not None and row.email == email:
            taken.add("email")
    return taken


async def add(session: AsyncSession, *, username: str, email: str, password_hash: str) -> User:
    """Insert a user inside a savepoint, so a unique-constraint race can be reported
    without aborting the request's transaction (raises IntegrityError)."""
    user = User(username=username, email=email, password_hash=password_hash)
    async with session.begin_nested():
        session.add(user)
    return user


async def update_fields(session: AsyncSession, user: User, changes: dict[str, Any]) -> User:
    """Apply ``changes`` inside a savepoint (raises IntegrityError on a unique race)."""
    async with session.begin_nested():
        for name, value in changes.items():
            setattr(user, name, value)
    return user


async def replace_password_hash(session: AsyncSession, user: User, new_hash: str) -> None:
    """Store ``new_hash`` only if the row still holds the hash ``user`` was read with: a
    rehash computed outside the transaction must never undo a concurrent password change."""
    await session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == user.password_hash)
        .values(password_hash=new_hash)
    )


async def change_password(session: AsyncSession, user: User, new_hash: str) -> int | None:
    """Store ``new_hash`` and raise the token version, if the row still holds the hash
    ``user`` was read with; the new version, None when the password changed meanwhile."""
    version: int | None = await session.scalar(
        update(User)
        .where(User.id == user.id, User.password_hash == user.password_hash)
        .values(password_hash=new_hash, token_version=User.token_version + 1, updated_at=utcnow())
        .returning(User.token_version)
        .execution_options(synchronize_session=False)
    )
    return version


async def raise_token_version(session: AsyncSession, user_id: int) -> int | None:
    """Spend every token issued so far: the account's new token version, None when the
    account is gone."""
    version: int | None = await session.scalar(
        update(User)
        .where(User.id == user_id)
        .values(token_version=User.token_version + 1)
        .returning(User.token_version)
        .execution_options(synchronize_session=False)
    )
    return version


async def placeholder_id(session: AsyncSession) -> int:
    """The id of the account that keeps deleted accounts' articles and comments, created
    the first time it is needed (concurrent first deletions create it once)."""
    now = utcnow()
    row = {
        "username": DELETED_USERNAME,
        "email": DELETED_EMAIL,
        "password_hash": UNUSABLE_PASSWORD_HASH,
        "created_at": now,
        "updated_at": now,
    }
    await insert_ignoring_duplicates(session, User, [row])
    found = await session.scalar(select(User.id).where(User.username == DELETED_USERNAME))
    assert found is not None
    return found


async def remove(session: AsyncSession, user_id: int) -> None:
    """Delete the account; its follows and favorites go with it (cascade)."""
    await session.execute(
        delete(User).where(User.id == user_id).execution_options(synchronize_session=False)
    )


class ExportPart(Enum):
    ARTICLES = "articles"
    COMMENTS = "comments"
    FAVORITES = "favorites"
    FOLLOWING = "following"


@cache
def _export_statement(part: ExportPart) -> Select[Any]:
    """One chunk of a part of a user's data, in the order of its ``key`` column, after the
    bound ``after`` key: keyset pages cost the same however far into the data they are."""
    user_id = bindparam("user_id", type_=BigInteger)
    after = bindparam("after", type_=BigInteger)
    if part is ExportPart.ARTICLES:
        tags = (
            select(func.aggregate_strings(Tag.name, TAG_SEPARATOR))
            .join(ArticleTag, ArticleTag.tag_id == Tag.id)
            .where(ArticleTag.article_id == Article.id)
            .correlate(Article)
            .scalar_subquery()
        )
        query = select(
            Article.id.label("key"),
            Article.slug,
            Article.title,
            Article.description,
            Article.body,
            Article.created_at,
            Article.updated_at,
            Article.favorites_count,
            tags.label("tags"),
        ).where(Article.author_id == user_id, Article.id > after)
        key: Any = Article.id
    elif part is ExportPart.COMMENTS:
        query = (
            select(
                Comment.id.label("key"),
                Comment.id,
                Article.slug,
                Comment.body,
                Comment.created_at,
                Comment.updated_at,
            )
            .join(Article, Article.id == Comment.article_id)
            .where(Comment.author_id == user_id, Comment.id > after)
        )
        key = Comment.id
    elif part is ExportPart.FAVORITES:
        query = (
            select(Favorite.article_id.label("key"), Article.slug, Favorite.created_at)
            .join(Article, Article.id == Favorite.article_id)
            .where(Favorite.user_id == user_id, Favorite.article_id > after)
        )
        key = Favorite.article_id
    else:
        query = (
            select(Follow.followee_id.label("key"), User.username, Follow.created_at)
            .join(User, User.id == Follow.followee_id)
            .where(Follow.follower_id == user_id, Follow.followee_id > after)
        )
        key = Follow.followee_id
    return query.order_by(key).limit(bindparam("limit", type_=Integer))


async def export_chunk(
    session: AsyncSession, part: ExportPart, user_id: int, *, after: int, limit: int
) -> Sequence[Any]:
    connection = await session.connection()
    params = {"user_id": user_id, "after": after, "limit": limit}
    rows: Sequence[Any] = (await connection.execute(_export_statement(part), params)).all()
    return rows
