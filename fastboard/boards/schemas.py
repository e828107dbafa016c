"""Wire models of categories and boards, with the examples /docs shows."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from fastboard.boards.slugs import MAX_SLUG_LENGTH, check_slug
from fastboard.fields import ShortName, ShortText

# Far beyond any real board: keeps the value in every database's integer range.
MAX_POSITION = 10_000

SlugIn = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SLUG_LENGTH),
    AfterValidator(check_slug),
    # What check_slug accepts, for the schema (non-ASCII letters are accepted as well).
    Field(json_schema_extra={"pattern": r"^[a-z0-9]+(?:-[a-z0-9]+)*$"}),
]
Position = Annotated[
    int, Field(ge=1, le=MAX_POSITION, description="1 is first; the others move to make room")
]


# A new category's or board's name: its slug is derived from it when none is given, so the
# service refuses a name without a letter or digit then. Declared for every new name (a
# stricter schema, never a lying one): the schema cannot say "unless a slug is given".
# The excluded characters are word characters that NFKC, in the slug rule, turns into
# combining marks or spaces: alone they make no slug.
NO_SLUG_WORD_CHARACTERS = (
    "\u037a\ufc5e-\ufc63\ufe70\ufe72\ufe74\ufe76\ufe78\ufe7a\ufe7c\ufe7e\uff9e\uff9f"
)
NewName = Annotated[
    ShortName,
    Field(
        json_schema_extra={
            "pattern": rf"^[^\x00-\x1f\x7f]*[^\W_{NO_SLUG_WORD_CHARACTERS}][^\x00-\x1f\x7f]*$",
            "description": "Contains a letter or a digit",
        }
    ),
]


def _examples(*examples: JsonValue) -> ConfigDict:
    return ConfigDict(extra="ignore", json_schema_extra={"examples": list(examples)})


class NewCategory(BaseModel):
    name: NewName
    slug: SlugIn | None = Field(None, description="Derived from the name when not given")
    description: ShortText = ""
    position: Position | None = Field(None, description="Last when not given")


class UpdateCategory(BaseModel):
    name: ShortName | None = None
    slug: SlugIn | None = None
    description: ShortText | None = None
    position: Position | None = None


class NewBoard(BaseModel):
    name: NewName
    category: SlugIn = Field(description="The slug of the category the board belongs to")
    slug: SlugIn | None = Field(None, description="Derived from the name when not given")
    description: ShortText = ""
    position: Position | None = Field(None, description="Last in its category when not given")


class UpdateBoard(BaseModel):
    name: ShortName | None = None
    slug: SlugIn | None = None
    description: ShortText | None = None
    category: SlugIn | None = Field(None, description="Moves the board, last in that category")
    position: Position | None = None
    archived: bool | None = Field(None, description="false brings an archived board back")


_COOKING: dict[str, JsonValue] = {
    "name": "Cooking",
    "description": "Recipes and kitchen talk",
    "category": "hobbies",
}


class NewCategoryRequest(BaseModel):
    model_config = _examples({"category": {"name": "Hobbies", "description": "After hours"}})
    category: NewCategory


class UpdateCategoryRequest(BaseModel):
    model_config = _examples({"category": {"name": "Pastimes"}}, {"category": {"position": 1}})
    category: UpdateCategory


class NewBoardRequest(BaseModel):
    model_config = _examples({"board": _COOKING})
    board: NewBoard


class UpdateBoardRequest(BaseModel):
    model_config = _examples(
        {"board": {"name": "Baking", "description": "Bread and cakes"}},
        {"board": {"position": 1}},
        {"board": {"category": "community"}},
        {"board": {"archived": False}},
    )
    board: UpdateBoard


class BoardSummary(BaseModel):
    """A board as the category tree shows it."""

    slug: str
    name: str
    description: str
    position: int
    articlesCount: int


class Board(BoardSummary):
    category: str = Field(description="The slug of its category")
    archived: bool = Field(description="Archived boards are read-only and out of the tree")


class Category(BaseModel):
    slug: str
    name: str
    description: str
    position: int
    boards: list[BoardSummary] = Field(
        description="Its boards in position order, archived ones left out"
    )


_GENERAL: dict[str, JsonValue] = {
    "slug": "general",
    "name": "General",
    "description": "Anything that has no board of its own",
    "position": 1,
    "articlesCount": 42,
}
_COMMUNITY: dict[str, JsonValue] = {
    "slug": "community",
    "name": "Community",
    "description": "Boards for everyone",
    "position": 1,
    "boards": [_GENERAL],
}


class CategoriesResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"categories": [_COMMUNITY]}]})
    categories: list[Category]


class SingleCategoryResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"category": _COMMUNITY}]})
    category: Category


class SingleBoardResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"board": {**_GENERAL, "category": "community", "archived": False}}]
        }
    )
    board: Board
