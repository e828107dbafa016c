"""article counts kept on write: tags.articles_count and article_counts

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("articles_count", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "article_counts",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("articles", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_article_counts")),
    )
    # Backfill from the rows already there; the application keeps both in step from now on
    # (a missing count reads as 0, so an empty database stays empty).
    op.execute(
        "UPDATE tags SET articles_count ="
        " (SELECT count(*) FROM article_tags WHERE article_tags.tag_id = tags.id)"
    )
    op.execute(
        "INSERT INTO article_counts (scope, articles)"
        " SELECT 'all', count(*) FROM articles HAVING count(*) > 0"
    )


def downgrade() -> None:
    op.drop_table("article_counts")
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_column("articles_count")
