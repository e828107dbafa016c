"""The Redis broker while Redis is unreachable: publishing neither fails nor waits, and the
events it had to drop leave a hole that readers notice and replays answer with a resync.

Redis sits behind a TCP forwarder the test cuts (the real server is never touched).
"""

from __future__ import annotations

from uuid import uuid4

import pytest
from redis.asyncio import Redis

from fastboard.live.broker import Event, RedisBroker
from fastboard.live.hub import CONTROL
from tests.stack.forwarder import TcpForwarder
from tests.stack.waiting import until

pytestmark = pytest.mark.anyio

DROPPED = 50


async def test_events_dropped_while_redis_is_down_leave_a_hole_that_asks_for_a_resync(
    redis_forwarder: tuple[TcpForwarder, str], redis_url: str
) -> None:
    forwarder, through = redis_forwarder
    prefix = f"live-{uuid4().hex}"
    broker = RedisBroker(through, prefix, 100, CONTROL)
    received: list[Event] = []
    downs: list[None] = []
    holes: list[tuple[int, int]] = []
    await broker.start(
        received.append, lambda: downs.append(None), lambda *hole: holes.append(hole)
    )
    try:
        await broker.publish([("articles", "test.event", {"n": "before"})])
        await until(lambda: len(received) == 1)
        before = received[0].id

        forwarder.stop()
        # None of these raises: the first fails, the others are dropped without trying.
        for n in range(DROPPED):
            await broker.publish([("articles", "test.event", {"n": n})])
        await until(lambda: bool(downs))
        assert not broker.available

        forwarder.start()
        # The background retry records the hole; the reader, back too, finds it.
        await until(lambda: bool(holes))
        assert broker.available
        await broker.publish([("articles", "test.event", {"n": "after"})])
        await until(lambda: received[-1].data == {"n": "after"})
        gap = received[1]
        since_before = await broker.replay(before)
        since_gap = await broker.replay(gap.id)
    finally:
        await broker.close()
        async with Redis.from_url(redis_url) as direct:
            await direct.delete(f"{prefix}:live")

    # One id skipped for everything dropped; the event after it carries no data of its own.
    assert holes == [(before, before + 2)]
    assert (gap.id, gap.topic, gap.data) == (before + 2, CONTROL, None)
    assert [event.data for event in received] == [{"n": "before"}, None, {"n": "after"}]
    assert since_before is None  # a client that saw "before" must resync
    assert [event.id for event in since_gap or []] == [before + 3]
