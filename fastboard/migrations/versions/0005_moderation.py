"""moderation: articles.locked_at and the moderation log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = (
    "delete_article",
    "delete_comment",
    "lock_article",
    "unlock_article",
    "suspend_user",
    "unsuspend_user",
    "set_role",
)


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "moderation_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moderator_id", sa.BigInteger(), nullable=True),
        sa.Column("moderator", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(f"action IN {ACTIONS!r}", name=op.f("ck_moderation_log_action_known")),
        sa.CheckConstraint(
            "target_type IN ('article', 'comment', 'user')",
            name=op.f("ck_moderation_log_target_known"),
        ),
        sa.ForeignKeyConstraint(
            ["moderator_id"],
            ["users.id"],
            name=op.f("fk_moderation_log_moderator_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_log")),
    )
    with op.batch_alter_table("moderation_log", schema=None) as batch_op:
        batch_op.create_index("ix_moderation_log_created_at_id", ["created_at", "id"])
        batch_op.create_index("ix_moderation_log_moderator_id", ["moderator_id"])


def downgrade() -> None:
    op.drop_table("moderation_log")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("locked_at")
