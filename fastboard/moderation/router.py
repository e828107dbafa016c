from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from fastboard.auth import Admin, Moderator
from fastboard.db import SessionDep
from fastboard.fields import Reason
from fastboard.moderation import service
from fastboard.moderation.schemas import (
    LockResponse,
    ModerationLogResponse,
    NewLockRequest,
    NewSuspensionRequest,
    RoleChange,
    SuspensionResponse,
)
from fastboard.openapi import error_responses
from fastboard.pagination import Limit, Offset
from fastboard.profiles.schemas import ProfileResponse
from fastboard.responses import JSONBytes

router = APIRouter(tags=["Moderation"])

UsernamePath = Annotated[str, Path(description="Username of the profile", max_length=64)]
Slug = Annotated[str, Path(description="The article's slug", max_length=255)]
ReasonQuery = Annotated[
    Reason | None, Query(description="Why, for the moderation log", examples=["spam"])
]

_PROFILE_EXAMPLE: dict[str, Any] = {
    "profile": {
        "username": "jake",
        "bio": "I work at statefarm",
        "image": "",
        "following": False,
        "role": "moderator",
    }
}


@router.put(
    "/profiles/{username}/role",
    response_model=ProfileResponse,
    operation_id="SetProfileRole",
    summary="Change a user's role (admins)",
    description="`user`, `moderator` or `admin`. Admins may change the role of users and "
    "moderators, and step down themselves unless they are the last admin.",
    responses={
        200: {"content": {"application/json": {"example": _PROFILE_EXAMPLE}}},
        **error_responses(401, 403, 404, 422),
    },
)
async def set_role(
    username: UsernamePath, body: RoleChange, session: SessionDep, admin: Admin
) -> Response:
    return JSONBytes({"profile": await service.set_role(session, admin, username, body)})


@router.post(
    "/profiles/{username}/suspension",
    response_model=SuspensionResponse,
    operation_id="SuspendProfile",
    summary="Suspend a user until a time (moderators)",
    description="Until then the user's tokens are refused for every write (403); reads stay "
    "open. `until` is an instant with an offset, in the future and at most 3650 days away.",
    responses=error_responses(401, 403, 404, 422),
)
async def suspend(
    username: UsernamePath, body: NewSuspensionRequest, session: SessionDep, moderator: Moderator
) -> Response:
    suspension = await service.suspend(session, moderator, username, body.suspension)
    return JSONBytes({"suspension": suspension})


@router.delete(
    "/profiles/{username}/suspension",
    response_model=SuspensionResponse,
    operation_id="LiftProfileSuspension",
    summary="Lift a user's suspension (moderators)",
    responses=error_responses(401, 403, 404, 422),
)
async def lift_suspension(
    username: UsernamePath,
    session: SessionDep,
    moderator: Moderator,
    reason: ReasonQuery = None,
) -> Response:
    suspension = await service.lift_suspension(session, moderator, username, reason)
    return JSONBytes({"suspension": suspension})


@router.post(
    "/articles/{slug}/lock",
    response_model=LockResponse,
    operation_id="LockArticle",
    summary="Lock an article against new comments (moderators)",
    responses=error_responses(401, 403, 404, 422),
)
async def lock(
    slug: Slug,
    session: SessionDep,
    moderator: Moderator,
    body: Annotated[NewLockRequest | None, Body()] = None,
) -> Response:
    reason = body.lock.reason if body else None
    lock = await service.set_lock(session, moderator, slug, locked=True, reason=reason)
    return JSONBytes({"lock": lock})


@router.delete(
    "/articles/{slug}/lock",
    response_model=LockResponse,
    operation_id="UnlockArticle",
    summary="Unlock an article (moderators)",
    responses=error_responses(401, 403, 404, 422),
)
async def unlock(
    slug: Slug, session: SessionDep, moderator: Moderator, reason: ReasonQuery = None
) -> Response:
    lock = await service.set_lock(session, moderator, slug, locked=False, reason=reason)
    return JSONBytes({"lock": lock})


@router.get(
    "/moderation/log",
    response_model=ModerationLogResponse,
    operation_id="GetModerationLog",
    summary="The moderation log, newest first (moderators)",
    responses=error_responses(401, 403, 422),
)
async def moderation_log(
    session: SessionDep, _moderator: Moderator, limit: Limit = 20, offset: Offset = 0
) -> Response:
    return JSONBytes(await service.log(session, limit=limit, offset=offset))
