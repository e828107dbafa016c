"""Search rules: what a query string asks for, results as JSON with highlights. No FastAPI.

Not cached (fastboard/cache.py): searches are long-tail, nearly every one a miss, and a
cached page would depend on every article and comment that could start to match it, so
every write would have to evict every search while each stored query string took room
from the lists that are read again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fastboard.articles.service import summary_json
from fastboard.errors import Unauthorized
from fastboard.fields import iso_millis
from fastboard.profiles.service import profile_json
from fastboard.search import repository
from fastboard.search.query import highlight, highlight_terms, parse
from fastboard.search.repository import CommentHit
from fastboard.security import VerifiedToken

SearchJSON = dict[str, Any]


def _comment_json(hit: CommentHit, terms: tuple[str, ...]) -> dict[str, Any]:
    return {
        "id": hit.id,
        "createdAt": iso_millis(hit.created_at),
        "updatedAt": iso_millis(hit.updated_at),
        "body": hit.body,
        "highlight": highlight([hit.body], terms),
        "author": profile_json(hit.author, following=hit.author.following),
        "article": {"slug": hit.article_slug, "title": hit.article_title},
    }


async def search(
    session: AsyncSession,
    raw: str,
    *,
    board: str | None,
    token: VerifiedToken | None,
    limit: int,
    offset: int,
) -> SearchJSON:
    """Articles and comments matching ``raw``, best first, as the token's user sees them.
    A string with nothing to look for (punctuation, only excluded words) finds nothing."""
    query = parse(raw)
    if query.empty:
        return {"articles": [], "articlesCount": 0, "comments": [], "commentsCount": 0}
    viewer = None if token is None else (token.user_id, token.version)
    found = await repository.search(
        session, query, board=board, viewer=viewer, limit=limit, offset=offset
    )
    if found.totals.viewer_found is False:
        # What fastboard.auth answers for a token whose user it cannot find.
        raise Unauthorized("token is invalid or has expired", field="token")
    terms = highlight_terms(query)
    articles = []
    for row in found.articles:
        article = summary_json(row)
        # The body first: the snippet a reader wants, unless only the title matched.
        article["highlight"] = highlight([row.body or "", row.description, row.title], terms)
        articles.append(article)
    return {
        "articles": articles,
        "articlesCount": found.totals.articles,
        "comments": [_comment_json(hit, terms) for hit in found.comments],
        "commentsCount": found.totals.comments,
    }
