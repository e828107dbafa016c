from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fastboard.fields import Bio, Email, ImageUrl, Password, Timestamp, Username


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


class PasswordChange(_In):
    currentPassword: str = Field(max_length=256)
    newPassword: Password


class PasswordChangeRequest(_In):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"user": {"currentPassword": "correct-horse", "newPassword": "battery-staple"}}
            ]
        },
    )

    user: PasswordChange


class AccountDeletion(_In):
    password: str = Field(max_length=256)


class AccountDeletionRequest(_In):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"user": {"password": "correct-horse"}}]},
    )

    user: AccountDeletion


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

    # An enum, not a pattern: "password\n" matches "^password$" in Python's re dialect.
    grant_type: Literal["password"] = "password"
    username: Email
    # An empty form field counts as absent ("can't be blank"): the schema says so.
    password: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    """OAuth2 password-flow answer, for the /docs "Authorize" button."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret


class ExportedUser(BaseModel):
    username: str
    email: str
    bio: str
    image: str
    role: str
    createdAt: Timestamp


class ExportedArticle(BaseModel):
    slug: str
    title: str
    description: str
    body: str
    tagList: list[str]
    createdAt: Timestamp
    updatedAt: Timestamp
    favoritesCount: int


class ExportedComment(BaseModel):
    id: int
    article: str  # the article's slug
    body: str
    createdAt: Timestamp
    updatedAt: Timestamp


class ExportedFavorite(BaseModel):
    article: str
    createdAt: Timestamp


class ExportedFollow(BaseModel):
    username: str
    createdAt: Timestamp


class Export(BaseModel):
    exportedAt: Timestamp
    user: ExportedUser
    articles: list[ExportedArticle]
    comments: list[ExportedComment]
    favorites: list[ExportedFavorite]
    following: list[ExportedFollow]


class ExportResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "export": {
                        "exportedAt": "2030-01-02T10:00:00.000Z",
                        "user": {
                            "username": "jake",
                            "email": "jake@jake.jake",
                            "bio": "I work at statefarm",
                            "image": "",
                            "role": "user",
                            "createdAt": "2029-05-01T08:00:00.000Z",
                        },
                        "articles": [
                            {
                                "slug": "how-to-train-your-dragon",
                                "title": "How to train your dragon",
                                "description": "Ever wonder how?",
                                "body": "You have to believe",
                                "tagList": ["dragons", "training"],
                                "createdAt": "2029-06-01T08:00:00.000Z",
                                "updatedAt": "2029-06-01T08:00:00.000Z",
                                "favoritesCount": 3,
                            }
                        ],
                        "comments": [
                            {
                                "id": 7,
                                "article": "how-to-train-your-dragon",
                                "body": "It takes a Jacobian",
                                "createdAt": "2029-06-02T08:00:00.000Z",
                                "updatedAt": "2029-06-02T08:00:00.000Z",
                            }
                        ],
                        "favorites": [
                            {"article": "welcome", "createdAt": "2029-06-03T08:00:00.000Z"}
                        ],
                        "following": [
                            {"username": "celeb", "createdAt": "2029-06-04T08:00:00.000Z"}
                        ],
                    }
                }
            ]
        }
    )

    export: Export
