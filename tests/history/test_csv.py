"""…/history.csv (and ``Accept: text/csv``): the versions as CSV, streamed, read back with
Python's csv module and compared with the JSON history."""

from __future__ import annotations

import asyncio
import csv
import io
import math
from datetime import timedelta
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select

from fastboard.db import utcnow
from fastboard.history.export import CHUNK
from fastboard.history.models import ArticleVersion
from fastboard.users.models import User
from tests.conftest import auth, create_article
from tests.history.conftest import Account, add_comment, edit_article, edit_comment, read_history

pytestmark = pytest.mark.anyio

BOM = b"\xef\xbb\xbf"
ARTICLE_HEADER = [
    "version",
    "createdAt",
    "editor",
    "slug",
    "title",
    "description",
    "tagList",
    "board",
    "body",
    "diff",
]


def neutralised(cell: str) -> str:
    """What a cell must read as: no spreadsheet formula (OWASP's list of first characters)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def parsed(body: bytes) -> list[list[str]]:
    assert body.startswith(BOM)
    return list(csv.reader(io.StringIO(body[len(BOM) :].decode("utf-8"), newline="")))


def article_rows(page: dict[str, Any]) -> list[list[str]]:
    """The JSON history as the CSV must hold it."""
    return [
        [
            neutralised(cell)
            for cell in (
                str(version["version"]),
                version["createdAt"],
                version["editor"]["username"],
                version["slug"],
                version["title"],
                version["description"],
                " ".join(version["tagList"]),
                version["board"],
                version["body"],
                version["diff"],
            )
        ]
        for version in page["versions"]
    ]


async def test_the_csv_holds_every_version_as_the_json_history_does(
    client: httpx.AsyncClient, alice: Account
) -> None:
    token = alice["token"]
    slug = (
        await create_article(
            client,
            token,
            title="=1+1 서버 이야기",
            description='+cmd|" /C calc"!A0',
            body='@SUM(A1:A9)\n첫 줄, "인용"',
            tagList=["=x", "@y", "한국어"],
        )
    )["slug"]
    await edit_article(client, token, slug, body="-2+3\nsecond line")
    await edit_article(client, token, slug, body="\tTabbed\r\nline")
    await edit_article(client, token, slug, body="\rCarriage", description="-minus")
    slug = (await edit_article(client, token, slug, title="Plain title"))["slug"]

    response = await client.get(f"/api/articles/{slug}/history.csv")
    page = await read_history(client, f"/api/articles/{slug}/history", limit=100)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    header, *rows = parsed(response.content)
    assert header == ARTICLE_HEADER
    assert rows == article_rows(page)
    assert len(rows) == page["versionsCount"] == 5
    # The dangerous cells are there, neutralised; the harmless ones untouched.
    oldest = dict(zip(header, rows[-1], strict=True))
    assert oldest["title"] == "'=1+1 서버 이야기"
    assert oldest["description"] == '\'+cmd|" /C calc"!A0'
    assert oldest["body"] == '\'@SUM(A1:A9)\n첫 줄, "인용"'
    assert oldest["tagList"] == "'=x @y 한국어"
    assert oldest["diff"].startswith("'--- (nothing)")
    assert [row[8][:2] for row in rows[:4]] == ["'\r", "'\r", "'\t", "'-"]
    assert rows[0][4] == "Plain title"


async def test_accept_text_csv_answers_the_same_csv(
    client: httpx.AsyncClient, alice: Account
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]
    await edit_article(client, alice["token"], slug, body="Edited")
    path = f"/api/articles/{slug}/history"
    csv_answer = await client.get(f"{path}.csv")

    for accept in ("text/csv", "text/csv, */*;q=0.1", "application/json;q=0.5, text/csv"):
        response = await client.get(path, headers={"Accept": accept})
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == "text/csv; charset=utf-8", accept
        assert response.content == csv_answer.content, accept
    for accept in ("application/json", "*/*", "text/csv;q=0.5, application/json", "text/html"):
        response = await client.get(path, headers={"Accept": accept})
        assert response.headers["content-type"] == "application/json", accept
        assert response.json()["versionsCount"] == 2, accept


async def test_the_download_is_an_attachment_named_after_the_slug(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    korean = (await create_article(client, alice["token"], title="안녕하세요 세계"))["slug"]
    plain = (await create_article(client, alice["token"], title="Plain"))["slug"]
    comment = await add_comment(client, bob["token"], korean)

    named = {}
    for path in (
        f"/api/articles/{korean}/history.csv",
        f"/api/articles/{plain}/history.csv",
        f"/api/articles/{korean}/comments/{comment['id']}/history.csv",
    ):
        response = await client.get(path)
        assert response.status_code == 200
        disposition = response.headers["content-disposition"]
        kind, fallback, extended = (part.strip() for part in disposition.split(";"))
        assert kind == "attachment"
        assert fallback.startswith('filename="')
        assert fallback.endswith('.csv"')
        assert fallback.isascii()
        assert extended.startswith("filename*=UTF-8''")
        named[path] = unquote(extended.removeprefix("filename*=UTF-8''"))

    assert list(named.values()) == [
        f"history-{korean}.csv",
        "history-plain.csv",
        f"history-{korean}-comment-{comment['id']}.csv",
    ]
    response = await client.get(f"/api/articles/{plain}/history.csv")
    assert 'filename="history-plain.csv"' in response.headers["content-disposition"]
    assert (
        quote(korean)
        in (await client.get(f"/api/articles/{korean}/history.csv")).headers["content-disposition"]
    )


async def test_a_comments_csv_holds_its_versions(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    slug = (await create_article(client, alice["token"]))["slug"]
    comment = await add_comment(client, bob["token"], slug, '=HYPERLINK("http://x")')
    response = await edit_comment(client, bob["token"], slug, comment["id"], "고쳤어요")
    assert response.status_code == 200
    path = f"/api/articles/{slug}/comments/{comment['id']}/history"

    header, *rows = parsed((await client.get(f"{path}.csv")).content)
    page = await read_history(client, path)
    by_accept = await client.get(path, headers={"Accept": "text/csv"})

    assert header == ["version", "createdAt", "editor", "body", "diff"]
    assert rows == [
        [
            neutralised(cell)
            for cell in (
                str(v["version"]),
                v["createdAt"],
                v["editor"]["username"],
                v["body"],
                v["diff"],
            )
        ]
        for v in page["versions"]
    ]
    assert rows[1][3] == '\'=HYPERLINK("http://x")'
    assert rows[0][3] == "고쳤어요"
    assert parsed(by_accept.content) == [header, *rows]


async def test_a_deleted_articles_csv_is_for_moderators_only(
    client: httpx.AsyncClient, alice: Account, moderator: Account
) -> None:
    slug = (await create_article(client, alice["token"], body="kept"))["slug"]
    removed = await client.delete(f"/api/articles/{slug}", headers=auth(alice["token"]))
    assert removed.status_code == 204

    refused = await client.get(f"/api/articles/{slug}/history.csv", headers=auth(alice["token"]))
    allowed = await client.get(
        f"/api/articles/{slug}/history.csv", headers=auth(moderator["token"])
    )

    assert refused.status_code == 404
    assert refused.json() == {"errors": {"article": ["article not found"]}}
    assert parsed(allowed.content)[1][8] == "kept"


async def _streamed(app: FastAPI, path: str) -> tuple[int, list[bytes]]:
    """GET ``path`` straight through ASGI: the status and every body message's bytes, as
    the server sends them (httpx's ASGI transport joins them)."""
    messages: list[dict[str, Any]] = []
    requested = False
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # The client stays until the answer is complete (a server listens for it leaving).
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    try:
        await app(scope, receive, send)
    finally:
        finished.set()
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    chunks = [m["body"] for m in messages if m["type"] == "http.response.body" and m["body"]]
    return status, chunks


VERSIONS = 10_000


async def test_a_long_history_streams_in_bounded_chunks(
    app: FastAPI, client: httpx.AsyncClient, count_queries: Any, alice: Account
) -> None:
    """10,000 versions: read in keyset chunks of CHUNK, each written out before the next
    is read; no part of the answer holds more than one chunk."""
    slug = (await create_article(client, alice["token"], title="Long", body="v1"))["slug"]
    async with app.state.database.writer() as session:
        article_id = await session.scalar(
            select(ArticleVersion.article_id).where(ArticleVersion.slug == slug)
        )
        editor = await session.scalar(select(User.id).where(User.username == "alice"))
        start = utcnow()
        await session.execute(
            insert(ArticleVersion),
            [
                {
                    "article_id": article_id,
                    "number": number,
                    "slug": slug,
                    "title": "Long",
                    "description": "A description",
                    "body": f"v{number}\nsame line",
                    "tags": "",
                    "board": "general",
                    "editor_id": editor,
                    "created_at": start + timedelta(seconds=number),
                }
                for number in range(2, VERSIONS + 1)
            ],
        )
        await session.commit()

    with count_queries() as counter:
        status, chunks = await _streamed(app, f"/api/articles/{slug}/history.csv")

    assert status == 200
    chunk_reads = math.ceil(VERSIONS / CHUNK)
    assert len(chunks) == 1 + chunk_reads  # the header, then one chunk per read
    rows = [parsed(chunks[0])]
    for chunk in chunks[1:]:
        read = list(csv.reader(io.StringIO(chunk.decode("utf-8"), newline="")))
        assert 0 < len(read) <= CHUNK
        rows.append(read)
    versions = [int(row[0]) for part in rows[1:] for row in part]
    assert versions == list(range(VERSIONS, 0, -1))
    newest_diff = (
        f"'--- version {VERSIONS - 1}\n+++ version {VERSIONS}\n@@ -1,2 +1,2 @@\n"
        f"-v{VERSIONS - 1}\n+v{VERSIONS}\n same line"
    )
    assert rows[1][0][9] == newest_diff
    # The article's lookup, then one keyset read per chunk, each LIMITed to a chunk.
    reads = [sql for sql in counter.statements if "article_versions" in sql]
    assert len(reads) == chunk_reads
    assert all(f"LIMIT {CHUNK + 1}" in sql for sql in reads)
