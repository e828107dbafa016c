"""A history as CSV, written out as it is read.

The body is read in keyset chunks of ``CHUNK`` versions through a session of the export's
own (the request's ends before its body is sent) and written a chunk at a time: a history
of any length costs the memory of one chunk. UTF-8 with a byte order mark, so spreadsheet
programs read Korean and other non-ASCII text right; every cell a spreadsheet could take
for a formula starts with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fastboard.fields import iso_millis
from fastboard.history import repository
from fastboard.history.repository import NEWEST, VersionRow
from fastboard.history.service import with_diffs

# Versions per chunk: bodies are at most 100,000 characters, and each is held twice at
# most (as a version and as the one after it is compared with).
CHUNK = 100
BOM = "\ufeff".encode()
# What spreadsheet programs read as the start of a formula (or, CR and tab, as a cell
# separator that can smuggle one in).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

ARTICLE_COLUMNS = (
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
)
COMMENT_COLUMNS = ("version", "createdAt", "editor", "body", "diff")


def neutralised(cell: str) -> str:
    """``cell`` as text a spreadsheet will not evaluate."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _cells(row: VersionRow, diff: str) -> list[str]:
    editor = row.editor.username if row.editor is not None else ""
    head = [str(row.number), iso_millis(row.created_at), editor]
    article = row.article
    if article is None:
        return [*head, row.body, diff]
    tags = " ".join(article.tags)
    return [
        *head,
        article.slug,
        article.title,
        article.description,
        tags,
        article.board,
        row.body,
        diff,
    ]


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([[neutralised(cell) for cell in row] for row in rows])
    return out.getvalue().encode()


def filename(slug: str, comment_id: int | None) -> str:
    suffix = "" if comment_id is None else f"-comment-{comment_id}"
    return f"history-{slug}{suffix}.csv"


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII name for old clients and the real one (RFC 5987)."""
    fallback = "".join(
        char if char.isascii() and char.isprintable() and char not in '"\\;' else "_"
        for char in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def csv_history(
    sessions: async_sessionmaker[AsyncSession], article_id: int, comment_id: int | None
) -> AsyncIterator[bytes]:
    """The whole history, newest first: a header row, then one row per version."""
    columns = ARTICLE_COLUMNS if comment_id is None else COMMENT_COLUMNS
    yield BOM + _csv([columns])
    start = NEWEST
    async with sessions() as session:
        while True:
            rows = await repository.chunk(session, article_id, comment_id, start=start, size=CHUNK)
            if not rows:
                return
            shown = await with_diffs(rows, CHUNK)
            yield _csv([_cells(row, diff) for row, diff in shown])
            if len(rows) <= CHUNK:
                return
            start = rows[-1].number
