"""PostgreSQL goes away under a write load, and nothing acknowledged is lost.

Signed-in clients keep creating articles, commenting and favoriting through Gunicorn
(two workers) while the database, reached through a forwarder the test cuts, disappears
and comes back. Every answer is logged; afterwards the database itself is compared with
the log: each write that got a 2xx is there. The outage must cost only 503s in the
envelope, and the same workers must serve again once the database is back.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from dev.stack import RunningStack
from tests.stack.conftest import (
    StackFactory,
    app_errors,
    app_log,
    each_request_a_new_connection,
    register,
)
from tests.stack.forwarder import TcpForwarder
from tests.stack.processes import children
from tests.stack.waiting import until

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

WRITERS = 4
# Writes answered in each phase before the test moves on: enough that both workers and
# every pooled connection take part.
BEFORE = 40
WHILE_DOWN = 120
AFTER = 60
# Between two writes of one client: a load, not a flood of log lines.
PAUSE_SECONDS = 0.01


@dataclass(frozen=True, slots=True)
class Answer:
    phase: str  # when the request was sent
    ended: str  # when its answer came
    kind: str  # "article", "comment", "favorite"
    writer: str
    status: int | None  # None: no HTTP answer at all
    # What the write made, once acknowledged: a slug, a comment id, the favorited slug.
    made: str | int | None = None
    target: str | None = None  # the article a comment or favorite was about
    body: Any = None
    retry_after: str | None = None
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class WriteLoad:
    """Signed-in writers creating, commenting and favoriting until told to stop; each
    answer is noted with the phase it started in."""

    client: httpx.AsyncClient
    writers: list[tuple[str, str]]  # (username, token)
    phase: str = "before"
    answers: list[Answer] = field(default_factory=list)
    articles: list[str] = field(default_factory=list)  # acknowledged slugs
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, phase: str) -> int:
        return sum(answer.phase == phase for answer in self.answers)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        await asyncio.gather(*(self._write(name, token) for name, token in self.writers))

    async def _write(self, name: str, token: str) -> None:
        headers = {"Authorization": f"Token {token}"}
        favorited: set[str] = set()
        turn = 0
        while not self._stop.is_set():
            kind = ("article", "comment", "favorite")[turn % 3]
            turn += 1
            if kind != "article" and not self.articles:
                continue
            target = self._target(favorited) if kind == "favorite" else None
            if kind == "comment":
                target = random.choice(self.articles)
            answer = await self._send(kind, name, headers, target)
            self.answers.append(answer)
            if answer.acknowledged:
                if kind == "article":
                    self.articles.append(str(answer.made))
                elif kind == "favorite" and target is not None:
                    favorited.add(target)
            await asyncio.sleep(PAUSE_SECONDS)

    def _target(self, favorited: set[str]) -> str:
        fresh = [slug for slug in self.articles if slug not in favorited]
        return random.choice(fresh or self.articles)

    async def _send(
        self, kind: str, name: str, headers: dict[str, str], target: str | None
    ) -> Answer:
        phase = self.phase
        if kind == "article":
            content = {"title": f"{name} {len(self.answers)}", "description": "d", "body": "b"}
            request = self.client.post("/api/articles", json={"article": content}, headers=headers)
        elif kind == "comment":
            comment = {"comment": {"body": f"by {name}"}}
            path = f"/api/articles/{target}/comments"
            request = self.client.post(path, json=comment, headers=headers)
        else:
            request = self.client.post(f"/api/articles/{target}/favorite", headers=headers)
        try:
            response = await request
        except httpx.HTTPError as exc:
            return Answer(phase, self.phase, kind, name, None, target=target, error=repr(exc))
        body: Any = response.json() if response.content else None
        made: str | int | None = None
        if response.is_success:
            made = {
                "article": lambda: body["article"]["slug"],
                "comment": lambda: body["comment"]["id"],
                "favorite": lambda: body["article"]["slug"],
            }[kind]()
        return Answer(
            phase,
            self.phase,
            kind,
            name,
            response.status_code,
            made,
            target,
            body,
            response.headers.get("retry-after"),
        )


@dataclass(frozen=True)
class Stored:
    articles: set[str]
    comments: set[int]
    favorites: set[tuple[str, str]]


async def stored_by(database_url: str, names: list[str]) -> Stored:
    """What the writers' rows in the database are, read there directly."""
    engine = create_async_engine(database_url)
    params = {"names": names}
    try:
        async with engine.connect() as conn:
            articles = await conn.scalars(
                text(
                    "SELECT a.slug FROM articles a JOIN users u ON u.id = a.author_id"
                    " WHERE u.username = ANY(:names)"
                ),
                params,
            )
            comments = await conn.scalars(
                text(
                    "SELECT c.id FROM comments c JOIN users u ON u.id = c.author_id"
                    " WHERE u.username = ANY(:names)"
                ),
                params,
            )
            favorites = await conn.execute(
                text(
                    "SELECT u.username, a.slug FROM favorites f"
                    " JOIN users u ON u.id = f.user_id JOIN articles a ON a.id = f.article_id"
                    " WHERE u.username = ANY(:names)"
                ),
                params,
            )
            return Stored(set(articles), set(comments), {(u, s) for u, s in favorites})
    finally:
        await engine.dispose()


