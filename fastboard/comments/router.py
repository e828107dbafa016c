from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from fastboard.articles.models import Article
from fastboard.auth import CurrentUser, OptionalViewer, RequiredTokenClaims
from fastboard.cache import cacheable
from fastboard.comments import service
from fastboard.comments.models import Comment, CommentVote
from fastboard.comments.schemas import (
    MultipleCommentsResponse,
    NewCommentRequest,
    SingleCommentResponse,
    UpdateCommentRequest,
    VoteRequest,
)
from fastboard.db import ReadSessionDep, SessionDep
from fastboard.fields import Reason
from fastboard.openapi import error_responses
from fastboard.responses import JSONBytes
from fastboard.users.models import User

router = APIRouter(prefix="/articles/{slug}/comments", tags=["Comments"])

Slug = Annotated[str, Path(description="The article's slug", max_length=255)]
CommentId = Annotated[int, Path(alias="id", description="The comment's id", ge=1, le=2**63 - 1)]
OrderQuery = Annotated[
    Literal["new", "top"],
    Query(description="`new`: newest first; `top`: highest score first, ties newest first"),
]


@router.get(
    "",
    response_model=MultipleCommentsResponse,
    operation_id="GetArticleComments",
    summary="Get comments for an article",
    description="Each with its `score`, and for a signed-in reader their own vote (`myVote`).",
    responses=error_responses(401, 404, 422),
)
@cacheable(Comment, CommentVote, Article, User)
async def list_comments(
    slug: Slug, session: ReadSessionDep, viewer: OptionalViewer, order: OrderQuery = "new"
) -> Response:
    return JSONBytes({"comments": await service.list_for(session, slug, viewer, order=order)})


@router.post(
    "",
    response_model=SingleCommentResponse,
    operation_id="CreateArticleComment",
    summary="Create a comment for an article",
    description="Answers 200, as the RealWorld spec (1.1.0) defines for this operation. "
    "A locked article takes no new comments (403).",
    responses=error_responses(401, 403, 404, 422),
)
async def add_comment(
    slug: Slug, body: NewCommentRequest, session: SessionDep, token: RequiredTokenClaims
) -> Response:
    return JSONBytes({"comment": await service.add(session, slug, body.comment.body, token)})


@router.put(
    "/{id}",
    response_model=SingleCommentResponse,
    operation_id="UpdateArticleComment",
    summary="Edit a comment",
    description="Its author only. The version it replaces stays in the comment's history; a "
    "locked article's comments cannot be edited (403).",
    responses=error_responses(401, 403, 404, 422),
)
async def edit_comment(
    slug: Slug,
    comment_id: CommentId,
    body: UpdateCommentRequest,
    session: SessionDep,
    user: CurrentUser,
) -> Response:
    comment = await service.edit(session, slug, comment_id, body.comment.body, user)
    return JSONBytes({"comment": comment})


@router.put(
    "/{id}/vote",
    response_model=SingleCommentResponse,
    operation_id="VoteArticleComment",
    summary="Vote on a comment",
    description="1 up or -1 down, one vote per reader and comment: a second one replaces "
    "the first. Answers the comment with its new `score`.",
    responses=error_responses(401, 403, 404, 422),
)
async def vote(
    slug: Slug, comment_id: CommentId, body: VoteRequest, session: SessionDep, user: CurrentUser
) -> Response:
    comment = await service.vote(session, slug, comment_id, user, body.vote.value)
    return JSONBytes({"comment": comment})


@router.delete(
    "/{id}/vote",
    response_model=SingleCommentResponse,
    operation_id="DeleteArticleCommentVote",
    summary="Take back a vote on a comment",
    description="Answers the comment with its new `score` (also when there was no vote).",
    responses=error_responses(401, 403, 404, 422),
)
async def unvote(
    slug: Slug, comment_id: CommentId, session: SessionDep, user: CurrentUser
) -> Response:
    return JSONBytes({"comment": await service.vote(session, slug, comment_id, user, None)})


@router.delete(
    "/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="DeleteArticleComment",
    summary="Delete a comment for an article",
    description="The author may; so may a moderator or admin (of a higher role than the "
    "author), which the moderation log records.",
    responses=error_responses(401, 403, 404, 422),
)
async def delete_comment(
    slug: Slug,
    comment_id: CommentId,
    session: SessionDep,
    user: CurrentUser,
    reason: Annotated[
        Reason | None, Query(description="A moderator's reason, for the moderation log")
    ] = None,
) -> None:
    await service.delete(session, slug, comment_id, user, reason=reason)
