from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import StreamingResponse

from fastboard.auth import CurrentUser, SettingsDep, TokenOwner
from fastboard.db import Database, SessionDep
from fastboard.openapi import error_responses
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
    },
)
async def change_password(
    body: PasswordChangeRequest, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> UserResponse:
    change = body.user
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
    responses=error_responses(401, 403, 422),
)
async def delete_account(
    body: AccountDeletionRequest, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> None:
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
