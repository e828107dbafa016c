"""full-text search: indexes over articles and comments, existing rows included

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-30 23:00:00.000000

PostgreSQL: a generated ``tsvector`` column per table (the ``simple`` configuration: no
English stemming for Korean and other languages) with a GIN index, and GIN trigram
indexes (``pg_trgm``) over the same text for words inside longer runs. Generated columns
are filled as the column is added, so every existing row is searchable at once.

SQLite: FTS5 tables with the ``trigram`` tokenizer, reading their text from the tables
themselves (external content), kept in step by triggers and rebuilt here from what exists.
Triggers do not survive a batch-mode rebuild of ``articles`` or ``comments``: a later
migration that rebuilds either table must create them again (``create_sqlite_triggers``).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ARTICLE_VECTOR = (
    "setweight(to_tsvector('simple', coalesce(title, '')), 'A')"
    " || setweight(to_tsvector('simple', coalesce(description, '')), 'B')"
    " || setweight(to_tsvector('simple', coalesce(body, '')), 'C')"
)
# What the trigram index covers, written exactly as fastboard/search/repository.py
# writes it: PostgreSQL uses an expression index only for the same expression.
ARTICLE_TEXT = "(title || ' ' || description || ' ' || body)"

# name: (table, FTS5 columns)
FTS_TABLES = {
    "articles_search": ("articles", ("title", "description", "body")),
    "comments_search": ("comments", ("body",)),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_comments_body_trgm")
        op.execute("DROP INDEX IF EXISTS ix_comments_search_vector")
        op.execute("ALTER TABLE comments DROP COLUMN IF EXISTS search_vector")
        op.execute("DROP INDEX IF EXISTS ix_articles_text_trgm")
        op.execute("DROP INDEX IF EXISTS ix_articles_search_vector")
        op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS search_vector")
        # The extension stays: other databases' objects on this server may use it, and
        # an extension is the server administrator's to remove.
        return
    for name, (table, _columns) in FTS_TABLES.items():
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_search_{event}")
        op.execute(f"DROP TABLE IF EXISTS {name}")


def _upgrade_postgresql() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # Filled for every existing row as the column is added (the table is rewritten once).
    op.execute(
        "ALTER TABLE articles ADD COLUMN search_vector tsvector"
        f" GENERATED ALWAYS AS ({ARTICLE_VECTOR}) STORED"
    )
    op.execute("CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)")
    op.execute(
        f"CREATE INDEX ix_articles_text_trgm ON articles USING gin ({ARTICLE_TEXT} gin_trgm_ops)"
    )
    op.execute(
        "ALTER TABLE comments ADD COLUMN search_vector tsvector"
        " GENERATED ALWAYS AS (to_tsvector('simple', coalesce(body, ''))) STORED"
    )
    op.execute("CREATE INDEX ix_comments_search_vector ON comments USING gin (search_vector)")
    op.execute("CREATE INDEX ix_comments_body_trgm ON comments USING gin (body gin_trgm_ops)")


def _upgrade_sqlite() -> None:
    for name, (table, columns) in FTS_TABLES.items():
        listed = ", ".join(columns)
        op.execute(
            f"CREATE VIRTUAL TABLE {name} USING fts5({listed}, content='{table}',"
            " content_rowid='id', tokenize='trigram')"
        )
        create_sqlite_triggers(name, table, columns)
        # Everything already there (an external-content table reads it from ``table``).
        op.execute(f"INSERT INTO {name}({name}) VALUES ('rebuild')")  # noqa: S608 - our own names


def create_sqlite_triggers(name: str, table: str, columns: Sequence[str]) -> None:
    """Keep the FTS5 table ``name`` in step with ``table``: an external-content table is
    told which text leaves (the old values) and which arrives."""
    listed = ", ".join(columns)
    new = ", ".join(f"new.{column}" for column in columns)
    old = ", ".join(f"old.{column}" for column in columns)
    remove = f"INSERT INTO {name}({name}, rowid, {listed}) VALUES ('delete', old.id, {old});"  # noqa: S608
    add = f"INSERT INTO {name}(rowid, {listed}) VALUES (new.id, {new});"  # noqa: S608
    op.execute(f"CREATE TRIGGER {table}_search_insert AFTER INSERT ON {table} BEGIN {add} END")
    op.execute(f"CREATE TRIGGER {table}_search_delete AFTER DELETE ON {table} BEGIN {remove} END")
    # Only when the searched text changes: a favorite count or a lock leaves the index be.
    changed = " OR ".join(f"old.{column} IS NOT new.{column}" for column in columns)
    op.execute(
        f"CREATE TRIGGER {table}_search_update AFTER UPDATE ON {table}"
        f" WHEN {changed} OR old.id IS NOT new.id BEGIN {remove} {add} END"
    )
