"""Every query of search: both totals (and whether the viewer exists) in one statement,
then a page of articles and a page of comments, one statement each.

PostgreSQL: a row matches ``search_vector @@ websearch_to_tsquery('simple', :q)`` or holds
the terms as substrings (ILIKE or LIKE, which the trigram indexes serve for terms of three
characters or more), and none of the excluded terms; ranked by ``ts_rank`` (title above
description above body) plus a bonus when the longest term is in the title (0.5) or the
description (0.2).
SQLite: the FTS5 trigram tables find terms of three characters or more, LIKE the shorter
ones; ranked by where the terms occur (title 4, description 2, body 1, summed over terms).
Ties go to the newer. Statements are built once per shape and take the terms as values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    String,
    Text,
    TextClause,
    bindparam,
    exists,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from fastboard.articles.models import Article
from fastboard.articles.repository import ArticleRow, select_article_rows
from fastboard.boards.models import Board
from fastboard.comments.models import Comment
from fastboard.prepared import Row, read_rows
from fastboard.profiles.repository import Author, author_columns
from fastboard.search.query import SearchQuery, caseless, fts5_phrase, like_pattern
from fastboard.users.models import User

# Totals are counted up to here: a count costs no more than this many matches, and a
# page beyond it is empty.
MAX_COUNTED = 1000

_LIMIT = bindparam("limit", type_=Integer, literal_execute=True)
_OFFSET = bindparam("offset", type_=Integer, literal_execute=True)

# The text a row is searched in, written as the trigram index of migration 0007 is:
# PostgreSQL uses an expression index only for the same expression.
_ARTICLE_TEXT = "(articles.title || ' ' || articles.description || ' ' || articles.body)"
_COMMENT_TEXT = "comments.body"
_TSQUERY = "websearch_to_tsquery('simple', :q)"


@dataclass(frozen=True, slots=True)
class Shape:
    """What a statement's text depends on; the terms themselves are bound values."""

    postgresql: bool
    any_of: bool  # the query used OR
    board: bool
    with_viewer: bool
    # SQLite: whether some included term is long enough for the FTS5 table.
    indexed: bool = False
    # PostgreSQL: whether the longest included term has no case (Korean, digits), and
    # which lists of terms there are. An empty list is left out of the SQL rather than
    # bound: PostgreSQL would still build each row's text to compare it with nothing.
    caseless_first: bool = False
    folded: bool = False
    caseless: bool = False
    folded_excluded: bool = False
    caseless_excluded: bool = False


@dataclass(frozen=True, slots=True)
class CommentHit:
    id: int
    body: str
    created_at: datetime
    updated_at: datetime
    author: Author
    article_slug: str
    article_title: str

    @classmethod
    def from_mapping(cls, row: Row) -> CommentHit:
        return cls(
            row["id"],
            row["body"],
            row["created_at"],
            row["updated_at"],
            Author.from_mapping(row),
            row["article_slug"],
            row["article_title"],
        )


@dataclass(frozen=True, slots=True)
class Totals:
    articles: int
    comments: int
    viewer_found: bool | None  # None when there is no viewer


@dataclass(frozen=True, slots=True)
class Results:
    articles: list[ArticleRow]
    comments: list[CommentHit]
    totals: Totals


def _like(shape: Shape) -> str:
    return "LIKE" if shape.caseless_first else "ILIKE"


def _postgresql_match(shape: Shape, document: str, vector: str) -> TextClause:
    # Terms without upper and lower case (Korean, digits) are compared with LIKE, the
    # others with ILIKE, which lowercases every row it reads: several times slower.
    terms = []
    if shape.folded:
        terms.append(f"{document} ILIKE {'ANY' if shape.any_of else 'ALL'} (:folded)")
    if shape.caseless:
        terms.append(f"{document} LIKE {'ANY' if shape.any_of else 'ALL'} (:caseless)")
    if shape.any_of:
        substring = " OR ".join(terms)
    else:
        # The longest term is what the trigram index looks up; the rest are checked on
        # the rows it finds.
        substring = " AND ".join([f"{document} {_like(shape)} :first", *terms])
    match = f"({vector} @@ {_TSQUERY} OR ({substring}))"
    unwanted = []
    if shape.folded_excluded:
        unwanted.append(f"{document} ILIKE ANY (:folded_excluded)")
    if shape.caseless_excluded:
        unwanted.append(f"{document} LIKE ANY (:caseless_excluded)")
    if unwanted:
        match += f" AND NOT ({' OR '.join(unwanted)})"
    binds = [
        bindparam(name, type_=ARRAY(Text))
        for name in ("folded", "caseless", "folded_excluded", "caseless_excluded")
        if f":{name})" in match
    ]
    if ":first" in match:
        binds.append(bindparam("first", type_=Text))
    return text(match).bindparams(bindparam("q", type_=Text), *binds)


