"""The comment tests share the article tests' users."""

from tests.articles.conftest import alice, bob

__all__ = ["alice", "bob"]
