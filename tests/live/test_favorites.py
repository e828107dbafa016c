"""Favorite counts on ``article:<slug>``: coalesced, the last event carrying the final count."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect

from tests.conftest import _empty_all_tables, auth
from tests.live.conftest import LiveApps, quiet, receive, serving, subscribe
from tests.live.test_live import http_client, post_article, register, ws_url

pytestmark = pytest.mark.anyio

# Long enough that ten favorites over HTTP fall inside one window even on a busy machine.
WINDOW_SECONDS = 4.0


async def test_a_burst_of_favorites_is_at_most_two_events_the_last_with_the_final_count(
    live_apps: LiveApps,
) -> None:
    app = live_apps(live_coalesce_seconds=WINDOW_SECONDS)
    await _empty_all_tables(app)
    await app.state.database.dispose()
    with serving(app) as address:
        async with http_client(address) as http, connect(ws_url(address)) as ws:
            author = await register(http, "author")
            fans = [await register(http, f"fan{n}") for n in range(10)]
            slug = (await post_article(http, author["token"], "Likeable"))["slug"]
            await subscribe(ws, f"article:{slug}")
            for fan in fans:
                path = f"/api/articles/{slug}/favorite"
                response = await http.post(path, headers=auth(fan["token"]))
                assert response.status_code == 200, response.text
            events = [await receive(ws)]
            while events[-1]["data"]["favoritesCount"] != 10:
                events.append(await receive(ws))
            # An unfavorite after the window: its own event, with the count going down.
            unfavorited = await http.delete(
                f"/api/articles/{slug}/favorite", headers=auth(fans[0]["token"])
            )
            after = await receive(ws)
            await quiet(ws)

    assert unfavorited.status_code == 200
    assert 1 <= len(events) <= 2
    assert all(event["event"] == "article.favorites" for event in events)
    assert all(event["topic"] == f"article:{slug}" for event in events)
    assert events[-1]["data"] == {"slug": slug, "favoritesCount": 10}
    assert (after["event"], after["data"]) == (
        "article.favorites",
        {"slug": slug, "favoritesCount": 9},
    )


async def test_favoriting_a_missing_article_publishes_nothing(live_server: str) -> None:
    async with http_client(live_server) as http, connect(ws_url(live_server)) as ws:
        fan = await register(http, "fan")
        await subscribe(ws, "article:missing", "articles")
        response = await http.post("/api/articles/missing/favorite", headers=auth(fan["token"]))
        created = await post_article(http, fan["token"], "After")
        event = await receive(ws)

    assert response.status_code == 404
    # The first event to arrive is the article's: the failed favorite sent none.
    assert (event["event"], event["data"]["slug"]) == ("article.created", created["slug"])