def _sqlite_match(shape: Shape, document: str, fts_table: str, row_id: str) -> TextClause:
    # Our own names in the SQL; the terms are bound values (S608).
    indexed = f"{row_id} IN (SELECT rowid FROM {fts_table} WHERE {fts_table} MATCH :match)"  # noqa: S608
    like = "SELECT 1 FROM json_each(:short) WHERE {document} {negation}LIKE value ESCAPE '\\'"
    if shape.any_of:
        found = f"EXISTS ({like.format(document=document, negation='')})"
        wanted = f"({indexed} OR {found})" if shape.indexed else found
    else:
        # Every short term present: none of them missing.
        missing = f"NOT EXISTS ({like.format(document=document, negation='NOT ')})"
        wanted = f"{indexed} AND {missing}" if shape.indexed else missing
    unwanted = f"SELECT 1 FROM json_each(:excluded) WHERE {document} LIKE value ESCAPE '\\'"  # noqa: S608
    binds = [bindparam("short", type_=Text), bindparam("excluded", type_=Text)]
    if shape.indexed:
        binds.append(bindparam("match", type_=Text))
    return text(f"{wanted} AND NOT EXISTS ({unwanted})").bindparams(*binds)


def _article_match(shape: Shape) -> TextClause:
    if shape.postgresql:
        return _postgresql_match(shape, _ARTICLE_TEXT, "articles.search_vector")
    return _sqlite_match(shape, _ARTICLE_TEXT, "articles_search", "articles.id")


def _comment_match(shape: Shape) -> TextClause:
    if shape.postgresql:
        return _postgresql_match(shape, _COMMENT_TEXT, "comments.search_vector")
    return _sqlite_match(shape, _COMMENT_TEXT, "comments_search", "comments.id")


def _ranked(rank: str, binds: list[Any], table: str) -> TextClause:
    """The ORDER BY of a page: ``rank`` first, then the newer (the rank is not selected:
    a text ORDER BY may carry bound values, a text column may not be labelled)."""
    order = f"{rank} DESC, {table}.created_at DESC, {table}.id DESC"
    return text(order).bindparams(*binds)


def _article_order(shape: Shape) -> TextClause:
    if shape.postgresql:
        # Title above description above body, by ts_rank's weights, plus the longest
        # term found in the title or description as a substring: what ts_rank cannot
        # see in Korean. (Trigram similarity instead: ~15 µs a row, bench/README.md.)
        like = _like(shape)
        rank = (
            f"ts_rank('{{0.1, 0.2, 0.4, 1.0}}', articles.search_vector, {_TSQUERY})"
            f" + 0.5 * (articles.title {like} :first)::int"
            f" + 0.2 * (articles.description {like} :first)::int"
        )
        binds = [bindparam("q", type_=Text), bindparam("first", type_=Text)]
    else:
        rank = (
            "(SELECT total((instr(lower(articles.title), value) > 0) * 4"
            " + (instr(lower(articles.description), value) > 0) * 2"
            " + (instr(lower(articles.body), value) > 0)) FROM json_each(:include))"
        )
        binds = [bindparam("include", type_=Text)]
    return _ranked(rank, binds, "articles")


def _comment_order(shape: Shape) -> TextClause:
    if shape.postgresql:
        rank = f"ts_rank(comments.search_vector, {_TSQUERY})"
        binds = [bindparam("q", type_=Text)]
    else:
        rank = "(SELECT total(instr(lower(comments.body), value) > 0) FROM json_each(:include))"
        binds = [bindparam("include", type_=Text)]
    return _ranked(rank, binds, "comments")


def _board_id() -> Any:
    board = bindparam("board", type_=String)
    return select(Board.id).where(Board.slug == board).scalar_subquery()


def _article_filters(shape: Shape) -> list[Any]:
    filters: list[Any] = [_article_match(shape)]
    if shape.board:
        filters.append(Article.board_id == _board_id())
    return filters


def _comment_filters(shape: Shape) -> list[Any]:
    filters: list[Any] = [_comment_match(shape)]
    if shape.board:
        filters.append(Article.board_id == _board_id())
    return filters


def _counted(matches: Select[Any]) -> Any:
    """How many rows ``matches`` finds, up to MAX_COUNTED, as a scalar subquery."""
    bounded = matches.limit(MAX_COUNTED).subquery()
    return select(func.count()).select_from(bounded).scalar_subquery()


