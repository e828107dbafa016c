from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from fastboard.db import Base, BigIntPK


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(1024), default="", server_default="")
    # 1..n among all categories, no gaps (the service keeps them so).
    position: Mapped[int] = mapped_column(Integer)


class Board(Base):
    __tablename__ = "boards"
    __table_args__ = (Index("ix_boards_category_id_position", "category_id", "position"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # RESTRICT: a category goes only once it holds no board (the service says so first).
    category_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("categories.id", ondelete="RESTRICT")
    )
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(1024), default="", server_default="")
    # 1..n among the live boards of its category; 0 once archived (out of the order).
    position: Mapped[int] = mapped_column(Integer)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Kept in step with articles.board_id inside the same transaction: the tree and the
    # board filter's total read it instead of counting.
    articles_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# Where articles go when no board is named: what the migration creates, never archived,
# deleted or re-slugged, so RealWorld clients that know nothing of boards keep posting.
DEFAULT_BOARD = "general"