def workers_that_answered(stack: RunningStack, status: int) -> set[int]:
    return {
        record["pid"]
        for record in app_log(stack)
        if record.get("logger") == "fastboard.access" and record.get("status") == status
    }


async def test_database_outage_under_writes_loses_no_acknowledged_write(
    make_stack: StackFactory,
    stack_database_url: str,
    database_forwarder: tuple[TcpForwarder, str],
) -> None:
    forwarder, through_forwarder = database_forwarder
    stack = make_stack(workers=2, database_url=through_forwarder)
    master = stack.gunicorn.pid
    workers = children(master)
    assert len(workers) == 2
    # Straight to Gunicorn, a connection per request: both workers take writes.
    async with each_request_a_new_connection(stack) as client:
        writers = [await register(client) for _ in range(WRITERS)]
        load = WriteLoad(client, writers)
        running = asyncio.create_task(load.run())
        try:
            await until(lambda: load.count("before") >= BEFORE)
            load.phase = "down"
            forwarder.stop()
            await until(lambda: load.count("down") >= WHILE_DOWN)
            forwarder.start()
            load.phase = "after"
            await until(lambda: load.count("after") >= AFTER)
        finally:
            load.stop()
            await running
        ready = await client.get("/ready")

    answers = load.answers
    by_phase = {
        phase: [answer for answer in answers if phase in (answer.phase, answer.ended)]
        for phase in ("before", "down", "after")
    }
    by_phase["before"] = [a for a in by_phase["before"] if a.ended == "before"]
    by_phase["after"] = [a for a in by_phase["after"] if a.phase == "after"]
    no_answer = [answer for answer in answers if answer.status is None]
    assert no_answer == []
    # Answered before the cut: all stored (a request the cut caught is "down" here).
    assert {a.status for a in by_phase["before"]} <= {200, 201}
    # While down: a 503 in the envelope with Retry-After, or a write that made it first.
    refused = [a for a in by_phase["down"] if not a.acknowledged]
    assert refused
    for answer in refused:
        assert answer.status == 503, answer
        assert set(answer.body["errors"]) == {"database"}, answer
        assert answer.retry_after is not None
    # Back: every write started after the database returned succeeded.
    assert {a.status for a in by_phase["after"]} <= {200, 201}, [
        a for a in by_phase["after"] if not a.acknowledged
    ]
    assert ready.status_code == 200

    stored = await stored_by(stack_database_url, [name for name, _ in writers])
    acknowledged = [answer for answer in answers if answer.acknowledged]
    articles = {a.made for a in acknowledged if a.kind == "article"}
    comments = {a.made for a in acknowledged if a.kind == "comment"}
    favorites = {(a.writer, a.made) for a in acknowledged if a.kind == "favorite"}
    assert articles <= stored.articles
    assert comments <= stored.comments
    assert favorites <= stored.favorites
    # A write may have committed as its connection was cut, answered 503: never more
    # rows than writes that were not acknowledged.
    refused_articles = sum(a.kind == "article" for a in refused)
    refused_comments = sum(a.kind == "comment" for a in refused)
    assert len(stored.articles - articles) <= refused_articles
    assert len(stored.comments - comments) <= refused_comments

    # The same workers served throughout, and both answered the outage.
    assert stack.gunicorn.poll() is None
    assert children(master) == workers
    assert workers_that_answered(stack, 503) == workers
    assert app_errors(stack) == []
    print(  # the figures for the report (pytest -s)
        f"\nwrites: {len(answers)} attempted, {len(acknowledged)} acknowledged;"
        f" while down {len(by_phase['down'])} attempted, {len(refused)} refused (503),"
        f" {len(by_phase['down']) - len(refused)} acknowledged;"
        f" stored but refused: {len(stored.articles - articles)} articles,"
        f" {len(stored.comments - comments)} comments (in doubt, never lost)"
    )