@cache
def _totals_statement(shape: Shape) -> Select[Any]:
    one: Any = literal_column("1")
    articles = select(one).select_from(Article).where(*_article_filters(shape))
    comments = select(one).select_from(Comment)
    if shape.board:
        comments = comments.join(Article, Article.id == Comment.article_id)
    comments = comments.where(*_comment_filters(shape))
    columns: list[Any] = [
        _counted(articles).label("articles_total"),
        _counted(comments).label("comments_total"),
    ]
    if shape.with_viewer:
        viewer = aliased(User)
        found = exists().where(
            viewer.id == bindparam("viewer_id", type_=BigInteger),
            viewer.token_version == bindparam("token_version", type_=Integer),
        )
        columns.append(found.label("viewer_found"))
    return select(*columns)


@cache
def _articles_statement(shape: Shape) -> Select[Any]:
    return (
        select_article_rows(with_viewer=shape.with_viewer)
        .where(*_article_filters(shape))
        .order_by(_article_order(shape))
        .limit(_LIMIT)
        .offset(_OFFSET)
    )


@cache
def _comments_statement(shape: Shape) -> Select[Any]:
    viewer_id = bindparam("viewer_id", type_=BigInteger) if shape.with_viewer else None
    return (
        select(
            Comment.id,
            Comment.body,
            Comment.created_at,
            Comment.updated_at,
            *author_columns(Comment.author_id, viewer_id),
            Article.slug.label("article_slug"),
            Article.title.label("article_title"),
        )
        .select_from(Comment)
        .join(User, User.id == Comment.author_id)
        .join(Article, Article.id == Comment.article_id)
        .where(*_comment_filters(shape))
        .order_by(_comment_order(shape))
        .limit(_LIMIT)
        .offset(_OFFSET)
    )


def _values(query: SearchQuery, postgresql: bool) -> dict[str, Any]:
    """The query's terms as the statements of either database take them."""
    if postgresql:
        first = max(query.include, key=len)
        # With OR any term will do: the lists hold them all, ``first`` only ranks.
        rest = query.include if query.any_of else [t for t in query.include if t != first]
        return {
            "q": query.text,
            "first": like_pattern(first),
            "folded": [like_pattern(term) for term in rest if not caseless(term)],
            "caseless": [like_pattern(term) for term in rest if caseless(term)],
            "folded_excluded": [like_pattern(t) for t in query.exclude if not caseless(t)],
            "caseless_excluded": [like_pattern(t) for t in query.exclude if caseless(t)],
        }
    joiner = " OR " if query.any_of else " AND "
    return {
        "match": joiner.join(fts5_phrase(term) for term in query.long_terms),
        "short": json.dumps([like_pattern(term) for term in query.short_terms]),
        "excluded": json.dumps([like_pattern(term) for term in query.exclude]),
        "include": json.dumps(list(query.include)),
    }


def _shape(
    query: SearchQuery, params: dict[str, Any], postgresql: bool, *, board: bool, viewer: bool
) -> Shape:
    if not postgresql:
        return Shape(False, query.any_of, board, viewer, indexed=bool(query.long_terms))
    return Shape(
        True,
        query.any_of,
        board,
        viewer,
        caseless_first=caseless(max(query.include, key=len)),
        folded=bool(params["folded"]),
        caseless=bool(params["caseless"]),
        folded_excluded=bool(params["folded_excluded"]),
        caseless_excluded=bool(params["caseless_excluded"]),
    )


async def search(
    session: AsyncSession,
    query: SearchQuery,
    *,
    board: str | None,
    viewer: tuple[int, int] | None,
    limit: int,
    offset: int,
) -> Results:
    """A page of each kind of result, best first, as ``viewer`` (a token's user id and
    version) sees them, and the totals: three statements at most, whatever the page size
    (the totals first; a page past its total is not read)."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    params = _values(query, postgresql)
    shape = _shape(query, params, postgresql, board=board is not None, viewer=viewer is not None)
    if board is not None:
        params["board"] = board
    if viewer is not None:
        params["viewer_id"], params["token_version"] = viewer
    counted = (await read_rows(session, _totals_statement(shape), params))[0]
    found = counted["viewer_found"] if viewer is not None else None
    totals = Totals(counted["articles_total"], counted["comments_total"], found)
    if found is False:
        return Results([], [], totals)
    page = {**params, "limit": limit, "offset": offset}
    articles: list[ArticleRow] = []
    if offset < totals.articles:
        rows = await read_rows(session, _articles_statement(shape), page)
        articles = [ArticleRow.from_mapping(row) for row in rows]
    comments: list[CommentHit] = []
    if offset < totals.comments:
        rows = await read_rows(session, _comments_statement(shape), page)
        comments = [CommentHit.from_mapping(row) for row in rows]
    return Results(articles, comments, totals)
