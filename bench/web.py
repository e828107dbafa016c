"""Time to the first article list of the home page, in Chromium, through NGINX.

``make bench-web`` (``python -m bench.web``): starts the production stack (NGINX → Gunicorn,
2 workers → PostgreSQL, with the Redis read cache when Redis answers) on a database of its
own, ``fastboard_bench_web``, seeds a page of articles through the API, then opens the home
page again and again in headless Chromium and records when the first article preview of the
list is in the document: ``[data-testid="article-list"] [data-testid="article-preview"]``.

Two kinds of visit: *cold*, a fresh browser context (empty cache, as a first visit), and
*warm*, the same context reloading (what ``Cache-Control`` and 304s save). The time is the
page's own clock, ``performance.now()`` from navigation start when a MutationObserver first
sees the selector match, so polling adds nothing. Also recorded: the bytes a cold visit
transfers (response bodies, compressed as sent). ``--url`` measures a server already
running instead (``make stack`` on :8080: seed it first, or it shows an empty list).

Not part of ``make test``; nothing asserts a time. Results: ``var/bench/web.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from bench import database
from dev import stack
from dev.nginx import UNLIMITED
from fastboard.settings import Settings

SELECTOR = '[data-testid="article-list"] [data-testid="article-preview"]'
RESULTS = Path("var/bench/web.json")
SECRET = "bench-web-secret-key-0123456789-abcdefghijklmnopq"  # noqa: S105 - a throwaway stack
DB_NAME = "fastboard_bench_web"
CHROMIUM = "/usr/bin/chromium"
# Runs in the page before its own scripts: note when the list first shows an article.
WATCH = """
((selector) => {
  const seen = () => {
    if (window.__firstArticle === undefined && document.querySelector(selector)) {
      window.__firstArticle = performance.now();
    }
  };
  new MutationObserver(seen).observe(document, { childList: true, subtree: true });
})(SELECTOR);
"""


def say(message: str) -> None:
    print(message, flush=True)


@contextmanager
def own_stack(args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    url = database.app_url(host=args.pg_host, port=args.pg_port, user=args.pg_user, name=DB_NAME)
    asyncio.run(
        database.recreate(host=args.pg_host, port=args.pg_port, user=args.pg_user, name=DB_NAME)
    )
    database.migrate(
        Settings(env="production", database_url=url, secret_key=SECRET, migrate_on_start=False)
    )
    cache = {"redis_url": args.redis_url, "redis_prefix": f"bench-web-{uuid4().hex}"}
    env = stack.settings_env(
        env="production",
        database_url=url,
        secret_key=SECRET,
        migrate_on_start="false",
        log_level="WARNING",
        throttle="false",  # its users sign up from this one address
        **(cache if args.redis_url else {}),
    )
    running = stack.start_stack(
        workdir=workdir, port=stack.free_port(), workers=2, env=env, limits=UNLIMITED
    )
    try:
        yield running.url
    finally:
        running.stop(graceful=True, timeout=30)


def seed(url: str, articles: int) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        name = f"bench{uuid4().hex[:8]}"
        user = {"username": name, "email": f"{name}@example.org", "password": "bench-pass-1"}
        registered = http.post("/api/users", json={"user": user})
        registered.raise_for_status()
        auth = {"Authorization": f"Token {registered.json()['user']['token']}"}
        for number in range(articles):
            article = {
                "title": f"게시판 {number}: a title of a realistic length",
                "description": "A description of a sentence or two, as people write them.",
                "body": "Some **Markdown**, a [link](https://example.org) and a list:\n\n- a\n- b\n"
                * 20,
                "tagList": [f"tag{number % 9}", "bench"],
            }
            created = http.post("/api/articles", json={"article": article}, headers=auth)
            created.raise_for_status()


def recorded(page: Any) -> list[Any]:
    """The page's responses from now on, as they arrive."""
    responses: list[Any] = []

    def keep(response: Any) -> None:
        responses.append(response)

    page.on("response", keep)
    return responses


def measure(url: str, runs: int, selector: str = SELECTOR) -> dict[str, Any]:
    from playwright.sync_api import Page, sync_playwright

    def visit(page: Page, *, reload: bool) -> float:
        if reload:
            page.reload(wait_until="commit")
        else:
            page.goto("/", wait_until="commit")
        page.wait_for_function("() => window.__firstArticle !== undefined", timeout=30_000)
        return float(page.evaluate("() => window.__firstArticle"))

    cold: list[float] = []
    warm: list[float] = []
    transferred: list[int] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        try:
            for _ in range(runs):
                context = browser.new_context(base_url=url)
                context.add_init_script(WATCH.replace("SELECTOR", json.dumps(selector)))
                page = context.new_page()
                responses = recorded(page)
                cold.append(visit(page, reload=False))
                page.wait_for_load_state("networkidle")
                transferred.append(sum(r.request.sizes()["responseBodySize"] for r in responses))
                warm.append(visit(page, reload=True))
                context.close()
        finally:
            browser.close()
    return {"cold_ms": cold, "warm_ms": warm, "cold_bytes": transferred}


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "p90": round(ordered[max(0, round(0.9 * len(ordered)) - 1)], 1),
        "min": round(ordered[0], 1),
        "max": round(ordered[-1], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="measure this running server instead of starting one")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--selector", default=SELECTOR, help="what counts as the list shown")
    parser.add_argument("--articles", type=int, default=40, help="seeded (own stack only)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="'' for none")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    args = parser.parse_args(argv)

    started = time.time()
    with tempfile.TemporaryDirectory(prefix="fastboard-bench-web-") as tmp:
        if args.url:
            results = measure(args.url, args.runs, args.selector)
        else:
            with own_stack(args, Path(tmp)) as url:
                say(f"stack at {url}; seeding {args.articles} articles")
                seed(url, args.articles)
                results = measure(url, args.runs, args.selector)
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "selector": args.selector,
        "runs": args.runs,
        "cold_ms": summary(results["cold_ms"]),
        "warm_ms": summary(results["warm_ms"]),
        "cold_bytes": summary([float(b) for b in results["cold_bytes"]]),
        "samples": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    say(f"time to first article, cold visit: {report['cold_ms']} ms")
    say(f"time to first article, warm visit: {report['warm_ms']} ms")
    say(f"bytes transferred, cold visit:     {report['cold_bytes']}")
    say(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
