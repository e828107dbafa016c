"""``make bench``: seed, then load five targets with wrk, in one go; print and record results.

1. A dedicated PostgreSQL database (``fastboard_bench``), migrated by Alembic and seeded
   through the HTTP API of a 2-worker Gunicorn (reused on later runs while still valid).
2. The responses of each scenario are captured from fastboard, for the baselines to send.
3. Each target is started, checked, warmed up and loaded, then stopped:
   (1) bare ASGI, (2) FastAPI floor, (3) fastboard on Uvicorn, (4) on Gunicorn,
   (5) through NGINX.
4. A table (req/s, p50, p99, errors, ratio to (2)), the verdicts against the targets, and
   ``var/bench/results.json``.

Knobs (environment): BENCH_DURATION (s, 10), BENCH_WARMUP (s, 2), BENCH_CONNECTIONS (32),
BENCH_THREADS (2), BENCH_WORKERS (2), BENCH_QUIET_WAIT (s, 30: how long to wait for other
work to leave the CPUs before each target), BENCH_USERS (300), BENCH_ARTICLES (3000),
BENCH_FAVORITES (6000), BENCH_RESEED (0), BENCH_TARGETS and BENCH_SCENARIOS (comma
lists, default all), BENCH_PG_HOST/PORT/USER (127.0.0.1/5432/postgres), BENCH_DB
(fastboard_bench), BENCH_REDIS_URL (redis://127.0.0.1:6379/0; empty: no read cache).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from bench import database, machine, report, targets, wrk
from bench.manifest import Manifest, plan_record
from bench.seed import Dataset, SeedPlan, seed
from dev import stack
from dev.nginx import nginx_executable
from fastboard.settings import Settings

VAR_DIR = Path("var/bench")
RESULTS = VAR_DIR / "results.json"
MANIFEST = VAR_DIR / "dataset.json"

FEED_TOKENS = 50  # feeds of 50 users, rotated
ARTICLE_SLUGS = 200  # 200 articles, rotated
LIMIT = 20
SCENARIOS = ("articles", "feed", "article", "health")
# The read cache as deployed (compose.yaml runs Redis); BENCH_REDIS_URL= measures without.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_PREFIX = "fastboard-bench"


@dataclass(frozen=True, slots=True)
class Config:
    load: wrk.Load
    warmup_seconds: int
    quiet_wait_seconds: int
    workers: int
    plan: SeedPlan
    reseed: bool
    pg_host: str
    pg_port: int
    pg_user: str
    db_name: str
    targets: tuple[str, ...]
    scenarios: tuple[str, ...]
    redis_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        def number(name: str, default: int) -> int:
            value = int(env.get(name, "").strip() or default)
            if value < 0:
                raise ValueError(f"{name} must not be negative")
            return value

        def names(name: str, known: tuple[str, ...]) -> tuple[str, ...]:
            chosen = tuple(n.strip() for n in env.get(name, "").split(",") if n.strip())
            unknown = set(chosen) - set(known)
            if unknown:
                raise ValueError(f"{name}: unknown {sorted(unknown)}; known: {list(known)}")
            return chosen or known

        return cls(
            load=wrk.Load(
                threads=number("BENCH_THREADS", 2),
                connections=number("BENCH_CONNECTIONS", 32),
                seconds=number("BENCH_DURATION", 10),
            ),
            warmup_seconds=number("BENCH_WARMUP", 2),
            quiet_wait_seconds=number("BENCH_QUIET_WAIT", 30),
            workers=number("BENCH_WORKERS", 2),
            plan=SeedPlan(
                users=number("BENCH_USERS", SeedPlan.users),
                articles=number("BENCH_ARTICLES", SeedPlan.articles),
                favorites=number("BENCH_FAVORITES", SeedPlan.favorites),
            ),
            reseed=env.get("BENCH_RESEED", "0") not in ("", "0", "false", "no"),
            pg_host=env.get("BENCH_PG_HOST", "127.0.0.1"),
            pg_port=number("BENCH_PG_PORT", 5432),
            pg_user=env.get("BENCH_PG_USER", "postgres"),
            db_name=database.checked_name(env.get("BENCH_DB", "fastboard_bench")),
            targets=names("BENCH_TARGETS", tuple(t.key for t in targets.TARGETS)),
            scenarios=names("BENCH_SCENARIOS", SCENARIOS),
            redis_url=env.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL).strip(),
        )

    @property
    def database_url(self) -> str:
        return database.app_url(
            host=self.pg_host, port=self.pg_port, user=self.pg_user, name=self.db_name
        )


def say(message: str = "") -> None:
    print(message, flush=True)


def server_env(config: Config, secret_key: str) -> dict[str, str]:
    """The production settings every server runs with; logs kept out of the measurement."""
    cache = (
        {"redis_url": config.redis_url, "redis_prefix": REDIS_PREFIX} if config.redis_url else {}
    )
    return stack.settings_env(
        env="production",
        database_url=config.database_url,
        secret_key=secret_key,
        **cache,
        log_level="WARNING",
        migrate_on_start="false",
        # Worker recycling is a leak guard amortised over hours; in a 10 s burst at
        # thousands of req/s it would fire mid-run and measure process start-up instead.
        max_requests="0",
    )


def app_settings(database_url: str, secret_key: str) -> Settings:
    return Settings(
        env="production",
        database_url=database_url,
        secret_key=secret_key,
        migrate_on_start=False,
        log_level="WARNING",
    )


# -- the data set ------------------------------------------------------------------------


def prepare_dataset(config: Config, workdir: Path) -> Manifest:
    """Reuse the seeded database when its manifest still matches, else seed it anew."""
    url = config.database_url
    previous = None if config.reseed else Manifest.load(MANIFEST)
    if previous is not None:
        head = database.head_revision(app_settings(url, previous.secret_key))
        found = asyncio.run(database.describe(url))
        if found is None:
            reason: str | None = "the database is missing"
        elif found[0] != head:
            reason = f"the database is at revision {found[0]}, the code at {head}"
        else:
            reason = previous.stale_because(
                database_url=url, plan=config.plan, schema_revision=found[0], counts=found[1]
            )
        if reason is None:
            say(f"Reusing the seeded {config.db_name} ({MANIFEST}); BENCH_RESEED=1 seeds anew")
            return previous
        say(f"Seeding again: {reason}")
    return seed_database(config, workdir)


def seed_database(config: Config, workdir: Path) -> Manifest:
    url = config.database_url
    secret_key = secrets.token_urlsafe(48)
    settings = app_settings(url, secret_key)
    say(f"Creating {config.db_name} on {config.pg_host}:{config.pg_port} and migrating")
    asyncio.run(
        database.recreate(
            host=config.pg_host, port=config.pg_port, user=config.pg_user, name=config.db_name
        )
    )
    database.migrate(settings)
    plan = config.plan
    say(
        f"Seeding through the API ({plan.users} users, {plan.articles} articles, follows, "
        f"{plan.favorites} favorites; {plan.concurrency} requests in flight)"
    )
    env = server_env(config, secret_key)
    with targets.gunicorn_direct("main:app", "seed", env, workdir, config.workers) as base_url:
        dataset = asyncio.run(seed(base_url, plan, say=say))
    asyncio.run(database.analyze(url))
    found = asyncio.run(database.describe(url))
    if found is None:
        raise RuntimeError(f"{url} is unreachable after seeding")
    manifest = Manifest(
        database_url=url,
        secret_key=secret_key,
        schema_revision=found[0],
        plan=plan_record(plan),
        counts=found[1],
        created_at=time.time(),
        dataset=dataset,
    )
    manifest.save(MANIFEST)
    return manifest


# -- scenarios and captured bodies -------------------------------------------------------


def scenarios(dataset: Dataset, chosen: tuple[str, ...]) -> list[wrk.Scenario]:
    step = max(1, len(dataset.slugs) // ARTICLE_SLUGS)
    slugs = tuple(dataset.slugs[::step][:ARTICLE_SLUGS])
    every = [
        wrk.Scenario(
            "articles", f"GET /api/articles?limit={LIMIT}", (f"/api/articles?limit={LIMIT}",)
        ),
        wrk.Scenario(
            "feed",
            "GET /api/articles/feed (token)",
            (f"/api/articles/feed?limit={LIMIT}",),
            tuple(dataset.feed_tokens(FEED_TOKENS)),
        ),
        wrk.Scenario(
            "article", "GET /api/articles/{slug}", tuple(f"/api/articles/{s}" for s in slugs)
        ),
        wrk.Scenario("health", "GET /health", ("/health",)),
    ]
    return [scenario for scenario in every if scenario.name in chosen]


def first_request(client: httpx.Client, scenario: wrk.Scenario) -> httpx.Response:
    headers = {"Authorization": f"Token {scenario.tokens[0]}"} if scenario.tokens else {}
    return client.get(scenario.paths[0], headers=headers)


def capture_bodies(
    config: Config, manifest: Manifest, chosen: list[wrk.Scenario], workdir: Path
) -> Path:
    """fastboard's answer to each scenario's first request: what the baselines will send."""
    env = server_env(config, manifest.secret_key)
    bodies: dict[str, str] = {}
    with (
        targets.gunicorn_direct("main:app", "capture", env, workdir, config.workers) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as client,
    ):
        # All of them, whatever BENCH_SCENARIOS says: the baselines answer every route.
        for scenario in scenarios(manifest.dataset, SCENARIOS):
            response = first_request(client, scenario)
            if response.status_code != 200:
                raise RuntimeError(f"{scenario.label}: fastboard answered {response.status_code}")
            bodies[scenario.name] = response.text
    path = workdir / "bodies.json"
    path.write_text(json.dumps(bodies))
    sizes = ", ".join(f"{name} {len(body.encode())} B" for name, body in bodies.items())
    say(f"Captured response bodies: {sizes}")
    return path


def preflight(
    url: str, spec: targets.TargetSpec, chosen: list[wrk.Scenario], bodies: dict[str, str]
) -> None:
    """One request per scenario before loading: 200, and the baselines send fastboard's bytes."""
    with httpx.Client(base_url=url, timeout=10) as client:
        for scenario in chosen:
            response = first_request(client, scenario)
            if response.status_code != 200:
                raise RuntimeError(f"{spec.label} {scenario.label}: status {response.status_code}")
            if not spec.fastboard and response.text != bodies[scenario.name]:
                raise RuntimeError(f"{spec.label} {scenario.label}: not fastboard's bytes")


