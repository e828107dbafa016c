"""Votes at once: 50 clients voting, changing and taking back their votes on one comment
leave its score equal to the sum of its votes."""

from __future__ import annotations

import asyncio
import contextlib
import random

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from fastboard.comments.models import Comment, CommentVote
from fastboard.settings import Settings
from fastboard.users.models import User
from tests.comments.test_votes import Account, add_comment, listed, vote
from tests.conftest import create_article, register

pytestmark = [pytest.mark.anyio, pytest.mark.own_app]  # concurrent requests, real commits


@pytest.fixture
def settings(session_settings: Settings) -> Settings:
    """Room for the crowd: 25 connections, and time to wait for one rather than a 503."""
    return session_settings.model_copy(
        update={"db_pool_size": 25, "db_max_overflow": 0, "db_pool_timeout": 60}
    )


VOTERS = 50


async def test_concurrent_votes_keep_the_score_the_sum_of_the_votes(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    """50 clients voting, changing and taking back their votes at once (some sending
    several of their own at once too): the score ends equal to the sum of the votes."""
    slug = (await create_article(client, alice["token"]))["slug"]
    comment_id = await add_comment(client, alice["token"], slug, "Popular")
    voters = [await register(client, f"voter{n}") for n in range(VOTERS)]
    chooser = random.Random(10)
    plans = [[chooser.choice([1, -1, None]) for _ in range(4)] for _ in voters]

    # SQLite lets one writer in at a time, each waiting at most its busy timeout: there
    # the crowd queues here instead (PostgreSQL takes them all at once).
    sqlite = app.state.settings.is_sqlite
    gate = asyncio.Semaphore(4) if sqlite else contextlib.nullcontext()

    async def act(voter: Account, plan: list[int | None], index: int) -> None:
        transport = httpx.ASGITransport(app=app)
        async with gate, httpx.AsyncClient(transport=transport, base_url="http://test") as own:
            if index % 5 == 0:
                # Several requests of one reader at once: the order they land in is open.
                await asyncio.gather(
                    *(vote(own, voter["token"], slug, comment_id, value) for value in plan)
                )
                return
            for value in plan:
                await vote(own, voter["token"], slug, comment_id, value)

    await asyncio.gather(
        *(act(voter, plan, n) for n, (voter, plan) in enumerate(zip(voters, plans, strict=True)))
    )

    async with app.state.database.reader() as session:
        total = await session.scalar(
            select(func.coalesce(func.sum(CommentVote.value), 0)).where(
                CommentVote.comment_id == comment_id
            )
        )
        score = await session.scalar(select(Comment.score).where(Comment.id == comment_id))
        rows = await session.execute(
            select(User.username, CommentVote.value)
            .join(User, User.id == CommentVote.user_id)
            .where(CommentVote.comment_id == comment_id)
        )
        votes: dict[str, int] = dict(rows.all())
    assert score == total
    assert (await listed(client, slug))[0]["score"] == score
    # The readers who voted one request at a time end with their last vote.
    for n, (voter, plan) in enumerate(zip(voters, plans, strict=True)):
        if n % 5:
            assert votes.get(voter["username"]) == plan[-1], voter["username"]
    assert len(votes) > VOTERS // 3
    assert min(votes.values()) == -1
    assert max(votes.values()) == 1
