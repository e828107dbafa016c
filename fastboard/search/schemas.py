from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from fastboard.articles.schemas import ArticleSummary
from fastboard.fields import Timestamp
from fastboard.profiles.schemas import Profile

HIGHLIGHT = (
    "A snippet of the text around the first match, the matched terms in `<mark>…</mark>`, "
    "everything else HTML-escaped: safe to insert as HTML"
)


class FoundArticle(ArticleSummary):
    highlight: str = Field(description=HIGHLIGHT)


class CommentedArticle(BaseModel):
    slug: str
    title: str


class FoundComment(BaseModel):
    id: int
    createdAt: Timestamp
    updatedAt: Timestamp
    body: str
    highlight: str = Field(description=HIGHLIGHT)
    author: Profile
    article: CommentedArticle = Field(description="The article the comment is on")


_AUTHOR: JsonValue = {
    "username": "jake",
    "bio": "",
    "image": "",
    "following": False,
    "role": "user",
}
_EXAMPLE: JsonValue = {
    "articles": [
        {
            "slug": "서버-설치-안내",
            "title": "서버 설치 안내",
            "description": "처음 설치하는 분께",
            "tagList": ["howto"],
            "createdAt": "2026-11-30T12:00:00.000Z",
            "updatedAt": "2026-11-30T12:00:00.000Z",
            "favorited": False,
            "favoritesCount": 3,
            "author": _AUTHOR,
            "board": "general",
            "highlight": "먼저 <mark>서버</mark>를 설치합니다. 설정 파일은 &lt;etc&gt; 아래에…",
        }
    ],
    "articlesCount": 1,
    "comments": [
        {
            "id": 7,
            "createdAt": "2026-11-30T13:00:00.000Z",
            "updatedAt": "2026-11-30T13:00:00.000Z",
            "body": "서버가 재시작되지 않아요",
            "highlight": "<mark>서버</mark>가 재시작되지 않아요",
            "author": _AUTHOR,
            "article": {"slug": "서버-설치-안내", "title": "서버 설치 안내"},
        }
    ],
    "commentsCount": 1,
}


class SearchResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    articles: list[FoundArticle]
    articlesCount: int = Field(description="Matching articles, counted up to 1000")
    comments: list[FoundComment]
    commentsCount: int = Field(description="Matching comments, counted up to 1000")
