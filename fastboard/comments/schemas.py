from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from fastboard.fields import Body, Timestamp
from fastboard.profiles.schemas import Profile


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class NewComment(_In):
    body: Body


class NewCommentRequest(_In):
    comment: NewComment


class UpdateCommentRequest(_In):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"comment": {"body": "Edited: thanks!"}}]}
    )

    comment: NewComment


class Vote(_In):
    value: Literal[1, -1] = Field(description="1 up, -1 down")


class VoteRequest(_In):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"vote": {"value": 1}}, {"vote": {"value": -1}}]},
    )

    vote: Vote


class Comment(BaseModel):
    id: int
    createdAt: Timestamp
    updatedAt: Timestamp
    body: str
    author: Profile
    score: int = Field(description="Up-votes minus down-votes")
    myVote: Literal[1, -1] | None = Field(
        description="The signed-in reader's vote; null without one or without a token"
    )


_EXAMPLE: dict[str, JsonValue] = {
    "id": 1,
    "createdAt": "2026-11-30T09:00:00.000Z",
    "updatedAt": "2026-11-30T10:20:00.000Z",
    "body": "Thank you so much!",
    "author": {
        "username": "jake",
        "bio": "I work at statefarm",
        "image": "",
        "following": False,
        "role": "user",
    },
    "score": 3,
    "myVote": 1,
}


class SingleCommentResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"comment": _EXAMPLE}]})

    comment: Comment


class MultipleCommentsResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"comments": [_EXAMPLE]}]})

    comments: list[Comment]
