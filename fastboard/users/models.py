from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fastboard.db import Base, BigIntPK, UTCDateTime, utcnow
from fastboard.users.roles import ROLE_NAMES, Role

# Who wrote what a deleted account left behind (users.account): a name registration and
# updates refuse (brackets), an email no login accepts, a hash no password matches.
DELETED_USERNAME = "[deleted]"
DELETED_EMAIL = "deleted-user"
UNUSABLE_PASSWORD_HASH = "!"  # noqa: S105 - matches no password, the point


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLE_NAMES!r}", name="role_known"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    bio: Mapped[str] = mapped_column(Text, default="", server_default="")
    image: Mapped[str | None] = mapped_column(String(2048), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    role: Mapped[str] = mapped_column(String(16), default=Role.USER, server_default=Role.USER)
    # Writes are refused until then; reads stay open.
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    suspension_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # Tokens carry the version they were issued at; raising it (password change, account
    # deletion) rejects every token issued before, in every worker, with no token list.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
