from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fastboard.fields import Bio, Email, ImageUrl, Password, Username


class _In(BaseModel):
    # Unknown fields are ignored: nothing a client adds can reach a column it should not set.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class NewUser(_In):
    username: Username
    email: Email
    password: Password


class LoginUser(_In):
    email: Email
    password: str = Field(max_length=256)


class UpdateUser(_In):
    email: Email | None = None
    username: Username | None = None
    # An empty password means "unchanged": RealWorld settings forms send "" when left blank.
    password: Password | None = None
    bio: Bio | None = None
    image: ImageUrl | None = None

    @field_validator("password", mode="before")
    @classmethod
    def _blank_password_is_unchanged(cls, value: Any) -> Any:
        return None if value == "" else value


class NewUserRequest(_In):
    user: NewUser


class LoginUserRequest(_In):
    user: LoginUser


class UpdateUserRequest(_In):
    user: UpdateUser


class User(BaseModel):
    email: str
    token: str
    username: str
    bio: str
    image: str
    # fastboard's addition: user, moderator or admin.
    role: str = "user"


class UserResponse(BaseModel):
    user: User


class TokenForm(_In):
    """The OAuth2 password-flow form behind the /docs "Authorize" button: ``username`` is
    the email. Bounded like :class:`LoginUser`, so the form is no way around its limits."""

    grant_type: str | None = Field(default=None, pattern="^password$")
    username: Email
    password: str = Field(max_length=256)


class TokenResponse(BaseModel):
    """OAuth2 password-flow answer, for the /docs "Authorize" button."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
