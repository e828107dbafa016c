"""Category and board rules: slugs, positions, archiving, the default board. No FastAPI.

Positions run 1..n without gaps among siblings (all categories; the live boards of one
category): placing or moving one shifts its neighbours. An archived board leaves the
order (position 0) and comes back last, or where asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard import cache
from fastboard.boards import cache_keys as keys
from fastboard.boards import repository
from fastboard.boards.models import DEFAULT_BOARD, Board, Category
from fastboard.boards.repository import ALL_CATEGORIES, Siblings
from fastboard.boards.schemas import NewBoard, NewCategory, UpdateBoard, UpdateCategory
from fastboard.boards.slugs import slug_for
from fastboard.db import changed
from fastboard.errors import Invalid, NotFound
from fastboard.prepared import Row

# Shaped as the wire models (boards.schemas), keys in their order.
CategoryJSON = dict[str, Any]
BoardJSON = dict[str, Any]


def _summary_json(row: Row) -> BoardJSON:
    return {
        "slug": row["board_slug"],
        "name": row["board_name"],
        "description": row["board_description"],
        "position": row["board_position"],
        "articlesCount": row["board_articles_count"],
    }


def _tree_json(rows: Sequence[Row]) -> list[CategoryJSON]:
    categories: dict[int, CategoryJSON] = {}
    for row in rows:
        category = categories.get(row["id"])
        if category is None:
            category = categories[row["id"]] = {
                "slug": row["slug"],
                "name": row["name"],
                "description": row["description"],
                "position": row["position"],
                "boards": [],
            }
        if row["board_slug"] is not None:
            category["boards"].append(_summary_json(row))
    return list(categories.values())


async def categories(session: AsyncSession) -> list[CategoryJSON]:
    cache.depends_on(keys.BOARDS, keys.BOARD_COUNTS)
    return _tree_json(await repository.tree(session))


async def _category_json(session: AsyncSession, category_id: int) -> CategoryJSON:
    return _tree_json(await repository.tree(session, category_id))[0]


async def board(session: AsyncSession, slug: str) -> BoardJSON:
    cache.depends_on(keys.BOARDS, keys.BOARD_COUNTS)
    row = await repository.board_row(session, slug)
    if row is None:
        raise NotFound("board not found", field="board")
    return {
        **_summary_json(row),
        "category": row["category_slug"],
        "archived": row["board_archived"],
    }


# Positions ------------------------------------------------------------------------------
#
# Every write to categories or boards first locks all category rows (lock_categories):
# admins' changes to the order follow one another, and positions read after the lock are
# current. Admin writes are rare; articles never take these locks.

_END = 2**31 - 1


def _out_of_range(last: int) -> Invalid:
    return Invalid(f"must be between 1 and {last}", field="position")


async def _insert_at(session: AsyncSession, siblings: Siblings, wanted: int | None) -> int:
    """Make room at ``wanted`` (last when None) for a newcomer; its position."""
    count = await repository.live_count(session, siblings)
    position = count + 1 if wanted is None else wanted
    if position > count + 1:
        raise _out_of_range(count + 1)
    await repository.shift(session, siblings, position, count, +1)
    return position


async def _leave(session: AsyncSession, siblings: Siblings, position: int) -> None:
    """Close the gap a leaver at ``position`` leaves."""
    await repository.shift(session, siblings, position + 1, _END, -1)


async def _move(session: AsyncSession, siblings: Siblings, old: int, wanted: int) -> int:
    count = await repository.live_count(session, siblings)
    if wanted > count:
        raise _out_of_range(count)
    if wanted < old:
        await repository.shift(session, siblings, wanted, old - 1, +1)
    else:
        await repository.shift(session, siblings, old + 1, wanted, -1)
    return wanted


# Names and slugs ------------------------------------------------------------------------


async def _named(
    session: AsyncSession,
    model: type[Category] | type[Board],
    own_id: int | None,
    *,
    name: str | None,
    slug: str | None,
) -> dict[str, str]:
    """The name and slug to store, checked free; a new row without a slug gets its name's."""
    values = {key: value for key, value in (("name", name), ("slug", slug)) if value is not None}
    if own_id is None and slug is None:
        assert name is not None
        values["slug"] = slug_for(name)
        if not values["slug"]:
            raise Invalid("must contain a letter or a digit", field="name")
    if values:
        clash = await repository.taken(session, model, own_id, **values)
        if clash is not None:
            raise Invalid("is already taken", field=clash)
    return values


async def _admin_change(session: AsyncSession) -> None:
    """Before any change to categories or boards: take the lock that orders them, and
    name the change for the read cache (the tree, the boards, every article's slug)."""
    await repository.lock_categories(session)
    changed(session, Category, Board, keys=[keys.BOARDS])


async def _save(session: AsyncSession, row: Category | Board) -> None:
    try:
        await repository.save(session, row)
    except IntegrityError:
        # Taken by a concurrent request between the check and the write.
        raise Invalid("is already taken (or its slug is)", field="name") from None


# Categories -----------------------------------------------------------------------------


async def _category(session: AsyncSession, slug: str) -> Category:
    found = await repository.get_category(session, slug)
    if found is None:
        raise NotFound("category not found", field="category")
    return found


async def _category_named_in_body(session: AsyncSession, slug: str) -> Category:
    # A reference in the request body, not the resource in the path: invalid input.
    found = await repository.get_category(session, slug)
    if found is None:
        raise Invalid(f"no category has the slug {slug!r}", field="category")
    return found


async def create_category(session: AsyncSession, data: NewCategory) -> CategoryJSON:
    await _admin_change(session)
    names = await _named(session, Category, None, name=data.name, slug=data.slug)
    position = await _insert_at(session, ALL_CATEGORIES, data.position)
    category = Category(description=data.description, position=position, **names)
    await _save(session, category)
    return await _category_json(session, category.id)


