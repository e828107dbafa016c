from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from fastboard.fields import Body, Timestamp
from fastboard.profiles.schemas import Profile


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class NewComment(_In):
    body: Body


class NewCommentRequest(_In):
    comment: NewComment


class Comment(BaseModel):
    id: int
    createdAt: Timestamp
    updatedAt: Timestamp
    body: str
    author: Profile


class SingleCommentResponse(BaseModel):
    comment: Comment


class MultipleCommentsResponse(BaseModel):
    comments: list[Comment]
