"""``make bench``: seed, then load five targets with wrk, in one go; print and record results.

1. A dedicated PostgreSQL database (``fastboard_bench``), migrated by Alembic and seeded
   through the HTTP API of a 2-worker Gunicorn (reused on later runs while still valid).
2. fastboard's answer to one request of every kind is captured, for the baselines to send.
3. Each target is started, checked, warmed up and loaded, then stopped: (1) bare ASGI,
   (2) FastAPI floor, (3) fastboard on Uvicorn, (4) on Gunicorn, (5) through NGINX;
   fastboard's once per read-cache mode its scenarios want (``bench.scenarios``). The
   write scenarios are undone through the API after each (``bench.restore``).
4. A table (2xx/s, p50, p99, errors, ratio to (2)), the verdicts against the targets, and
   ``var/bench/results.json``.

Knobs (environment, see bench/README.md): BENCH_DURATION (s, 10), BENCH_WARMUP (s, 2),
BENCH_CONNECTIONS (32), BENCH_THREADS (2), BENCH_WORKERS (2), BENCH_LOGINS (32),
BENCH_QUIET_WAIT (s, 30), BENCH_USERS (300), BENCH_ARTICLES (3000), BENCH_FAVORITES
(6000), BENCH_COMMENTS (3000), BENCH_RESEED (0), BENCH_TARGETS and BENCH_SCENARIOS (comma
lists, default all), BENCH_CACHE (on,off: every scenario in these modes; default each
scenario's own), BENCH_PG_HOST/PORT/USER (127.0.0.1/5432/postgres), BENCH_DB
(fastboard_bench), BENCH_REDIS_URL (redis://127.0.0.1:6379/0; empty: no read cache at all).
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
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from bench import database, machine, report, targets, wrk
from bench.manifest import ROWS_CHANGED, Manifest, plan_record
from bench.restore import restore
from bench.scenarios import FASTBOARD_ONLY, NAMES, WRITES, Workload, cache_modes
from bench.seed import SeedPlan, seed
from dev import stack
from dev.nginx import nginx_executable
from fastboard.settings import Settings

VAR_DIR = Path("var/bench")
RESULTS = VAR_DIR / "results.json"
MANIFEST = VAR_DIR / "dataset.json"

# The read cache as deployed (compose.yaml runs Redis); BENCH_REDIS_URL= measures without.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Followed by the database's name: two data sets never share cached answers.
REDIS_PREFIX = "fastboard-bench"
CACHE_MODES = ("off", "on")
LOGIN_TIMEOUT_SECONDS = 30  # a login queued behind a flood is slow, not lost


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
    cache: tuple[str, ...] | None  # None: each scenario's own modes
    logins: int
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
                comments=number("BENCH_COMMENTS", SeedPlan.comments),
            ),
            reseed=env.get("BENCH_RESEED", "0") not in ("", "0", "false", "no"),
            pg_host=env.get("BENCH_PG_HOST", "127.0.0.1"),
            pg_port=number("BENCH_PG_PORT", 5432),
            pg_user=env.get("BENCH_PG_USER", "postgres"),
            db_name=database.checked_name(env.get("BENCH_DB", "fastboard_bench")),
            targets=names("BENCH_TARGETS", tuple(t.key for t in targets.TARGETS)),
            scenarios=names("BENCH_SCENARIOS", NAMES),
            cache=names("BENCH_CACHE", CACHE_MODES) if env.get("BENCH_CACHE", "").strip() else None,
            logins=number("BENCH_LOGINS", 32),
            redis_url=env.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL).strip(),
        )

    def cache_modes(self, scenario: str) -> tuple[str, ...]:
        """The read-cache modes ``scenario`` is measured in on fastboard's targets."""
        if not self.redis_url:
            return ("off",)
        return cache_modes(scenario, self.cache)

    @property
    def database_url(self) -> str:
        return database.app_url(
            host=self.pg_host, port=self.pg_port, user=self.pg_user, name=self.db_name
        )


