"""edit history of articles and comments, votes on comments

Every article and comment already there gets its current content as version 1 of its
history (by its author, at its last update).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _editor(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["editor_id"], ["users.id"], name=op.f(f"fk_{table}_editor_id_users"), ondelete="SET NULL"
    )


def upgrade() -> None:
    op.create_table(
        "article_versions",
        sa.Column("id", BigIntPK, nullable=False),
        sa.Column("article_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=1024), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("board", sa.String(length=64), nullable=False),
        sa.Column("editor_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _editor("article_versions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_versions")),
        sa.UniqueConstraint(
            "article_id", "number", name=op.f("uq_article_versions_article_id_number")
        ),
    )
    with op.batch_alter_table("article_versions", schema=None) as batch_op:
        batch_op.create_index("ix_article_versions_slug", ["slug"], unique=False)
    op.create_table(
        "comment_versions",
        sa.Column("id", BigIntPK, nullable=False),
        sa.Column("comment_id", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("editor_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _editor("comment_versions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_versions")),
        sa.UniqueConstraint(
            "comment_id", "number", name=op.f("uq_comment_versions_comment_id_number")
        ),
    )
    op.create_table(
        "comment_votes",
        sa.Column("comment_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("value IN (-1, 1)", name=op.f("ck_comment_votes_value_is_one_way")),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_comment_votes_comment_id_comments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_comment_votes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("comment_id", "user_id", name=op.f("pk_comment_votes")),
    )
    # Plain ALTER TABLE, never a batch-mode rebuild of ``comments`` or ``articles``: on
    # SQLite that would drop the search triggers 0007 put on them.
    op.add_column("comments", sa.Column("score", sa.Integer(), server_default="0", nullable=False))
    op.create_index(
        "ix_articles_favorites_count_created_at_id",
        "articles",
        ["favorites_count", "created_at", "id"],
        unique=False,
    )
    _backfill()


_TAGS = {
    "postgresql": "string_agg(t.name, chr(31))",
    "sqlite": "group_concat(t.name, char(31))",
}
_ARTICLE_VERSIONS = (
    "INSERT INTO article_versions (article_id, number, slug, title, description, body,"
    " tags, board, editor_id, created_at)"
    " SELECT a.id, 1, a.slug, a.title, a.description, a.body,"
    " coalesce((SELECT {tags} FROM tags t JOIN article_tags l ON l.tag_id = t.id"
    "  WHERE l.article_id = a.id), ''),"
    " b.slug, a.author_id, a.updated_at"
    " FROM articles a JOIN boards b ON b.id = a.board_id"
)
_COMMENT_VERSIONS = (
    "INSERT INTO comment_versions (comment_id, article_id, number, body, editor_id,"
    " created_at)"
    " SELECT c.id, c.article_id, 1, c.body, c.author_id, c.updated_at FROM comments c"
)


def _backfill() -> None:
    """Version 1 of everything already written: its current content."""
    # Tag names joined by fastboard.fields.TAG_SEPARATOR (chr 31).
    op.execute(_ARTICLE_VERSIONS.format(tags=_TAGS[op.get_bind().dialect.name]))
    op.execute(_COMMENT_VERSIONS)


def downgrade() -> None:
    op.drop_index("ix_articles_favorites_count_created_at_id", table_name="articles")
    # SQLite (3.35 and later) drops a column in place: no rebuild (see upgrade).
    op.execute("ALTER TABLE comments DROP COLUMN score")
    op.drop_table("comment_votes")
    op.drop_table("comment_versions")
    op.drop_table("article_versions")