async def update_category(session: AsyncSession, slug: str, data: UpdateCategory) -> CategoryJSON:
    if all(value is None for value in data.model_dump().values()):
        raise Invalid("at least one field is required", field="category")
    await _admin_change(session)
    category = await _category(session, slug)
    names = await _named(session, Category, category.id, name=data.name, slug=data.slug)
    position = category.position
    if data.position is not None:
        position = await _move(session, ALL_CATEGORIES, category.position, data.position)
    for key, value in names.items():
        setattr(category, key, value)
    if data.description is not None:
        category.description = data.description
    category.position = position
    await _save(session, category)
    return await _category_json(session, category.id)


async def delete_category(session: AsyncSession, slug: str) -> None:
    await _admin_change(session)
    category = await _category(session, slug)
    if await repository.has_boards(session, category.id):
        raise Invalid("still has boards: move or delete them first", field="category")
    await repository.remove(session, Category, category.id)
    await _leave(session, ALL_CATEGORIES, category.position)


# Boards ---------------------------------------------------------------------------------


async def _board(session: AsyncSession, slug: str) -> Board:
    found = await repository.get_board(session, slug, for_update=True)
    if found is None:
        raise NotFound("board not found", field="board")
    return found


async def create_board(session: AsyncSession, data: NewBoard) -> BoardJSON:
    await _admin_change(session)
    category = await _category_named_in_body(session, data.category)
    names = await _named(session, Board, None, name=data.name, slug=data.slug)
    position = await _insert_at(session, Siblings(category.id), data.position)
    new = Board(
        category_id=category.id,
        description=data.description,
        position=position,
        archived=False,
        articles_count=0,
        **names,
    )
    await _save(session, new)
    return await board(session, new.slug)


async def update_board(session: AsyncSession, slug: str, data: UpdateBoard) -> BoardJSON:
    if all(value is None for value in data.model_dump().values()):
        raise Invalid("at least one field is required", field="board")
    await _admin_change(session)
    found = await _board(session, slug)
    if found.slug == DEFAULT_BOARD:
        if data.slug not in (None, DEFAULT_BOARD):
            raise Invalid("the default board keeps its slug", field="slug")
        if data.archived:
            raise Invalid("the default board cannot be archived", field="archived")
    names = await _named(session, Board, found.id, name=data.name, slug=data.slug)
    category_id = found.category_id
    if data.category is not None:
        category_id = (await _category_named_in_body(session, data.category)).id
    archived = found.archived if data.archived is None else data.archived
    position = await _place(session, found, category_id, archived, data.position)
    for key, value in names.items():
        setattr(found, key, value)
    if data.description is not None:
        found.description = data.description
    found.category_id, found.archived, found.position = category_id, archived, position
    await _save(session, found)
    return await board(session, found.slug)


async def _place(
    session: AsyncSession, found: Board, category_id: int, archived: bool, wanted: int | None
) -> int:
    """The board's position once it is in ``category_id``, archived or not, at ``wanted``
    (None: where it is, or last), its old and new siblings shifted to make it so."""
    if archived:
        if wanted is not None:
            raise Invalid("an archived board has no position", field="position")
        if not found.archived:
            await _leave(session, Siblings(found.category_id), found.position)
        return 0
    if found.archived or category_id != found.category_id:
        if not found.archived:
            await _leave(session, Siblings(found.category_id), found.position)
        return await _insert_at(session, Siblings(category_id), wanted)
    if wanted is None:
        return found.position
    return await _move(session, Siblings(category_id), found.position, wanted)


async def delete_board(session: AsyncSession, slug: str) -> BoardJSON | None:
    """Delete an empty board; archive one with articles (answered, as it is now)."""
    await _admin_change(session)
    found = await _board(session, slug)
    if found.slug == DEFAULT_BOARD:
        raise Invalid("the default board cannot be deleted or archived", field="board")
    if not found.archived:
        await _leave(session, Siblings(found.category_id), found.position)
    if not await repository.has_articles(session, found.id):
        await repository.remove(session, Board, found.id)
        return None
    found.archived, found.position = True, 0
    await _save(session, found)
    return await board(session, found.slug)


# Articles' boards -------------------------------------------------------------------------


async def _unavailable(session: AsyncSession, slug: str) -> Invalid:
    archived = await repository.archived_slug(session, slug)
    if archived is None:
        return Invalid(f"no board has the slug {slug!r}", field="board")
    return Invalid("is archived: it takes no new articles", field="board")


async def board_for_new_article(session: AsyncSession, slug: str | None) -> int:
    """The id of the board a new article goes to (the default one when None), its count
    raised; Invalid (field ``board``) when it is unknown or archived."""
    slug = slug or DEFAULT_BOARD
    board_id = await repository.take_article(session, slug)
    if board_id is None:
        raise await _unavailable(session, slug)
    _counted(session)
    return board_id


async def check_article_editable(session: AsyncSession, board_id: int) -> None:
    """An article on an archived board is read-only."""
    if await repository.is_archived(session, board_id):
        raise Invalid("is archived: its articles are read-only", field="board")


async def move_article(session: AsyncSession, board_id: int, slug: str) -> int:
    """Move an article from ``board_id`` to the live board ``slug``; the new board's id."""
    new_id = await board_for_new_article(session, slug)
    await repository.release_article(session, board_id)
    return new_id


async def article_removed(session: AsyncSession, board_id: int) -> None:
    await repository.release_article(session, board_id)
    _counted(session)


def _counted(session: AsyncSession) -> None:
    # An article came or went: only the boards' counts changed, which articles do not show.
    changed(session, Board, keys=[keys.BOARD_COUNTS])
