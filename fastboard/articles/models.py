from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fastboard.db import Base, BigIntPK, UTCDateTime, utcnow


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        # Newest first, with id as the tie-breaker: the global list and every filter.
        Index("ix_articles_created_at_id", "created_at", "id"),
        Index("ix_articles_author_id_created_at", "author_id", "created_at"),
        Index("ix_articles_board_id_created_at_id", "board_id", "created_at", "id"),
        # Most favorited first, ties newest first: ``order=top``.
        Index("ix_articles_favorites_count_created_at_id", "favorites_count", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    slug: Mapped[str] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1024))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    # RESTRICT: a board with articles is archived, never deleted with them.
    board_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("boards.id", ondelete="RESTRICT"))
    # Kept in step with the favorites table inside the same transaction; lists read it
    # without aggregating.
    favorites_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by a moderator: no new comments until it is cleared.
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # How many articles carry the tag, kept in step with article_tags inside the same
    # transaction: /api/tags and the tag filter's total read it instead of counting.
    articles_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ArticleCount(Base):
    """How many articles a scope holds, kept in step on create and delete: the unfiltered
    list's total is one row instead of a count over the whole table. One scope so far."""

    __tablename__ = "article_counts"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    articles: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


# The scope of every article.
ALL_ARTICLES = "all"


class ArticleTag(Base):
    __tablename__ = "article_tags"
    __table_args__ = (Index("ix_article_tags_tag_id_article_id", "tag_id", "article_id"),)

    article_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    )


class Favorite(Base):
    __tablename__ = "favorites"
    __table_args__ = (Index("ix_favorites_article_id", "article_id"),)

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
