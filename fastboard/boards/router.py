from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from fastboard.auth import Admin
from fastboard.boards import service
from fastboard.boards.models import Board, Category
from fastboard.boards.schemas import (
    CategoriesResponse,
    NewBoardRequest,
    NewCategoryRequest,
    SingleBoardResponse,
    SingleCategoryResponse,
    UpdateBoardRequest,
    UpdateCategoryRequest,
)
from fastboard.boards.slugs import MAX_SLUG_LENGTH
from fastboard.cache import cacheable
from fastboard.db import SessionDep
from fastboard.openapi import error_responses
from fastboard.responses import JSONBytes

router = APIRouter(tags=["Boards"])

CategorySlug = Annotated[str, Path(description="The category's slug", max_length=MAX_SLUG_LENGTH)]
BoardSlug = Annotated[str, Path(description="The board's slug", max_length=MAX_SLUG_LENGTH)]
ADMIN_ONLY = "Admins only."


@router.get(
    "/categories",
    response_model=CategoriesResponse,
    operation_id="GetCategories",
    summary="Get the categories and their boards",
    description="Categories in position order, each with its live (not archived) boards.",
    responses=error_responses(422),
)
@cacheable(Category, Board)
async def list_categories(session: SessionDep) -> Response:
    return JSONBytes({"categories": await service.categories(session)})


@router.post(
    "/categories",
    response_model=SingleCategoryResponse,
    status_code=status.HTTP_201_CREATED,
    operation_id="CreateCategory",
    summary="Create a category",
    description=f"{ADMIN_ONLY} Its slug comes from the name unless given; last unless a "
    "position is given.",
    responses=error_responses(401, 403, 422),
)
async def create_category(body: NewCategoryRequest, session: SessionDep, _: Admin) -> Response:
    category = await service.create_category(session, body.category)
    return JSONBytes({"category": category}, status_code=status.HTTP_201_CREATED)


@router.put(
    "/categories/{slug}",
    response_model=SingleCategoryResponse,
    operation_id="UpdateCategory",
    summary="Rename, re-slug, describe or move a category",
    description=f"{ADMIN_ONLY} A new position shifts the categories in between.",
    responses=error_responses(401, 403, 404, 422),
)
async def update_category(
    slug: CategorySlug, body: UpdateCategoryRequest, session: SessionDep, _: Admin
) -> Response:
    category = await service.update_category(session, slug, body.category)
    return JSONBytes({"category": category})


@router.delete(
    "/categories/{slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="DeleteCategory",
    summary="Delete an empty category",
    description=f"{ADMIN_ONLY} A category that still holds boards (archived ones too) is "
    "refused (422).",
    responses=error_responses(401, 403, 404, 422),
)
async def delete_category(slug: CategorySlug, session: SessionDep, _: Admin) -> None:
    await service.delete_category(session, slug)


@router.get(
    "/boards/{slug}",
    response_model=SingleBoardResponse,
    operation_id="GetBoard",
    summary="Get a board",
    description="Archived boards are readable too, marked `archived`.",
    responses=error_responses(404, 422),
)
@cacheable(Board, Category)
async def get_board(slug: BoardSlug, session: SessionDep) -> Response:
    return JSONBytes({"board": await service.board(session, slug)})


@router.post(
    "/boards",
    response_model=SingleBoardResponse,
    status_code=status.HTTP_201_CREATED,
    operation_id="CreateBoard",
    summary="Create a board",
    description=f"{ADMIN_ONLY} Its slug comes from the name unless given; last in its "
    "category unless a position is given.",
    responses=error_responses(401, 403, 422),
)
async def create_board(body: NewBoardRequest, session: SessionDep, _: Admin) -> Response:
    board = await service.create_board(session, body.board)
    return JSONBytes({"board": board}, status_code=status.HTTP_201_CREATED)


@router.put(
    "/boards/{slug}",
    response_model=SingleBoardResponse,
    operation_id="UpdateBoard",
    summary="Rename, re-slug, describe, move, archive or restore a board",
    description=f"{ADMIN_ONLY} A rename keeps the slug. Moving to another category puts "
    "the board last there (or at `position`); `archived: false` brings an archived board "
    "back. The default board `general` keeps its slug and cannot be archived.",
    responses=error_responses(401, 403, 404, 422),
)
async def update_board(
    slug: BoardSlug, body: UpdateBoardRequest, session: SessionDep, _: Admin
) -> Response:
    return JSONBytes({"board": await service.update_board(session, slug, body.board)})


@router.delete(
    "/boards/{slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="DeleteBoard",
    summary="Delete an empty board, archive one with articles",
    description=f"{ADMIN_ONLY} 204 when the board had no article and is gone; 200 with the "
    "board, now archived (read-only, out of the tree), when it has articles. The default "
    "board `general` cannot be deleted.",
    responses={
        200: {"model": SingleBoardResponse, "description": "Archived: it has articles"},
        **error_responses(401, 403, 404, 422),
    },
)
async def delete_board(slug: BoardSlug, session: SessionDep, _: Admin) -> Response:
    archived = await service.delete_board(session, slug)
    if archived is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return JSONBytes({"board": archived})
