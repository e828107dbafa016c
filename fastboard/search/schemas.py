from __future__ import annotations

from pydantic import BaseModel, Field

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


class SearchResponse(BaseModel):
    articles: list[FoundArticle]
    articlesCount: int = Field(description="Matching articles, counted up to 1000")
    comments: list[FoundComment]
    commentsCount: int = Field(description="Matching comments, counted up to 1000")
