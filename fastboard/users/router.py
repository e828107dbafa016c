from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, status

from fastboard.auth import CurrentUser, SettingsDep
from fastboard.db import SessionDep
from fastboard.openapi import error_responses
from fastboard.users import service
from fastboard.users.schemas import (
    LoginUserRequest,
    NewUserRequest,
    TokenForm,
    TokenResponse,
    UpdateUserRequest,
    UserResponse,
)

router = APIRouter(tags=["User and Authentication"])


@router.post(
    "/users/login",
    response_model=UserResponse,
    operation_id="Login",
    summary="Existing user login",
    responses=error_responses(401, 422),
)
async def login(body: LoginUserRequest, session: SessionDep, settings: SettingsDep) -> UserResponse:
    return UserResponse(
        user=await service.login(session, body.user.email, body.user.password, settings)
    )


@router.post(
    "/users",
    response_model=UserResponse,
    status_code=status.HTTP_201_CREATED,
    operation_id="CreateUser",
    summary="Register a new user",
    responses=error_responses(422),
)
async def register(
    body: NewUserRequest, session: SessionDep, settings: SettingsDep
) -> UserResponse:
    return UserResponse(user=await service.register(session, body.user, settings))


@router.get(
    "/user",
    response_model=UserResponse,
    operation_id="GetCurrentUser",
    summary="Get current user",
    responses=error_responses(401),
)
async def current(user: CurrentUser, settings: SettingsDep) -> UserResponse:
    return UserResponse(user=service.signed_in(user, settings))


@router.put(
    "/user",
    response_model=UserResponse,
    operation_id="UpdateCurrentUser",
    summary="Update current user",
    responses=error_responses(401, 422),
)
async def update(
    body: UpdateUserRequest, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> UserResponse:
    return UserResponse(user=await service.update(session, user, body.user, settings))


@router.post(
    "/users/token",
    response_model=TokenResponse,
    operation_id="CreateToken",
    summary="OAuth2 password flow (for the /docs Authorize button)",
    description="Form fields `username` (your email) and `password`; answers a bearer token.",
    responses=error_responses(401, 422),
)
async def token(
    form: Annotated[TokenForm, Form()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenResponse:
    user = await service.login(session, form.username, form.password, settings)
    return TokenResponse(access_token=user.token)
