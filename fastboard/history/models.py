"""Every version of every article and comment, the current one included.

A version is the whole content as one edit left it (version 1: as posted). The rows carry
no foreign key to what they describe: a deleted article's or comment's history outlives
it, for moderators to read.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fastboard.db import Base, BigIntPK, UTCDateTime, utcnow


class ArticleVersion(Base):
    __tablename__ = "article_versions"
    __table_args__ = (
        # Newest first per article, and the version before a given one.
        UniqueConstraint("article_id", "number"),
        # A deleted article is found by a slug it had.
        Index("ix_article_versions_slug", "slug"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    article_id: Mapped[int] = mapped_column(BigInteger)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … per article, without gaps
    slug: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1024))
    body: Mapped[str] = mapped_column(Text)
    # Names joined by fastboard.fields.TAG_SEPARATOR, alphabetical; the board's slug as it
    # was: a later rename or deletion of either leaves the history as it happened.
    tags: Mapped[str] = mapped_column(Text)
    board: Mapped[str] = mapped_column(String(64))
    # Who wrote this version; a deleted account's versions pass to the placeholder.
    editor_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CommentVersion(Base):
    __tablename__ = "comment_versions"
    __table_args__ = (UniqueConstraint("comment_id", "number"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    comment_id: Mapped[int] = mapped_column(BigInteger)
    article_id: Mapped[int] = mapped_column(BigInteger)
    number: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