def say(message: str = "") -> None:
    print(message, flush=True)


def server_env(config: Config, secret_key: str, *, cache: bool = True) -> dict[str, str]:
    """The production settings every server runs with; logs kept out of the measurement.
    ``cache``: with the Redis read cache, when BENCH_REDIS_URL names one."""
    cache_settings = (
        {"redis_url": config.redis_url, "redis_prefix": f"{REDIS_PREFIX}-{config.db_name}"}
        if cache and config.redis_url
        else {}
    )
    return stack.settings_env(
        env="production",
        database_url=config.database_url,
        secret_key=secret_key,
        **cache_settings,
        log_level="WARNING",
        migrate_on_start="false",
        # Worker recycling is a leak guard amortised over hours; in a 10 s burst at
        # thousands of req/s it would fire mid-run and measure process start-up instead.
        max_requests="0",
        # Every client comes from this one address, and the logins scenario measures
        # Argon2, not the credential throttle's 429s.
        throttle="false",
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
    previous = None if config.reseed else Manifest.load(MANIFEST)
    if previous is not None:
        reason = _stale_because(config, previous)
        if reason == ROWS_CHANGED:
            # Most likely a run stopped in a write scenario: undo the writes, look again.
            say("The seeded rows changed; undoing what write scenarios may have left")
            env = server_env(config, previous.secret_key, cache=False)
            with targets.gunicorn_direct(
                "main:app", "restore", env, workdir, config.workers
            ) as url:
                workload = Workload(previous.dataset, config.load.threads)
                restore_writes(url, workload, previous.dataset.free_favorites)
            reason = _stale_because(config, previous)
        if reason is None:
            say(f"Reusing the seeded {config.db_name} ({MANIFEST}); BENCH_RESEED=1 seeds anew")
            return previous
        say(f"Seeding again: {reason}")
    return seed_database(config, workdir)


def _stale_because(config: Config, manifest: Manifest) -> str | None:
    url = config.database_url
    head = database.head_revision(app_settings(url, manifest.secret_key))
    found = asyncio.run(database.describe(url))
    if found is None:
        return "the database is missing"
    if found[0] != head:
        return f"the database is at revision {found[0]}, the code at {head}"
    return manifest.stale_because(
        database_url=url, plan=config.plan, schema_revision=found[0], counts=found[1]
    )


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
        f"{plan.favorites} favorites, {plan.comments} comments; {plan.concurrency} requests "
        "in flight)"
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


def restore_writes(
    base_url: str, workload: Workload, pairs: list[tuple[str, str]] | None = None
) -> None:
    """Undo every write the scenarios may have made (``bench.restore``)."""
    undone, comments = restore(
        base_url,
        workload.tokens,
        workload.pairs_in_use if pairs is None else pairs,
        workload.write_slugs,
    )
    say(f"  restored: {undone} pairs unfavorited, {comments} load comments deleted")


def check_rows(config: Config, manifest: Manifest, after: str) -> None:
    found = asyncio.run(database.describe(config.database_url))
    if found is not None and found[1] != manifest.counts:
        changed = {
            table: f"{manifest.counts.get(table)} -> {count}"
            for table, count in found[1].items()
            if manifest.counts.get(table) != count
        }
        say(f"WARNING: after {after} the seeded rows changed ({changed}); the next run reseeds")


# -- captured answers ----------------------------------------------------------------------


def send(client: httpx.Client, request: wrk.Request) -> httpx.Response:
    headers = {"Authorization": f"Token {request.token}"} if request.token else {}
    if request.body is not None:
        headers["Content-Type"] = "application/json"
    return client.request(request.method, request.path, headers=headers, content=request.body)


def capture_answers(config: Config, manifest: Manifest, workload: Workload, workdir: Path) -> Path:
    """fastboard's answer to one request of every kind: what the baselines will send."""
    env = server_env(config, manifest.secret_key, cache=False)
    answers: dict[str, dict[str, object]] = {}
    with (
        targets.gunicorn_direct("main:app", "capture", env, workdir, config.workers) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        # All of them, whatever BENCH_SCENARIOS says: the baselines answer every route.
        for request in workload.examples():
            response = send(client, request)
            if not response.is_success:
                raise RuntimeError(
                    f"{request.method} {request.path}: fastboard answered {response.status_code}"
                )
            answers[request.kind] = {"status": response.status_code, "body": response.text}
        # The example comment; the example favorite was undone by the example unfavorite.
        restore(base_url, workload.tokens, [], workload.write_slugs[:1])
    path = workdir / "bodies.json"
    path.write_text(json.dumps(answers))
    sizes = ", ".join(f"{kind} {len(str(a['body']).encode())} B" for kind, a in answers.items())
    say(f"Captured answers: {sizes}")
    return path


def preflight(
    url: str,
    spec: targets.TargetSpec,
    workload: Workload,
    kinds: set[str],
    answers: dict[str, dict[str, object]],
) -> None:
    """One request of every kind the scenarios send before loading: a 2xx, and the
    baselines send fastboard's status and bytes."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for request in workload.examples():
            if request.kind not in kinds:
                continue
            response = send(client, request)
            what = f"{spec.label} {request.method} {request.path}"
            if not response.is_success:
                raise RuntimeError(f"{what}: status {response.status_code}")
            if not spec.fastboard and (
                response.status_code != answers[request.kind]["status"]
                or response.text != answers[request.kind]["body"]
            ):
                raise RuntimeError(f"{what}: not fastboard's answer")


def kinds_of(scenario: wrk.Scenario) -> set[str]:
    kinds = {request.kind for request in scenario.requests}
    if scenario.name == "login_flood":
        kinds.add("login")
    return kinds


# -- the measurements --------------------------------------------------------------------


def loaded(
    url: str,
    scenario: wrk.Scenario,
    config: Config,
    workdir: Path,
    background: float | None = None,
    metrics_dir: Path | None = None,
) -> tuple[wrk.Result, float, dict[str, float] | None]:
    """A warm-up, then one measured wrk run; how busy the CPUs were just before it
    (unless measured already: ``background``); and the read cache's lookups during the
    run, by result, from fastboard's ``metrics_dir``."""
    if config.warmup_seconds:
        wrk.run(url, scenario, replace(config.load, seconds=config.warmup_seconds), workdir)
    if background is None:
        # Our servers are idle now: whatever keeps the CPUs busy is someone else.
        background = machine.background_load(1.0)
    before = cache_lookups(metrics_dir) if metrics_dir else {}
    result = wrk.run(url, scenario, config.load, workdir)
    if metrics_dir is None:
        return result, background, None
    after = cache_lookups(metrics_dir)
    lookups = {name: after[name] - before.get(name, 0.0) for name in after}
    return result, background, {name: count for name, count in lookups.items() if count}


def cache_lookups(metrics_dir: Path) -> dict[str, float]:
    """fastboard's read cache lookups so far, by result, summed over its workers."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))  # type: ignore[no-untyped-call]
    return {
        sample.labels["result"]: sample.value
        for family in registry.collect()
        if family.name == "fastboard_read_cache_lookups"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def login_flood(
    url: str, scenario: wrk.Scenario, workload: Workload, config: Config, workdir: Path
) -> list[tuple[str, wrk.Result, float]]:
    """The anonymous list alone, then again while BENCH_LOGINS clients log in at once
    (a second wrk, started first and stopped last)."""
    alone, quiet, _ = loaded(url, scenario, config, workdir)
    busy = machine.background_load(1.0)  # before the flood: other work, not the logins
    flood = wrk.Load(
        threads=1,
        connections=config.logins,
        # outlasts the list's warm-up and run below
        seconds=config.warmup_seconds + config.load.seconds + 3,
        timeout_seconds=LOGIN_TIMEOUT_SECONDS,
    )
    logins = wrk.Running(url, workload.logins(), flood, workdir)
    try:
        time.sleep(1)  # every login client has sent its first request
        during, _, _ = loaded(url, scenario, config, workdir, background=busy)
        login_result = logins.result()
    finally:
        logins.stop()
    # Logins still queued in the server when wrk stopped are hashed all the same.
    machine.wait_for_quiet(config.quiet_wait_seconds)
    return [
        (report.ALONE, alone, quiet),
        (report.DURING, during, busy),
        (report.LOGINS, login_result, busy),
    ]


def measure_target(
    spec: targets.TargetSpec,
    cache: str,
    config: Config,
    env: dict[str, str],
    chosen: list[wrk.Scenario],
    answers: dict[str, dict[str, object]],
    workload: Workload,
    workdir: Path,
) -> list[report.Measurement]:
    """Start ``spec`` (fastboard's with the read cache ``cache``), check it, load it with
    each of ``chosen`` in turn, stop it."""
    target_dir = workdir / (f"{spec.key}-cache-{cache}" if cache else spec.key)
    target_dir.mkdir()
    metrics_dir: Path | None = None
    if spec.fastboard:
        # Production runs with multiprocess metrics; each target gets an empty directory.
        metrics_dir = target_dir / "prometheus"
        metrics_dir.mkdir()
        env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    target = report.Target(spec.key, spec.label)
    label = f"{spec.label}{f', cache {cache}' if cache else ''}"
    out: list[report.Measurement] = []
    busy = machine.wait_for_quiet(config.quiet_wait_seconds)
    if busy > machine.NOISY_BACKGROUND:
        say(f"  (other processes keep the CPUs {busy:.0%} busy; starting {label} anyway)")
    with spec.start(env, target_dir, config.workers) as url:
        kinds = set().union(*(kinds_of(scenario) for scenario in chosen))
        preflight(url, spec, workload, kinds, answers)
        for scenario in chosen:
            lookups = None
            if scenario.name == "login_flood":
                phases = login_flood(url, scenario, workload, config, target_dir)
            else:
                result, background, lookups = loaded(
                    url, scenario, config, target_dir, metrics_dir=metrics_dir
                )
                phases = [("", result, background)]
            for phase, result, background in phases:
                measured = report.Measurement(
                    target, scenario, result, background, cache, phase, lookups
                )
                out.append(measured)
                name = f"{scenario.label} [{phase}]" if phase else scenario.label
                hits = "" if measured.hit_ratio is None else f", {measured.hit_ratio:.1%} cached"
                say(
                    f"  {label:<34} {name:<45} {result.ok_rps:>9.1f} 2xx/s  "
                    f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  "
                    f"errors {result.errors}  (CPUs {background:.0%} busy before{hits})"
                )
            if spec.fastboard and scenario.name in WRITES:
                restore_writes(url, workload)
    return out


def runs(config: Config, chosen: list[wrk.Scenario]) -> list[tuple[targets.TargetSpec, str]]:
    """Every (target, cache mode) to start, in order: the baselines once, fastboard's
    targets once per cache mode any chosen scenario is measured in."""
    out: list[tuple[targets.TargetSpec, str]] = []
    for spec in targets.TARGETS:
        if spec.key not in config.targets:
            continue
        if not spec.fastboard:
            out.append((spec, ""))
            continue
        wanted = {mode for scenario in chosen for mode in config.cache_modes(scenario.name)}
        out += [(spec, mode) for mode in CACHE_MODES if mode in wanted]
    return out


def scenarios_for(
    spec: targets.TargetSpec, cache: str, config: Config, chosen: list[wrk.Scenario]
) -> list[wrk.Scenario]:
    if not spec.fastboard:
        return [scenario for scenario in chosen if scenario.name not in FASTBOARD_ONLY]
    return [scenario for scenario in chosen if cache in config.cache_modes(scenario.name)]


def ordered(
    measurements: list[report.Measurement], chosen: list[wrk.Scenario]
) -> list[report.Measurement]:
    scenario_order = {scenario.name: index for index, scenario in enumerate(chosen)}
    target_order = [t.key for t in targets.TARGETS]
    cache_order = ["", "off", "on"]
    phase_order = ["", report.ALONE, report.DURING, report.LOGINS]
    return sorted(
        measurements,
        key=lambda m: (
            scenario_order[m.scenario.name],
            target_order.index(m.target.key),
            cache_order.index(m.cache),
            phase_order.index(m.phase),
        ),
    )


# -- context for the record --------------------------------------------------------------


def environment(config: Config, manifest: Manifest, chosen: list[wrk.Scenario]) -> dict[str, Any]:
    dataset = manifest.dataset
    return {
        **machine.software(wrk=wrk.wrk_binary(), nginx=nginx_executable() or "nginx"),
        "postgresql": asyncio.run(database.server_version(config.database_url)),
        "config": {
            **asdict(config.load),
            "warmup_seconds": config.warmup_seconds,
            "quiet_wait_seconds": config.quiet_wait_seconds,
            "workers": config.workers,
            "login_connections": config.logins,
            "database": config.db_name,
            "read_cache": config.redis_url or "off",
            "cache_modes": {s.name: list(config.cache_modes(s.name)) for s in chosen},
            "max_requests": 0,
        },
        "dataset": {
            **manifest.counts,
            "plan": manifest.plan,
            "commented_articles": len(dataset.commented),
            "free_favorite_pairs": len(dataset.free_favorites),
            "seeded_in_seconds": dataset.seconds,
        },
    }


def headline(config: Config, env: dict[str, Any]) -> None:
    load = config.load
    say()
    say(
        f"wrk -t{load.threads} -c{load.connections} -d{load.seconds}s (+{config.warmup_seconds}s "
        f"warm-up) per scenario; {config.workers} workers per target; "
        f"PostgreSQL {env['postgresql']}; read cache {config.redis_url or 'off (no Redis URL)'}"
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
    workload = Workload(manifest.dataset, config.load.threads)
    chosen = [s for s in workload.all() if s.name in config.scenarios]
    answers_path = capture_answers(config, manifest, workload, workdir)
    answers: dict[str, dict[str, object]] = json.loads(answers_path.read_text())
    context = environment(config, manifest, chosen)
    headline(config, context)
    measurements: list[report.Measurement] = []
    for spec, cache in runs(config, chosen):
        env = {
            **server_env(config, manifest.secret_key, cache=cache == "on"),
            "BENCH_BODIES": str(answers_path),
        }
        scenarios = scenarios_for(spec, cache, config, chosen)
        measurements += measure_target(
            spec, cache, config, env, scenarios, answers, workload, workdir
        )
        if spec.fastboard:
            check_rows(config, manifest, f"{spec.label}, cache {cache}")
    results = ordered(measurements, chosen)
    verdicts = report.verdicts(results, noisy=machine.NOISY_BACKGROUND)
    say()
    say(report.table(results))
    say()
    say(
        "vs (2) = 2xx/s / 2xx/s of (2) in the same scenario. non-2xx: statuses >= 400 (wrk); "
        "5xx: counted where the scenario tells them apart."
    )
    if any(m.target.key == "nginx" for m in results):
        say(report.nginx_costs(results))
    for verdict in verdicts:
        say(verdict.line())
    report.write_json(RESULTS, measurements=results, verdict_list=verdicts, context=context)
    say(f"Results written to {RESULTS}")
    noisy = [m for m in results if m.background > machine.NOISY_BACKGROUND]
    if noisy:
        worst = max(m.background for m in noisy)
        say(
            f"WARNING: other processes kept the CPUs up to {worst:.0%} busy before {len(noisy)} "
            f"of {len(results)} runs (column 'busy'): those figures understate the servers"
        )
    errors = sum(m.result.errors for m in results)
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
