from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import StreamingResponse

from fastboard.auth import CurrentUser, SettingsDep, TokenOwner
from fastboard.db import Database, SessionDep
from fastboard.openapi import error_responses
from fastboard.throttle import THROTTLED, ThrottleDep, client_address
from fastboard.users import account, export, service
from fastboard.users.schemas import (
    AccountDeletionRequest,
    ExportResponse,
    LoginUserRequest,
    NewUserRequest,
    PasswordChangeRequest,
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
    responses={**error_responses(401, 422), **THROTTLED},
)
async def login(
    body: LoginUserRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> UserResponse:
    email = body.user.email
    async with throttle.attempt(client_address(request), email, (service.BadCredentials,)):
        user = await service.login(session, email, body.user.password, settings)
    return UserResponse(user=user)


@router.post(
    "/users",
    response_model=UserResponse,
    status_code=status.HTTP_201_CREATED,
    operation_id="CreateUser",
    summary="Register a new user",
    responses={**error_responses(422), **THROTTLED},
)
async def register(
    body: NewUserRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> UserResponse:
    # A taken email counts against that email, as a failed login would.
    async with throttle.attempt(client_address(request), body.user.email, (service.Taken,)):
        user = await service.register(session, body.user, settings)
    return UserResponse(user=user)


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
    responses={**error_responses(401, 422), **THROTTLED},
)
async def token(
    form: Annotated[TokenForm, Form()],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> TokenResponse:
    # The same budgets as the JSON login: it is the same password check.
    async with throttle.attempt(client_address(request), form.username, (service.BadCredentials,)):
        user = await service.login(session, form.username, form.password, settings)
    return TokenResponse(access_token=user.token)


@router.put(
    "/user/password",
    response_model=UserResponse,
    operation_id="ChangePassword",
    summary="Change the current user's password",
    description="Every token issued before the change is refused from then on (401); the "
    "answer carries a fresh one. A wrong `currentPassword` is a 422 and, behind NGINX, counts "
    "against the login rate limit.",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "user": {
                            "email": "jake@jake.jake",
                            "token": "eyJhbGciOiJIUzI1NiJ9…",
                            "username": "jake",
                            "bio": "I work at statefarm",
                            "image": "",
                            "role": "user",
                        }
                    }
                }
            }
        },
        **error_responses(401, 403, 422),
        **THROTTLED,
    },
)
async def change_password(
    body: PasswordChangeRequest,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> UserResponse:
    # A stolen token is no way around the login's budgets: guesses at the current
    # password spend them too.
    change = body.user
    async with throttle.attempt(client_address(request), user.email, (account.WrongPassword,)):
        changed = await account.change_password(
            session, user, change.currentPassword, change.newPassword, settings
        )
    return UserResponse(user=changed)


@router.post(
    "/user/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="LogoutEverywhere",
    summary="Sign out everywhere",
    description="Every token of the account, the one sent included, is refused from then on "
    "(401) by every worker, and the live connections they opened are closed. Allowed while "
    "suspended: securing an account is never refused. Sign in again for a new token.",
    responses=error_responses(401),
)
async def logout_all(user: TokenOwner, session: SessionDep) -> None:
    await account.logout_everywhere(session, user)


@router.delete(
    "/user",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="DeleteCurrentUser",
    summary="Delete the current user's account",
    description="Needs the current password. The account and its tokens are gone at once; "
    "its favorites and follows too. Its articles and comments stay, under the `[deleted]` "
    "placeholder account, so nobody else's comments are lost with them.",
    responses={**error_responses(401, 403, 422), **THROTTLED},
)
async def delete_account(
    body: AccountDeletionRequest,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> None:
    async with throttle.attempt(client_address(request), user.email, (account.WrongPassword,)):
        await account.delete_account(session, user, body.user.password, settings)


@router.get(
    "/user/export",
    response_model=ExportResponse,
    operation_id="ExportCurrentUser",
    summary="Export the current user's data",
    description="Profile, articles, comments, favorites and follows as one JSON document, "
    "streamed as it is read.",
    responses=error_responses(401),
)
async def export_data(request: Request, user: CurrentUser) -> StreamingResponse:
    database: Database = request.app.state.database
    filename = f"fastboard-export-{user.id}.json"
    return StreamingResponse(
        export.export(database.reader, user),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
