from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fastboard.db import Base, BigIntPK, UTCDateTime, utcnow


class Action(StrEnum):
    DELETE_ARTICLE = "delete_article"
    DELETE_COMMENT = "delete_comment"
    LOCK_ARTICLE = "lock_article"
    UNLOCK_ARTICLE = "unlock_article"
    SUSPEND_USER = "suspend_user"
    UNSUSPEND_USER = "unsuspend_user"
    SET_ROLE = "set_role"


ACTION_NAMES = tuple(action.value for action in Action)


class Target(StrEnum):
    ARTICLE = "article"
    COMMENT = "comment"
    USER = "user"


TARGET_NAMES = tuple(target.value for target in Target)


class ModerationEntry(Base):
    """One moderation action. Names are copied, not only referenced: the record outlives
    the article, comment or account it is about, and the moderator's account too."""

    __tablename__ = "moderation_log"
    __table_args__ = (
        CheckConstraint(f"action IN {ACTION_NAMES!r}", name="action_known"),
        CheckConstraint(f"target_type IN {TARGET_NAMES!r}", name="target_known"),
        # Newest first, id as the tie-breaker: the log's one order.
        Index("ix_moderation_log_created_at_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    moderator_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    moderator: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target_type: Mapped[str] = mapped_column(String(16))
    # The article's slug, the comment's id or the username, as they were.
    target: Mapped[str] = mapped_column(String(255))
    # What changed, where the action alone does not say: "user -> moderator", an end time.
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