# -- the measurements --------------------------------------------------------------------


def measure_target(
    spec: targets.TargetSpec,
    config: Config,
    env: dict[str, str],
    chosen: list[wrk.Scenario],
    bodies: dict[str, str],
    workdir: Path,
) -> list[report.Measurement]:
    target_dir = workdir / spec.key
    target_dir.mkdir()
    if spec.fastboard:
        # Production runs with multiprocess metrics; each target gets an empty directory.
        metrics_dir = target_dir / "prometheus"
        metrics_dir.mkdir()
        env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    target = report.Target(spec.key, spec.label)
    out: list[report.Measurement] = []
    busy = machine.wait_for_quiet(config.quiet_wait_seconds)
    if busy > machine.NOISY_BACKGROUND:
        say(f"  (other processes keep the CPUs {busy:.0%} busy; starting {spec.label} anyway)")
    with spec.start(env, target_dir, config.workers) as url:
        preflight(url, spec, chosen, bodies)
        for scenario in chosen:
            if config.warmup_seconds:
                wrk.run(
                    url, scenario, replace(config.load, seconds=config.warmup_seconds), target_dir
                )
            # Our servers are idle now: whatever keeps the CPUs busy is someone else.
            background = machine.background_load(1.0)
            result = wrk.run(url, scenario, config.load, target_dir)
            out.append(report.Measurement(target, scenario, result, background))
            say(
                f"  {spec.label:<24} {scenario.label:<32} {result.rps:>9.1f} req/s  "
                f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  "
                f"errors {result.errors}  (CPUs {background:.0%} busy before)"
            )
    return out


