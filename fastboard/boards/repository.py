"""Every query on categories and boards.

The tree is one SELECT (categories outer-joined to their live boards, counts stored on
the boards). Positions are kept 1..n among siblings by shifting neighbours in one UPDATE;
callers lock the siblings' category rows first, so two reorders follow one another.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.articles.models import Article
from fastboard.boards.models import Board, Category
from fastboard.db import Base
from fastboard.prepared import Row, read_rows


@dataclass(frozen=True, slots=True)
class Siblings:
    """What a position counts among: every category (``category_id`` None), or the live
    boards of one category."""

    category_id: int | None = None

    @property
    def model(self) -> type[Category] | type[Board]:
        return Category if self.category_id is None else Board

    def where(self) -> list[ColumnElement[bool]]:
        if self.category_id is None:
            return []
        return [Board.category_id == self.category_id, Board.archived.is_(false())]


ALL_CATEGORIES = Siblings()


def _category_columns() -> list[Any]:
    return [
        Category.id,
        Category.slug,
        Category.name,
        Category.description,
        Category.position,
    ]


def _board_columns() -> list[Any]:
    return [
        Board.slug.label("board_slug"),
        Board.name.label("board_name"),
        Board.description.label("board_description"),
        Board.position.label("board_position"),
        Board.articles_count.label("board_articles_count"),
    ]


@cache
def _tree_statement(*, one: bool) -> Select[Any]:
    live = and_(Board.category_id == Category.id, Board.archived.is_(false()))
    statement = (
        select(*_category_columns(), *_board_columns())
        .outerjoin(Board, live)
        .order_by(Category.position, Category.id, Board.position, Board.id)
    )
    return statement.where(Category.id == bindparam("id", type_=BigInteger)) if one else statement


@cache
def _board_statement() -> Select[Any]:
    return (
        select(
            *_board_columns(),
            Board.archived.label("board_archived"),
            Category.slug.label("category_slug"),
        )
        .join(Category, Category.id == Board.category_id)
        .where(Board.slug == bindparam("slug", type_=String))
    )


async def tree(session: AsyncSession, category_id: int | None = None) -> Sequence[Row]:
    """Category columns and, per live board, its ``board_*`` columns (None for a category
    without one), categories then boards in position order: one statement."""
    if category_id is None:
        return await read_rows(session, _tree_statement(one=False), {})
    return await read_rows(session, _tree_statement(one=True), {"id": category_id})


async def board_row(session: AsyncSession, slug: str) -> Row | None:
    found = await read_rows(session, _board_statement(), {"slug": slug})
    return found[0] if found else None


async def get_category(
    session: AsyncSession, slug: str, *, for_update: bool = False
) -> Category | None:
    query = select(Category).where(Category.slug == slug)
    return await session.scalar(query.with_for_update() if for_update else query)


async def get_board(session: AsyncSession, slug: str, *, for_update: bool = False) -> Board | None:
    query = select(Board).where(Board.slug == slug)
    return await session.scalar(query.with_for_update() if for_update else query)


async def lock_categories(session: AsyncSession, ids: Iterable[int] | None = None) -> None:
    """Lock these categories' rows (all of them when ``ids`` is None) until the transaction
    ends, in id order so that two admins cannot deadlock. SQLite needs none of it: its
    writers take the database's write lock at BEGIN."""
    query = select(Category.id).order_by(Category.id).with_for_update()
    if ids is not None:
        query = query.where(Category.id.in_(sorted(set(ids))))
    await session.execute(query)


async def live_count(session: AsyncSession, siblings: Siblings) -> int:
    query = select(func.count()).select_from(siblings.model).where(*siblings.where())
    return int(await session.scalar(query) or 0)


async def shift(
    session: AsyncSession, siblings: Siblings, first: int, last: int, delta: int
) -> None:
    """Move the siblings at positions ``first``..``last`` by ``delta``."""
    if first > last:
        return
    model = siblings.model
    await session.execute(
        update(model)
        .where(*siblings.where(), model.position.between(first, last))
        .values(position=model.position + delta)
        .execution_options(synchronize_session=False)
    )


async def taken(
    session: AsyncSession, model: type[Category] | type[Board], own_id: int | None, **values: str
) -> str | None:
    """Which of ``values`` (name, slug) another row of ``model`` already has."""
    wanted = [getattr(model, column) == value for column, value in values.items()]
    query = select(model.name, model.slug).where(or_(*wanted))
    if own_id is not None:
        query = query.where(model.id != own_id)
    row = (await session.execute(query.limit(1))).first()
    if row is None:
        return None
    return "name" if "name" in values and row.name == values["name"] else "slug"


async def save(session: AsyncSession, row: Base) -> None:
    """Insert or update in a savepoint: a name or slug taken meanwhile raises IntegrityError
    and leaves the request's transaction usable."""
    async with session.begin_nested():
        session.add(row)


async def has_boards(session: AsyncSession, category_id: int) -> bool:
    return bool(await session.scalar(select(exists().where(Board.category_id == category_id))))


async def has_articles(session: AsyncSession, board_id: int) -> bool:
    # The articles themselves, not the count: the foreign key is what refuses a delete.
    return bool(await session.scalar(select(exists().where(Article.board_id == board_id))))


async def remove(session: AsyncSession, model: type[Category] | type[Board], row_id: int) -> None:
    await session.execute(delete(model).where(model.id == row_id))


# Articles' side: which board an article may go to, and the counts kept on write. ---------


def _table(model: type[Base]) -> Table:
    # Table-level statements: given a dict of parameters, the ORM would take it for rows.
    return cast(Table, model.__table__)


_TAKE = (
    update(_table(Board))
    .where(Board.slug == bindparam("board_slug", type_=String), Board.archived.is_(false()))
    .values(articles_count=Board.articles_count + 1)
    .returning(Board.id)
)
_RELEASE = (
    update(_table(Board))
    .where(Board.id == bindparam("board_id", type_=BigInteger))
    .values(articles_count=Board.articles_count - bindparam("count", type_=Integer))
)


async def take_article(session: AsyncSession, slug: str) -> int | None:
    """Count one more article on the live board ``slug``: its id, or None when there is
    no such live board. The row stays locked until the transaction ends, so the board
    cannot be deleted or archived under the new article."""
    return (await session.execute(_TAKE, {"board_slug": slug})).scalar()


async def release_article(session: AsyncSession, board_id: int, count: int = 1) -> None:
    await session.execute(_RELEASE, {"board_id": board_id, "count": count})


async def is_archived(session: AsyncSession, board_id: int) -> bool | None:
    """Whether the board is archived; None when there is no such board."""
    found: bool | None = await session.scalar(select(Board.archived).where(Board.id == board_id))
    return found


async def archived_slug(session: AsyncSession, slug: str) -> bool | None:
    found: bool | None = await session.scalar(select(Board.archived).where(Board.slug == slug))
    return found
