"""Wire models of the edit history, with the examples /docs shows."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from fastboard.fields import Timestamp
from fastboard.profiles.schemas import Profile

_EDITOR: dict[str, JsonValue] = {
    "username": "jake",
    "bio": "I work at statefarm",
    "image": "",
    "following": False,
    "role": "user",
}
_ARTICLE_V2: dict[str, JsonValue] = {
    "version": 2,
    "createdAt": "2026-11-30T10:15:00.000Z",
    "editor": _EDITOR,
    "slug": "how-to-train-your-dragon",
    "title": "How to train your dragon",
    "description": "Ever wonder how?",
    "body": "Very carefully.\nWith patience.",
    "tagList": ["dragons", "training"],
    "board": "general",
    "diff": "--- version 1\n+++ version 2\n@@ -1 +1,2 @@\n Very carefully.\n+With patience.",
}
_ARTICLE_V1: dict[str, JsonValue] = {
    **_ARTICLE_V2,
    "version": 1,
    "createdAt": "2026-11-30T09:00:00.000Z",
    "body": "Very carefully.",
    "diff": "--- (nothing)\n+++ version 1\n@@ -0,0 +1 @@\n+Very carefully.",
}
_COMMENT_V2: dict[str, JsonValue] = {
    "version": 2,
    "createdAt": "2026-11-30T10:20:00.000Z",
    "editor": _EDITOR,
    "body": "Thank you so much!",
    "diff": "--- version 1\n+++ version 2\n@@ -1 +1 @@\n-Thanks\n+Thank you so much!",
}


class _Version(BaseModel):
    version: int = Field(description="1 as posted, then one more per edit")
    createdAt: Timestamp = Field(description="When this version was written")
    editor: Profile | None = Field(
        description="Who wrote this version (null: an account gone without a trace)"
    )
    body: str
    diff: str = Field(
        description="A unified diff of the body against the version before (empty when the "
        "body did not change)"
    )


class ArticleVersion(_Version):
    slug: str
    title: str
    description: str
    tagList: list[str]
    board: str


class CommentVersion(_Version):
    pass


class ArticleHistoryResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"versions": [_ARTICLE_V2, _ARTICLE_V1], "versionsCount": 2}]
        }
    )

    versions: list[ArticleVersion] = Field(description="Newest first")
    versionsCount: int


class CommentHistoryResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"versions": [_COMMENT_V2], "versionsCount": 2}]}
    )

    versions: list[CommentVersion] = Field(description="Newest first")
    versionsCount: int


ARTICLE_CSV_EXAMPLE = (
    "\ufeffversion,createdAt,editor,slug,title,description,tagList,board,body,diff\r\n"
    "2,2026-11-30T10:15:00.000Z,jake,how-to-train-your-dragon,How to train your dragon,"
    'Ever wonder how?,dragons training,general,"Very carefully.\nWith patience.",'
    '"\'--- version 1\n+++ version 2\n@@ -1 +1,2 @@\n Very carefully.\n+With patience."\r\n'
)
COMMENT_CSV_EXAMPLE = (
    "\ufeffversion,createdAt,editor,body,diff\r\n"
    "2,2026-11-30T10:20:00.000Z,jake,Thank you so much!,"
    '"\'--- version 1\n+++ version 2\n@@ -1 +1 @@\n-Thanks\n+Thank you so much!"\r\n'
)
