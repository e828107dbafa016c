"""The load scenarios, built from the seeded data set, and what the read cache does in each.

Each request names its *kind* (``articles``, ``favorite``, ``login``…): what it asks the
API for, and so which captured body the baselines answer it with. The write scenarios
only ever touch the data set's *free* favorite pairs (not favorited when seeded) and add
comments with a marker body on a few articles without seeded comments, so ``bench.restore``
can undo them exactly: unfavorite every free pair used, delete every marked comment.

Requests are laid out for wrk's threads (``bench.wrk``: thread t sends requests t, t+T, …):
a favorite and its unfavorite always fall to the same thread, far apart in its cycle, and
no two threads share a pair.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import cycle
from urllib.parse import urlencode

from bench.seed import TAGS, Dataset
from bench.wrk import Request, Scenario

LIMIT = 20
FEED_TOKENS = 50  # feeds of the 50 users who follow the most people, rotated
ARTICLE_SLUGS = 200  # 200 articles, rotated (and 200 of those with comments)
WRITE_SLUGS = 100  # articles without seeded comments, where comment_create writes
PAGES = 5  # the mix reads the first five pages of lists
TAG_FILTERS = 5  # and filters by the five most used tags of the seed's skewed vocabulary
FEED_PATH = f"/api/articles/feed?limit={LIMIT}"
FAVORITE_PAIRS = 100  # per wrk thread, in the favorite scenario
MIX_BLOCKS = 10  # per wrk thread: 10 shuffled blocks of 100 requests
LOAD_COMMENT = "Load test comment, removed after the run."
# What the search scenario asks, rotated: words of the seed's vocabulary (each in most
# articles: the broadest ranking there is), two words, a phrase, OR, an exclusion, a
# word inside longer ones, and a word found nowhere (the indexes alone answer it).
SEARCHES = (
    "worker",
    "graceful reload",
    '"commit rollback"',
    "shard OR replica",
    "latency -proxy",
    "requ",
    "zeppelin",
    "pool",
)

# name -> label, in the order the runner measures them
LABELS = {
    "articles": "GET /api/articles (anonymous)",
    "articles_signed_in": "GET /api/articles (token)",
    "feed": "GET /api/articles/feed (token)",
    "article": "GET /api/articles/{slug}",
    "comments": "GET /api/articles/{slug}/comments",
    "tags": "GET /api/tags",
    "search": "GET /api/search?q=… (anonymous)",
    "favorite": "POST+DELETE …/favorite (token)",
    "comment_create": "POST …/comments (token)",
    "mixed": "mixed (issue 12 mix)",
    "health": "GET /health",
    # Last: the logins queued when the flood stops keep the CPUs busy for a while.
    "login_flood": "anonymous list, login flood",
}
NAMES = tuple(LABELS)
# The read cache in each scenario, unless BENCH_CACHE says otherwise: off, as issue 12
# states its targets, except the anonymous list (the cached page of the first targets)
# and the mix, whose target is the cache's gain.
DEFAULT_CACHE: dict[str, tuple[str, ...]] = {"articles": ("off", "on"), "mixed": ("on", "off")}
FASTBOARD_ONLY = frozenset({"login_flood"})  # the baselines answer logins instantly
WRITES = frozenset({"favorite", "comment_create", "mixed"})
# Share of each kind in 100 requests of the mix (issue 12).
MIX = {
    "articles": 50,
    "article": 15,
    "tags": 5,
    "comments": 5,
    "articles_signed_in": 10,
    "feed": 5,
    "favorite": 10,  # half favorites, half unfavorites
}


def cache_modes(name: str, override: tuple[str, ...] | None) -> tuple[str, ...]:
    return override or DEFAULT_CACHE.get(name, ("off",))


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def list_path(page: int = 0, tag: str | None = None) -> str:
    path = f"/api/articles?limit={LIMIT}"
    if page:
        path += f"&offset={page * LIMIT}"
    return path + (f"&tag={tag}" if tag else "")


def search_path(q: str) -> str:
    return f"/api/search?{urlencode({'q': q, 'limit': LIMIT})}"


def _interleave(per_thread: list[list[Request]]) -> tuple[Request, ...]:
    """One list in which thread t's requests sit at t, t+T, t+2T, … (equal lengths)."""
    return tuple(request for group in zip(*per_thread, strict=True) for request in group)