def by_scenario(
    measurements: list[report.Measurement], chosen: list[wrk.Scenario]
) -> list[report.Measurement]:
    order = {scenario.name: index for index, scenario in enumerate(chosen)}
    keys = [t.key for t in targets.TARGETS]
    return sorted(measurements, key=lambda m: (order[m.scenario.name], keys.index(m.target.key)))


# -- context for the record --------------------------------------------------------------


def environment(config: Config, manifest: Manifest) -> dict[str, Any]:
    return {
        **machine.software(wrk=wrk.wrk_binary(), nginx=nginx_executable() or "nginx"),
        "postgresql": asyncio.run(database.server_version(config.database_url)),
        "config": {
            **asdict(config.load),
            "warmup_seconds": config.warmup_seconds,
            "quiet_wait_seconds": config.quiet_wait_seconds,
            "workers": config.workers,
            "database": config.db_name,
            "read_cache": config.redis_url or "off",
            "max_requests": 0,
        },
        "dataset": {**manifest.counts, "seeded_in_seconds": manifest.dataset.seconds},
    }


def headline(config: Config, env: dict[str, Any]) -> None:
    load = config.load
    say()
    say(
        f"wrk -t{load.threads} -c{load.connections} -d{load.seconds}s (+{config.warmup_seconds}s "
        f"warm-up) per scenario; {config.workers} workers per target; "
        f"PostgreSQL {env['postgresql']}"
    )
    say(
        f"NOTE: this machine has {env['cpus']} CPUs, shared by wrk, the servers, NGINX and "
        "PostgreSQL. Absolute req/s are lower than with a separate load machine; read the ratios."
    )
    say()


