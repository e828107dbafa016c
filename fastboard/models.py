"""Every table, imported in one place so Alembic and tests see the whole schema."""

from fastboard.articles.models import Article, ArticleCount, ArticleTag, Favorite, Tag
from fastboard.boards.models import Board, Category
from fastboard.comments.models import Comment, CommentVote
from fastboard.db import Base
from fastboard.history.models import ArticleVersion, CommentVersion
from fastboard.moderation.models import ModerationEntry
from fastboard.profiles.models import Follow
from fastboard.users.models import User

__all__ = [
    "Article",
    "ArticleCount",
    "ArticleTag",
    "ArticleVersion",
    "Base",
    "Board",
    "Category",
    "Comment",
    "CommentVersion",
    "CommentVote",
    "Favorite",
    "Follow",
    "ModerationEntry",
    "Tag",
    "User",
]