def _rotation(items: list[str], count: int) -> list[str]:
    step = max(1, len(items) // count)
    return items[::step][:count]


@dataclass(frozen=True, slots=True)
class Workload:
    """Every scenario over one data set, for ``threads`` wrk threads."""

    dataset: Dataset
    threads: int

    # -- what the scenarios draw from -----------------------------------------------------

    @property
    def tokens(self) -> dict[str, str]:
        return {user.username: user.token for user in self.dataset.users}

    @property
    def slugs(self) -> list[str]:
        return _rotation(self.dataset.slugs, ARTICLE_SLUGS)

    @property
    def commented(self) -> list[str]:
        return _rotation(self.dataset.commented, ARTICLE_SLUGS)

    @property
    def write_slugs(self) -> list[str]:
        commented = set(self.dataset.commented)
        return [slug for slug in self.dataset.slugs if slug not in commented][-WRITE_SLUGS:]

    def pairs(self, thread: int, count: int) -> list[tuple[str, str]]:
        """Thread ``thread``'s own free (username, slug) pairs."""
        free = self.dataset.free_favorites
        return [free[(thread * count + k) % len(free)] for k in range(count)]

    @property
    def pairs_in_use(self) -> list[tuple[str, str]]:
        """Every free pair a write scenario may favorite, for the restore."""
        free = self.dataset.free_favorites
        return free[: min(len(free), self.threads * FAVORITE_PAIRS)]

    # -- requests --------------------------------------------------------------------------

    def signed_in(self, index: int, page: int = 0) -> Request:
        user = self.dataset.users[index % len(self.dataset.users)]
        return Request("articles_signed_in", "GET", list_path(page), user.token)

    def favorite(self, pair: tuple[str, str], *, undo: bool = False) -> Request:
        username, slug = pair
        kind, method = ("unfavorite", "DELETE") if undo else ("favorite", "POST")
        return Request(kind, method, f"/api/articles/{slug}/favorite", self.tokens[username])

    def comment(self, index: int) -> Request:
        user = self.dataset.users[index % len(self.dataset.users)]
        slug = self.write_slugs[index % len(self.write_slugs)]
        body = _json({"comment": {"body": LOAD_COMMENT}})
        return Request("comment_create", "POST", f"/api/articles/{slug}/comments", user.token, body)

    def login(self, index: int) -> Request:
        user = self.dataset.users[index % len(self.dataset.users)]
        body = _json({"user": {"email": user.email, "password": self.dataset.password}})
        return Request("login", "POST", "/api/users/login", None, body)

    def examples(self) -> list[Request]:
        """One request of every kind, in an order that leaves the data as it was but for
        one marked comment: what is captured for the baselines and checked before loads."""
        pair = self.pairs(0, 1)[0]
        return [
            Request("articles", "GET", list_path()),
            self.signed_in(0),
            Request("feed", "GET", FEED_PATH, self._feed()[0]),
            Request("article", "GET", f"/api/articles/{self.slugs[0]}"),
            Request("comments", "GET", f"/api/articles/{self.commented[0]}/comments"),
            Request("tags", "GET", "/api/tags"),
            Request("search", "GET", search_path(SEARCHES[0])),
            self.favorite(pair),
            self.favorite(pair, undo=True),
            self.comment(0),
            self.login(0),
            Request("health", "GET", "/health"),
        ]

    def _feed(self) -> list[str]:
        return self.dataset.feed_tokens(FEED_TOKENS)

    # -- scenarios -------------------------------------------------------------------------

    def all(self) -> list[Scenario]:
        users = len(self.dataset.users)
        return [
            self._scenario("articles", [Request("articles", "GET", list_path())]),
            self._scenario("articles_signed_in", [self.signed_in(i) for i in range(users)]),
            self._scenario("feed", [Request("feed", "GET", FEED_PATH, t) for t in self._feed()]),
            self._scenario(
                "article", [Request("article", "GET", f"/api/articles/{s}") for s in self.slugs]
            ),
            self._scenario(
                "comments",
                [Request("comments", "GET", f"/api/articles/{s}/comments") for s in self.commented],
            ),
            self._scenario("tags", [Request("tags", "GET", "/api/tags")]),
            self._scenario("search", [Request("search", "GET", search_path(q)) for q in SEARCHES]),
            self._scenario("favorite", self._favorites(), count_statuses=True),
            self._scenario(
                "comment_create",
                [self.comment(i) for i in range(max(users, WRITE_SLUGS))],
                count_statuses=True,
            ),
            self._scenario("mixed", self._mix(), count_statuses=True),
            self._scenario("health", [Request("health", "GET", "/health")]),
            # The list alone and under a login flood; the logins are ``logins()``.
            self._scenario("login_flood", [Request("articles", "GET", list_path())], True),
        ]

    def logins(self) -> Scenario:
        requests = tuple(self.login(i) for i in range(len(self.dataset.users)))
        return Scenario("logins", "POST /api/users/login", requests, count_statuses=True)

    def _scenario(
        self, name: str, requests: list[Request] | tuple[Request, ...], count_statuses: bool = False
    ) -> Scenario:
        return Scenario(name, LABELS[name], tuple(requests), count_statuses)

    def _favorites(self) -> tuple[Request, ...]:
        """Per thread: favorite each of its pairs, then unfavorite each: a pair's two
        requests are FAVORITE_PAIRS requests apart, so the favorite has been answered."""
        per_thread = []
        for thread in range(self.threads):
            pairs = self.pairs(thread, FAVORITE_PAIRS)
            per_thread.append(
                [self.favorite(p) for p in pairs] + [self.favorite(p, undo=True) for p in pairs]
            )
        return _interleave(per_thread)

    def _mix(self) -> tuple[Request, ...]:
        return _interleave([self._mix_for(thread) for thread in range(self.threads)])

    def _mix_for(self, thread: int) -> list[Request]:
        rng = random.Random(1000 + thread)
        slots: list[str] = []
        for _ in range(MIX_BLOCKS):
            block = [kind for kind, share in MIX.items() for _ in range(share)]
            rng.shuffle(block)
            slots += block
        writes = slots.count("favorite")
        pairs = self.pairs(thread, writes // 2)
        draw = self._draws(thread)
        out: list[Request] = []
        done = 0
        for kind in slots:
            if kind == "favorite":
                # The first half favorites the pairs, the second half unfavorites them.
                pair = pairs[done % len(pairs)]
                out.append(self.favorite(pair, undo=done >= len(pairs)))
                done += 1
            else:
                out.append(next(draw[kind]))
        return out

    def _draws(self, thread: int) -> dict[str, Iterator[Request]]:
        """Endless supplies of each read kind of the mix (threads start at different
        places, so they do not read in lockstep)."""
        tags = TAGS[:TAG_FILTERS]

        def lists() -> Iterator[Request]:
            number = 0
            while True:
                page = (number // 5) % PAGES
                # one list page in five is filtered by a tag
                tag = tags[(number // 25) % len(tags)] if number % 5 == 4 else None
                yield Request("articles", "GET", list_path(page, tag))
                number += 1

        def signed_in() -> Iterator[Request]:
            number = thread * 37
            while True:
                yield self.signed_in(number, page=number % PAGES)
                number += 1

        def shifted(items: list[str]) -> list[str]:
            start = (thread * len(items)) // max(1, self.threads)
            return items[start:] + items[:start]

        return {
            "articles": lists(),
            "articles_signed_in": signed_in(),
            "article": cycle(
                [Request("article", "GET", f"/api/articles/{s}") for s in shifted(self.slugs)]
            ),
            "comments": cycle(
                [
                    Request("comments", "GET", f"/api/articles/{s}/comments")
                    for s in shifted(self.commented)
                ]
            ),
            "tags": cycle([Request("tags", "GET", "/api/tags")]),
            "feed": cycle([Request("feed", "GET", FEED_PATH, t) for t in shifted(self._feed())]),
        }
