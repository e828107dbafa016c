"""The database objects of search that the models do not describe (migration 0007): the
generated ``search_vector`` columns and their indexes, the FTS5 tables and their shadow
tables. Alembic's comparison with the models leaves them out."""

from __future__ import annotations

FTS_TABLES = ("articles_search", "comments_search")
COLUMNS = frozenset({"search_vector"})
INDEXES = frozenset(
    {
        "ix_articles_search_vector",
        "ix_articles_text_trgm",
        "ix_comments_search_vector",
        "ix_comments_body_trgm",
    }
)


def is_search_table(name: str) -> bool:
    # An FTS5 table keeps its index in shadow tables named after it (``…_data``, ``…_idx``).
    return any(name == table or name.startswith(f"{table}_") for table in FTS_TABLES)


def is_search_object(name: str | None, kind: str) -> bool:
    """Whether the schema object ``name`` of ``kind`` (Alembic's: table, column, index)
    belongs to search."""
    if name is None:
        return False
    if kind == "table":
        return is_search_table(name)
    if kind == "column":
        return name in COLUMNS
    return kind == "index" and name in INDEXES
