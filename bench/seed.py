"""Seed a running fastboard through its HTTP API: users, articles with tags, follows,
favorites and comments.

Everything goes through the public API, as real clients would create it, so the data has
the shape the application itself produces (slugs, counters, tag links). Registration hashes
an Argon2 password (~50-100 ms of CPU each): requests run concurrently, bounded, against a
multi-worker server.

Standalone: ``python -m bench.seed --url http://127.0.0.1:8000 --out var/bench/dataset.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

TAGS = [
    "python", "fastapi", "asyncio", "postgresql", "nginx", "gunicorn", "uvicorn", "docker",
    "linux", "testing", "security", "performance", "sqlalchemy", "pydantic", "http", "web",
    "devops", "design", "career", "rust", "go", "javascript", "typescript", "css", "databases",
    "caching", "redis", "observability", "logging", "metrics", "kubernetes", "ci", "git",
    "open-source", "tutorial", "news", "opinion", "release", "howto", "beginners",
]  # fmt: skip
WORDS = [
    "request", "worker", "socket", "queue", "latency", "buffer", "upstream", "proxy", "header",
    "route", "schema", "model", "query", "index", "cursor", "pool", "lock", "thread", "loop",
    "event", "stream", "token", "session", "commit", "rollback", "cache", "replica", "shard",
    "deploy", "release", "config", "secret", "process", "signal", "reload", "graceful",
]  # fmt: skip


@dataclass(frozen=True)
class SeedPlan:
    users: int = 300
    articles: int = 3000
    follows_per_user: tuple[int, int] = (5, 25)
    favorites: int = 6000
    comments: int = 3000  # on every COMMENTED_EVERY-th article, at least one each
    concurrency: int = 16
    random_seed: int = 42


# Every seeded user's password: the login scenario signs them in with it.
PASSWORD = "bench-pass-1"  # noqa: S105 - throwaway benchmark accounts
COMMENTED_EVERY = 5
# (user, article) pairs left unfavorited, for the write scenarios to favorite and undo.
FREE_FAVORITES = 1000


@dataclass(slots=True)
class SeededUser:
    username: str
    email: str
    token: str
    follows: int = 0


@dataclass(slots=True)
class Dataset:
    """What the load scenarios need from the seed: tokens and slugs."""

    users: list[SeededUser] = field(default_factory=list)
    slugs: list[str] = field(default_factory=list)
    password: str = PASSWORD
    follows: int = 0
    favorites: int = 0
    # (username, slug) pairs that are not favorited: a write scenario may favorite them,
    # and unfavoriting every one of them afterwards restores the data set exactly.
    free_favorites: list[tuple[str, str]] = field(default_factory=list)
    commented: list[str] = field(default_factory=list)  # slugs of articles with comments
    comments: int = 0
    seconds: float = 0.0

    def feed_tokens(self, count: int) -> list[str]:
        """Tokens of the users who follow the most people: their feeds are never empty."""
        ranked = sorted(self.users, key=lambda user: user.follows, reverse=True)
        return [user.token for user in ranked[:count]]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Dataset:
        fields = dict(data)
        users = [SeededUser(**user) for user in fields.pop("users")]
        free = [(user, slug) for user, slug in fields.pop("free_favorites")]
        return cls(users=users, free_favorites=free, **fields)


class SeedError(RuntimeError):
    pass


async def bounded(jobs: Sequence[Callable[[], Awaitable[T]]], concurrency: int) -> list[T]:
    """Run ``jobs`` with at most ``concurrency`` in flight; the first failure cancels the rest."""
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(job)) for job in jobs]
    return [task.result() for task in tasks]


async def _post(
    client: httpx.AsyncClient, path: str, body: Any = None, token: str | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Token {token}"} if token else {}
    response = await client.post(path, json=body, headers=headers)
    if response.status_code not in (200, 201):
        raise SeedError(f"POST {path} answered {response.status_code}: {response.text[:300]}")
    answer: dict[str, Any] = response.json()
    return answer


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize()


def _article(rng: random.Random, number: int) -> dict[str, Any]:
    paragraphs = ["\n".join(_sentence(rng, 8, 20) + "." for _ in range(4)) for _ in range(3)]
    popular = rng.choices(TAGS, weights=[1 / (rank + 1) for rank in range(len(TAGS))], k=4)
    return {
        "title": f"{_sentence(rng, 3, 7)} {number}",
        "description": _sentence(rng, 6, 14) + ".",
        "body": "\n\n".join(paragraphs),
        "tagList": list(dict.fromkeys(popular[: rng.randint(1, 4)])),
    }


async def _register(client: httpx.AsyncClient, plan: SeedPlan) -> list[SeededUser]:
    def job(number: int) -> Callable[[], Awaitable[SeededUser]]:
        async def register() -> SeededUser:
            name = f"bench{number:04d}"
            email = f"{name}@bench.example"
            user = {"username": name, "email": email, "password": PASSWORD}
            answer = await _post(client, "/api/users", {"user": user})
            return SeededUser(username=name, email=email, token=answer["user"]["token"])

        return register

    return await bounded([job(n) for n in range(plan.users)], plan.concurrency)


async def _publish(
    client: httpx.AsyncClient, plan: SeedPlan, users: list[SeededUser], rng: random.Random
) -> list[str]:
    # A few prolific authors and a long tail, as on a real board.
    weights = [1 / (rank + 1) ** 0.7 for rank in range(len(users))]
    authors = rng.choices(users, weights=weights, k=plan.articles)

    def job(number: int, author: SeededUser) -> Callable[[], Awaitable[str]]:
        body = {"article": _article(rng, number)}

        async def publish() -> str:
            answer = await _post(client, "/api/articles", body, author.token)
            slug: str = answer["article"]["slug"]
            return slug

        return publish

    jobs = [job(number, author) for number, author in enumerate(authors)]
    return await bounded(jobs, plan.concurrency)


async def _follow(
    client: httpx.AsyncClient, plan: SeedPlan, users: list[SeededUser], rng: random.Random
) -> int:
    jobs: list[Callable[[], Awaitable[dict[str, Any]]]] = []
    for user in users:
        others = [other for other in users if other is not user]
        targets = rng.sample(others, k=min(len(others), rng.randint(*plan.follows_per_user)))
        user.follows = len(targets)
        for target in targets:
            path = f"/api/profiles/{target.username}/follow"
            jobs.append(partial(_post, client, path, token=user.token))
    await bounded(jobs, plan.concurrency)
    return len(jobs)


async def _favorite(
    client: httpx.AsyncClient,
    plan: SeedPlan,
    users: list[SeededUser],
    slugs: list[str],
    rng: random.Random,
) -> tuple[int, list[tuple[str, str]]]:
    """Favorite ``plan.favorites`` random pairs; returns how many, and pairs left free."""
    pairs: set[tuple[int, int]] = set()
    everything = len(users) * len(slugs)
    wanted = min(plan.favorites, everything)
    while len(pairs) < wanted:
        pairs.add((rng.randrange(len(users)), rng.randrange(len(slugs))))
    jobs: list[Callable[[], Awaitable[dict[str, Any]]]] = []
    for user_index, slug_index in sorted(pairs):
        path = f"/api/articles/{slugs[slug_index]}/favorite"
        token = users[user_index].token
        jobs.append(partial(_post, client, path, token=token))
    await bounded(jobs, plan.concurrency)
    free: dict[tuple[int, int], None] = {}
    while len(free) < min(FREE_FAVORITES, everything - len(pairs)):
        pair = (rng.randrange(len(users)), rng.randrange(len(slugs)))
        if pair not in pairs:
            free[pair] = None
    return len(jobs), [(users[u].username, slugs[a]) for u, a in free]


async def _comment(
    client: httpx.AsyncClient,
    plan: SeedPlan,
    users: list[SeededUser],
    slugs: list[str],
    rng: random.Random,
) -> list[str]:
    """``plan.comments`` comments by random users: at least one on every
    ``COMMENTED_EVERY``-th article, the rest spread over the same articles at random."""
    commented = slugs[::COMMENTED_EVERY] if plan.comments else []
    if not commented:
        return []
    targets = commented[: plan.comments] + rng.choices(
        commented, k=max(0, plan.comments - len(commented))
    )
    jobs: list[Callable[[], Awaitable[dict[str, Any]]]] = []
    for slug in targets:
        body = {"comment": {"body": _sentence(rng, 4, 30) + "."}}
        token = rng.choice(users).token
        jobs.append(partial(_post, client, f"/api/articles/{slug}/comments", body, token))
    await bounded(jobs, plan.concurrency)
    return commented[: len(targets)]


async def seed(base_url: str, plan: SeedPlan, *, say: Callable[[str], None] = print) -> Dataset:
    """Create the whole data set through the API of the server at ``base_url``."""
    rng = random.Random(plan.random_seed)  # the same data set on every run
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=plan.concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        users = await _register(client, plan)
        say(f"  {len(users)} users registered ({time.perf_counter() - started:.1f}s)")
        slugs = await _publish(client, plan, users, rng)
        say(f"  {len(slugs)} articles published ({time.perf_counter() - started:.1f}s)")
        follows = await _follow(client, plan, users, rng)
        say(f"  {follows} follows ({time.perf_counter() - started:.1f}s)")
        favorites, free = await _favorite(client, plan, users, slugs, rng)
        say(f"  {favorites} favorites ({time.perf_counter() - started:.1f}s)")
        commented = await _comment(client, plan, users, slugs, rng)
        say(
            f"  {plan.comments} comments on {len(commented)} articles "
            f"({time.perf_counter() - started:.1f}s)"
        )
    return Dataset(
        users=users,
        slugs=slugs,
        follows=follows,
        favorites=favorites,
        free_favorites=free,
        commented=commented,
        comments=plan.comments if commented else 0,
        seconds=round(time.perf_counter() - started, 1),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True, help="base URL of a running fastboard")
    parser.add_argument("--out", type=Path, default=Path("var/bench/dataset.json"))
    parser.add_argument("--users", type=int, default=SeedPlan.users)
    parser.add_argument("--articles", type=int, default=SeedPlan.articles)
    parser.add_argument("--favorites", type=int, default=SeedPlan.favorites)
    parser.add_argument("--comments", type=int, default=SeedPlan.comments)
    parser.add_argument("--concurrency", type=int, default=SeedPlan.concurrency)
    args = parser.parse_args(argv)
    plan = SeedPlan(
        users=args.users,
        articles=args.articles,
        favorites=args.favorites,
        comments=args.comments,
        concurrency=args.concurrency,
    )
    dataset = asyncio.run(seed(args.url, plan))
    dataset.save(args.out)
    print(f"seeded in {dataset.seconds}s; tokens and slugs in {args.out}")


if __name__ == "__main__":
    main()
