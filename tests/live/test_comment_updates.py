"""comment.updated: an edited comment reaches its article's topic, as the API lists it."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect

from tests.conftest import auth
from tests.live.conftest import receive, subscribe
from tests.live.test_live import http_client, post_article, register, ws_url

pytestmark = pytest.mark.anyio


async def test_an_edited_comment_reaches_the_articles_topic(live_server: str) -> None:
    async with http_client(live_server) as http, connect(ws_url(live_server)) as reader:
        alice, bob = await register(http, "alice"), await register(http, "bob")
        slug = (await post_article(http, alice["token"], "Talk"))["slug"]
        path = f"/api/articles/{slug}/comments"
        posted = await http.post(
            path, json={"comment": {"body": "Frist"}}, headers=auth(bob["token"])
        )
        assert posted.status_code == 200, posted.text
        comment_id = posted.json()["comment"]["id"]
        # Bob votes on his own comment: the event still shows it as anyone sees it.
        voted = await http.put(
            f"{path}/{comment_id}/vote", json={"vote": {"value": 1}}, headers=auth(bob["token"])
        )
        assert voted.status_code == 200, voted.text
        await subscribe(reader, f"article:{slug}")

        edited = await http.put(
            f"{path}/{comment_id}", json={"comment": {"body": "First"}}, headers=auth(bob["token"])
        )
        assert edited.status_code == 200, edited.text
        event = await receive(reader)
        listed = (await http.get(path)).json()["comments"]

    assert edited.json()["comment"]["myVote"] == 1
    assert event["topic"] == f"article:{slug}"
    assert event["event"] == "comment.updated"
    assert event["data"] == {**listed[0], "article": slug}
    assert event["data"]["body"] == "First"
    assert (event["data"]["score"], event["data"]["myVote"]) == (1, None)
