from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from fastboard.auth import TokenClaims
from fastboard.db import ReadSessionDep
from fastboard.fields import NO_NUL_PATTERN
from fastboard.openapi import error_responses
from fastboard.pagination import Limit, Offset
from fastboard.responses import JSONBytes
from fastboard.search import service
from fastboard.search.query import MAX_QUERY_LENGTH
from fastboard.search.schemas import SearchResponse

router = APIRouter(tags=["Search"])

SearchText = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_QUERY_LENGTH,
        pattern=NO_NUL_PATTERN,
        description='Words to find. `"exact phrase"`, `-excluded`, `OR` work as in a web '
        "search engine; a word is also found inside a longer run of text (`서버` finds "
        "`서버를`).",
        examples=['서버 "connection pool" -mysql'],
    ),
]
BoardFilter = Annotated[
    str | None, Query(max_length=64, pattern=NO_NUL_PATTERN, description="Only this board's")
]


@router.get(
    "/search",
    response_model=SearchResponse,
    operation_id="Search",
    summary="Search articles and comments",
    description="Articles and comments matching `q`, most relevant first, each kind with "
    "its own count; `limit` and `offset` page both. Not cached.",
    responses=error_responses(401, 422),
)
async def search(
    session: ReadSessionDep,
    token: TokenClaims,
    q: SearchText,
    board: BoardFilter = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Response:
    found = await service.search(session, q, board=board, token=token, limit=limit, offset=offset)
    return JSONBytes(found)
