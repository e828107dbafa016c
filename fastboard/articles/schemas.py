from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from fastboard.boards.slugs import MAX_SLUG_LENGTH
from fastboard.fields import (
    MAX_TAGS,
    NO_NUL_PATTERN,
    Body,
    Description,
    NoNul,
    TagName,
    Timestamp,
    Title,
)
from fastboard.profiles.schemas import Profile


def _unique_sorted(tags: list[str]) -> list[str]:
    # Alphabetical, as RealWorld clients and the RealWorld API test suite expect.
    return sorted(set(tags))


TagList = Annotated[
    list[TagName],
    Field(max_length=MAX_TAGS, description=f"At most {MAX_TAGS} tags"),
    AfterValidator(_unique_sorted),
]


BoardSlug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SLUG_LENGTH),
    NoNul,
    Field(
        description="The slug of a board that is not archived (default `general`)",
        json_schema_extra={"pattern": NO_NUL_PATTERN},
    ),
]


_ISO = "must be an ISO 8601 date, e.g. 2026-11-30 or 2026-11-30T09:00:00Z"


def _iso_instant(value: object) -> datetime:
    """An ISO 8601 date or date-time (``2026-11-30``, ``2026-11-30T09:00:00+09:00``) as a
    UTC datetime; without an offset it is UTC already. Not pydantic's datetime parsing,
    which also takes Unix timestamps."""
    if not isinstance(value, str):
        raise ValueError(_ISO)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(_ISO) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 lies past what datetime holds
        raise ValueError("is out of range") from None


# A moment given as an ISO 8601 date or date-time, in a query string (``since=``).
IsoInstant = Annotated[datetime, BeforeValidator(_iso_instant)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class NewArticle(_In):
    title: Title
    description: Description
    body: Body
    tagList: TagList = []
    board: BoardSlug | None = None


class UpdateArticle(_In):
    title: Title | None = None
    description: Description | None = None
    body: Body | None = None
    tagList: TagList | None = None
    board: BoardSlug | None = Field(None, description="Moves the article to that board")


class NewArticleRequest(_In):
    article: NewArticle


class UpdateArticleRequest(_In):
    article: UpdateArticle


class ArticleSummary(BaseModel):
    """An article as lists show it: everything but the body."""

    slug: str
    title: str
    description: str
    tagList: list[str]
    createdAt: Timestamp
    updatedAt: Timestamp
    favorited: bool
    favoritesCount: int
    author: Profile
    board: str = Field(description="The slug of the article's board")


class Article(ArticleSummary):
    body: str
    locked: bool = Field(
        description="Whether a moderator locked the article: it takes no new comments"
    )


class SingleArticleResponse(BaseModel):
    article: Article


class MultipleArticlesResponse(BaseModel):
    articles: list[ArticleSummary]
    articlesCount: int


class TagsResponse(BaseModel):
    tags: list[str]
