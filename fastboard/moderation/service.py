"""Moderation rules: who may act on whom, roles, suspensions, locks and the log that
records every action. No FastAPI here.

Nobody moderates an account of equal or higher role; a moderator acting on their own
content is its owner, not its moderator. There is always at least one admin once there
has been one: the last admin cannot step down.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.articles import cache_keys as article_keys
from fastboard.articles.models import Article
from fastboard.db import changed, utcnow
from fastboard.errors import Forbidden, Invalid, NotFound
from fastboard.fields import iso_millis
from fastboard.live import events as live
from fastboard.live.protocol import Close
from fastboard.moderation import repository
from fastboard.moderation.models import Action, ModerationEntry, Target
from fastboard.moderation.schemas import NewSuspension, RoleChange
from fastboard.profiles.repository import Author
from fastboard.profiles.service import ProfileJSON, profile_json
from fastboard.users import repository as users
from fastboard.users.models import DELETED_USERNAME, User
from fastboard.users.roles import ROLE_NAMES, Role

# Longer than this is not a suspension but a typo (or a ban, which deleting the content
# and the account does better).
MAX_SUSPENSION = timedelta(days=3650)
EQUAL_OR_HIGHER = "nobody may moderate an account of equal or higher role"

JSON = dict[str, Any]


def _require_moderator(actor: User, field: str) -> Role:
    role = Role(actor.role)
    if not role.at_least(Role.MODERATOR):
        raise Forbidden("only moderators and admins may do this", field=field)
    return role


async def authorize(session: AsyncSession, actor: User, owner_id: int, *, field: str) -> None:
    """Let ``actor`` act on content owned by someone else, or raise Forbidden."""
    role = _require_moderator(actor, field)
    owner_role = await repository.role_of(session, owner_id)
    if owner_role is not None and not role.outranks(Role(owner_role)):
        raise Forbidden(EQUAL_OR_HIGHER, field=field)


async def record(
    session: AsyncSession,
    actor: User | None,
    action: Action,
    target: tuple[Target, str],
    *,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    """Write one entry of the log; ``actor`` None is the command line."""
    entry = ModerationEntry(
        created_at=utcnow(),
        moderator_id=actor.id if actor else None,
        moderator=actor.username if actor else "(command line)",
        action=action,
        target_type=target[0],
        target=target[1],
        detail=detail,
        reason=reason,
    )
    await repository.add_entry(session, entry)


async def _account(session: AsyncSession, username: str) -> User:
    user = await users.get_by_username(session, username)
    if user is None:
        raise NotFound("profile not found", field="profile")
    if user.username == DELETED_USERNAME:
        raise Invalid("the deleted-user placeholder cannot be moderated", field="profile")
    return user


def _suspension_json(user: User) -> JSON:
    until = user.suspended_until
    active = until is not None and until > utcnow()
    return {
        "username": user.username,
        "until": iso_millis(until) if active and until else None,
        "reason": user.suspension_reason if active else None,
    }


async def set_role(
    session: AsyncSession, actor: User, username: str, change: RoleChange
) -> ProfileJSON:
    if change.role not in ROLE_NAMES:
        raise Invalid(f"must be one of {', '.join(ROLE_NAMES)}", field="role")
    target = await _account(session, username)
    old, new = Role(target.role), Role(change.role)
    if target.id == actor.id:
        if new is not Role.ADMIN and len(await repository.lock_admins(session)) <= 1:
            raise Invalid("the last admin cannot step down: make another admin first", field="role")
    elif not Role(actor.role).outranks(old):
        raise Forbidden(EQUAL_OR_HIGHER, field="role")
    if new is not old:
        target.role = new
        await record(
            session,
            actor,
            Action.SET_ROLE,
            (Target.USER, target.username),
            reason=change.reason,
            detail=f"{old} -> {new}",
        )
        await session.flush()
    return profile_json(Author.of(target, following=False), following=False)


def _check_until(until: datetime, now: datetime) -> datetime:
    if until <= now:
        raise Invalid("must be in the future", field="until")
    if until - now > MAX_SUSPENSION:
        raise Invalid(f"must be at most {MAX_SUSPENSION.days} days away", field="until")
    return until


async def _moderated(session: AsyncSession, actor: User, username: str) -> User:
    role = _require_moderator(actor, "user")
    target = await _account(session, username)
    if target.id == actor.id or not role.outranks(Role(target.role)):
        raise Forbidden(EQUAL_OR_HIGHER, field="user")
    return target


async def suspend(session: AsyncSession, actor: User, username: str, data: NewSuspension) -> JSON:
    until = _check_until(data.until, utcnow())
    target = await _moderated(session, actor, username)
    target.suspended_until = until
    target.suspension_reason = data.reason
    live.account_closed(session, target.id, Close.FORBIDDEN, "account suspended")
    await record(
        session,
        actor,
        Action.SUSPEND_USER,
        (Target.USER, target.username),
        reason=data.reason,
        detail=f"until {iso_millis(until)}",
    )
    await session.flush()
    return _suspension_json(target)


async def lift_suspension(
    session: AsyncSession, actor: User, username: str, reason: str | None
) -> JSON:
    target = await _moderated(session, actor, username)
    if _suspension_json(target)["until"] is not None:
        await record(
            session, actor, Action.UNSUSPEND_USER, (Target.USER, target.username), reason=reason
        )
    # Cleared even when already past: nothing stale stays on the account.
    if target.suspended_until is not None:
        target.suspended_until = None
        target.suspension_reason = None
        await session.flush()
    return _suspension_json(target)


async def set_lock(
    session: AsyncSession, actor: User, slug: str, *, locked: bool, reason: str | None
) -> JSON:
    found = await repository.article_lock(session, slug)
    if found is None:
        raise NotFound("article not found", field="article")
    article_id, author_id, locked_at = found
    if author_id != actor.id:
        await authorize(session, actor, author_id, field="article")
    else:
        _require_moderator(actor, "article")
    if locked != (locked_at is not None):
        locked_at = utcnow() if locked else None
        await repository.set_locked_at(session, article_id, locked_at)
        # The article shows whether it is locked; no list does, so the others stay cached.
        changed(session, Article, keys=[article_keys.article(article_id)])
        action = Action.LOCK_ARTICLE if locked else Action.UNLOCK_ARTICLE
        await record(session, actor, action, (Target.ARTICLE, slug), reason=reason)
        await live.article_locked(session, _lock_json(slug, locked_at))
    return _lock_json(slug, locked_at)


def _lock_json(slug: str, locked_at: datetime | None) -> JSON:
    return {
        "slug": slug,
        "locked": locked_at is not None,
        "lockedAt": iso_millis(locked_at) if locked_at else None,
    }


def _entry_json(row: Any) -> JSON:
    return {
        "id": row.id,
        "createdAt": iso_millis(row.created_at),
        "moderator": row.moderator,
        "action": row.action,
        "targetType": row.target_type,
        "target": row.target,
        "detail": row.detail,
        "reason": row.reason,
    }


async def log(session: AsyncSession, *, limit: int, offset: int) -> JSON:
    rows, total = await repository.log_page(session, limit=limit, offset=offset)
    return {"entries": [_entry_json(row) for row in rows], "entriesCount": total}


async def set_role_by_email(session: AsyncSession, email: str, role: Role) -> Role:
    """``fastboard users set-role``: how the first admin is made. The operator outranks
    everyone, but not the rule that there is always an admin. Returns the role before."""
    target = await users.get_by_email(session, email.lower())
    if target is None or target.username == DELETED_USERNAME:
        raise NotFound(f"no account with the email {email}", field="email")
    old = Role(target.role)
    stepping_down = old is Role.ADMIN and role is not Role.ADMIN
    if stepping_down and len(await repository.lock_admins(session)) <= 1:
        raise Invalid("is the last admin: make another admin first", field="email")
    if role is not old:
        target.role = role
        detail = f"{old} -> {role}"
        await record(session, None, Action.SET_ROLE, (Target.USER, target.username), detail=detail)
        await session.flush()
    return old
