"""PostgreSQL can answer search from its indexes: the statements' match is written the way
migration 0007 indexed it (an expression index serves only the same expression)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from fastboard.articles.models import Article
from fastboard.comments.models import Comment
from fastboard.prepared import compile_for_driver
from fastboard.search import repository
from fastboard.search.query import parse

pytestmark = pytest.mark.anyio

INDEXES = {
    Article: {"ix_articles_search_vector", "ix_articles_text_trgm"},
    Comment: {"ix_comments_search_vector", "ix_comments_body_trgm"},
}


@pytest.mark.parametrize("model", [Article, Comment], ids=["articles", "comments"])
@pytest.mark.parametrize(
    "q", ["postgres", "서버를 설치", "pool OR queue", '"graceful reload" -shard', "worker 서버"]
)
async def test_matches_can_be_read_from_the_indexes(app: FastAPI, model: Any, q: str) -> None:
    engine = app.state.database.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's indexes")
    query = parse(q)
    params: dict[str, Any] = repository._values(query, postgresql=True)
    shape = repository._shape(query, params, postgresql=True, board=False, viewer=False)
    match = repository._article_match if model is Article else repository._comment_match
    statement = select(func.count()).select_from(model).where(match(shape))
    driver = compile_for_driver(statement, engine.dialect)
    assert driver is not None

    async with engine.connect() as conn:
        raw: Any = (await conn.get_raw_connection()).driver_connection
        # On empty tables a sequential scan is always cheapest: take it off the table.
        await raw.execute("SET enable_seqscan = off")
        plan = await raw.fetch("EXPLAIN " + driver.sql_for(params), *driver.arguments(params))
        await raw.execute("RESET enable_seqscan")

    text = "\n".join(row[0] for row in plan)
    assert "BitmapOr" in text
    assert {index for index in INDEXES[model] if index in text} == INDEXES[model]
