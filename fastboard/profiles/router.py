from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from fastboard.auth import CurrentUser, OptionalUser
from fastboard.db import SessionDep
from fastboard.openapi import error_responses
from fastboard.profiles import service
from fastboard.profiles.schemas import ProfileResponse
from fastboard.responses import JSONBytes

router = APIRouter(prefix="/profiles", tags=["Profile"])

UsernamePath = Annotated[str, Path(description="Username of the profile", max_length=64)]


@router.get(
    "/{username}",
    response_model=ProfileResponse,
    operation_id="GetProfileByUsername",
    summary="Get a profile",
    responses=error_responses(401, 404, 422),
)
async def get_profile(
    username: UsernamePath, session: SessionDep, viewer: OptionalUser
) -> Response:
    return JSONBytes({"profile": await service.get(session, username, viewer)})


@router.post(
    "/{username}/follow",
    response_model=ProfileResponse,
    operation_id="FollowUserByUsername",
    summary="Follow a user",
    responses=error_responses(401, 404, 422),
)
async def follow(username: UsernamePath, session: SessionDep, user: CurrentUser) -> Response:
    return JSONBytes({"profile": await service.follow(session, username, user)})


@router.delete(
    "/{username}/follow",
    response_model=ProfileResponse,
    operation_id="UnfollowUserByUsername",
    summary="Unfollow a user",
    responses=error_responses(401, 404, 422),
)
async def unfollow(username: UsernamePath, session: SessionDep, user: CurrentUser) -> Response:
    return JSONBytes({"profile": await service.unfollow(session, username, user)})
