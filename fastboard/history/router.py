from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import StreamingResponse

from fastboard.auth import OptionalViewer
from fastboard.db import Database, ReadSessionDep
from fastboard.history import export, service
from fastboard.history.schemas import (
    ARTICLE_CSV_EXAMPLE,
    COMMENT_CSV_EXAMPLE,
    ArticleHistoryResponse,
    CommentHistoryResponse,
)
from fastboard.openapi import error_responses
from fastboard.pagination import Limit, Offset
from fastboard.responses import JSONBytes

router = APIRouter(prefix="/articles/{slug}", tags=["History"])

Slug = Annotated[str, Path(description="The article's slug", max_length=255)]
CommentId = Annotated[int, Path(alias="id", description="The comment's id", ge=1, le=2**63 - 1)]
Accept = Annotated[str | None, Header(include_in_schema=False)]

_VISIBILITY = (
    "Anyone may read the history of an article or comment that is there; that of a deleted "
    "one only moderators and admins (404 for everyone else)."
)
_CSV = (
    "The whole history as CSV, streamed: UTF-8 with a byte order mark, one row per version, "
    "newest first; a cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return "
    "starts with `'`, so no spreadsheet takes it for a formula."
)


def _csv_content(example: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"text/csv": {"schema": {"type": "string"}, "example": example}}}}


def _wants_csv(accept: str | None) -> bool:
    """Whether ``Accept`` prefers CSV to JSON (``*/*`` alone means JSON)."""
    if not accept:
        return False
    csv_q = json_q = 0.0
    for entry in accept.split(","):
        kind, *options = (part.strip() for part in entry.split(";"))
        q = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = kind.lower()
        if kind in ("text/csv", "text/*"):
            csv_q = max(csv_q, q)
        elif kind in ("application/json", "application/*", "*/*"):
            json_q = max(json_q, q)
    return csv_q > 0 and csv_q >= json_q


def _stream(request: Request, slug: str, article_id: int, comment_id: int | None) -> Response:
    database: Database = request.app.state.database
    name = export.filename(slug, comment_id)
    return StreamingResponse(
        export.csv_history(database.reader, article_id, comment_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": export.content_disposition(name)},
    )


@router.get(
    "/history",
    response_model=ArticleHistoryResponse,
    operation_id="GetArticleHistory",
    summary="Get the edit history of an article",
    description="Versions newest first, each with a unified diff of its body against the "
    f"version before. `Accept: text/csv` answers the CSV of `…/history.csv`. {_VISIBILITY}",
    responses={**error_responses(401, 404, 422), **_csv_content(ARTICLE_CSV_EXAMPLE)},
)
async def article_history(
    request: Request,
    slug: Slug,
    session: ReadSessionDep,
    viewer: OptionalViewer,
    accept: Accept = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Response:
    target = await service.article_target(session, slug, viewer)
    if _wants_csv(accept):
        return _stream(request, slug, target.article_id, None)
    page = await service.history(session, target, None, viewer, limit=limit, offset=offset)
    return JSONBytes(page)


@router.get(
    "/history.csv",
    response_class=StreamingResponse,
    operation_id="GetArticleHistoryCsv",
    summary="Download the edit history of an article as CSV",
    description=f"{_CSV} {_VISIBILITY}",
    responses={**error_responses(401, 404, 422), **_csv_content(ARTICLE_CSV_EXAMPLE)},
)
async def article_history_csv(
    request: Request, slug: Slug, session: ReadSessionDep, viewer: OptionalViewer
) -> Response:
    target = await service.article_target(session, slug, viewer)
    return _stream(request, slug, target.article_id, None)


@router.get(
    "/comments/{id}/history",
    response_model=CommentHistoryResponse,
    operation_id="GetArticleCommentHistory",
    summary="Get the edit history of a comment",
    description="Versions newest first, each with a unified diff of its body against the "
    f"version before. `Accept: text/csv` answers the CSV of `…/history.csv`. {_VISIBILITY}",
    responses={**error_responses(401, 404, 422), **_csv_content(COMMENT_CSV_EXAMPLE)},
)
async def comment_history(
    request: Request,
    slug: Slug,
    comment_id: CommentId,
    session: ReadSessionDep,
    viewer: OptionalViewer,
    accept: Accept = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Response:
    target = await service.comment_target(session, slug, comment_id, viewer)
    if _wants_csv(accept):
        return _stream(request, slug, target.article_id, comment_id)
    page = await service.history(session, target, comment_id, viewer, limit=limit, offset=offset)
    return JSONBytes(page)


@router.get(
    "/comments/{id}/history.csv",
    response_class=StreamingResponse,
    operation_id="GetArticleCommentHistoryCsv",
    summary="Download the edit history of a comment as CSV",
    description=f"{_CSV} {_VISIBILITY}",
    responses={**error_responses(401, 404, 422), **_csv_content(COMMENT_CSV_EXAMPLE)},
)
async def comment_history_csv(
    request: Request,
    slug: Slug,
    comment_id: CommentId,
    session: ReadSessionDep,
    viewer: OptionalViewer,
) -> Response:
    target = await service.comment_target(session, slug, comment_id, viewer)
    return _stream(request, slug, target.article_id, comment_id)