# -- entry point -------------------------------------------------------------------------


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so every server started is stopped on the way out.
    raise KeyboardInterrupt(f"signal {signum}")


def run(config: Config, workdir: Path) -> int:
    manifest = prepare_dataset(config, workdir)
    chosen = scenarios(manifest.dataset, config.scenarios)
    bodies_path = capture_bodies(config, manifest, chosen, workdir)
    bodies: dict[str, str] = json.loads(bodies_path.read_text())
    env = {**server_env(config, manifest.secret_key), "BENCH_BODIES": str(bodies_path)}
    context = environment(config, manifest)
    headline(config, context)
    measurements: list[report.Measurement] = []
    for spec in targets.TARGETS:
        if spec.key in config.targets:
            measurements += measure_target(spec, config, env, chosen, bodies, workdir)
    ordered = by_scenario(measurements, chosen)
    verdicts = report.verdicts(ordered, noisy=machine.NOISY_BACKGROUND)
    say()
    say(report.table(ordered))
    say()
    say("ratio = req/s / req/s of (2) in the same scenario. wrk counts statuses >= 400 as non-2xx.")
    if any(m.target.key == "nginx" for m in ordered):
        say(report.nginx_costs(ordered))
    for verdict in verdicts:
        say(verdict.line())
    report.write_json(RESULTS, measurements=ordered, verdict_list=verdicts, context=context)
    say(f"Results written to {RESULTS}")
    noisy = [m for m in ordered if m.background > machine.NOISY_BACKGROUND]
    if noisy:
        worst = max(m.background for m in noisy)
        say(
            f"WARNING: other processes kept the CPUs up to {worst:.0%} busy before {len(noisy)} "
            f"of {len(ordered)} runs (column 'busy'): those figures understate the servers"
        )
    errors = sum(m.result.errors for m in ordered)
    if errors:
        say(f"WARNING: {errors} failed requests in total; see the non-2xx and socket columns")
    return 0


def main() -> int:
    config = Config.from_env(os.environ)
    # Ctrl-C must unwind even when started with SIGINT ignored (as a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="fastboard-bench-"))
    try:
        status = run(config, workdir)
    except KeyboardInterrupt:
        say(f"\nInterrupted; every server started has been stopped. Logs kept in {workdir}")
        return 130
    except Exception:
        say(f"\nThe benchmark failed; server logs kept in {workdir}")
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
