"""boards and categories: every article on a board, existing ones on `general`

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("id", BigIntPK, nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("name", name=op.f("uq_categories_name")),
        sa.UniqueConstraint("slug", name=op.f("uq_categories_slug")),
    )
    op.create_table(
        "boards",
        sa.Column("id", BigIntPK, nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("articles_count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_boards_category_id_categories"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boards")),
        sa.UniqueConstraint("name", name=op.f("uq_boards_name")),
        sa.UniqueConstraint("slug", name=op.f("uq_boards_slug")),
    )
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.create_index(
            "ix_boards_category_id_position", ["category_id", "position"], unique=False
        )

    # The default board, where every existing article goes and where articles posted
    # without a board land (RealWorld clients know nothing of boards).
    op.execute(
        "INSERT INTO categories (slug, name, description, position)"
        " VALUES ('community', 'Community', 'Boards for everyone', 1)"
    )
    op.execute(
        "INSERT INTO boards (category_id, slug, name, description, position, archived,"
        " articles_count)"
        " SELECT id, 'general', 'General', 'Anything that has no board of its own', 1,"
        " false, (SELECT count(*) FROM articles)"
        " FROM categories WHERE slug = 'community'"
    )

    # Nullable first, filled, then required: the table may hold articles already.
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("board_id", sa.BigInteger(), nullable=True))
    op.execute("UPDATE articles SET board_id = (SELECT id FROM boards WHERE slug = 'general')")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.alter_column("board_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_articles_board_id_boards"),
            "boards",
            ["board_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_index(
            "ix_articles_board_id_created_at_id", ["board_id", "created_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_board_id_created_at_id")
        batch_op.drop_constraint(batch_op.f("fk_articles_board_id_boards"), type_="foreignkey")
        batch_op.drop_column("board_id")
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.drop_index("ix_boards_category_id_position")
    op.drop_table("boards")
    op.drop_table("categories")
