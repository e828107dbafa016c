"""``make bench-live`` (``python -m bench.live``): live updates under load, through NGINX.

1. A database of its own (``fastboard_bench_live``, recreated and migrated each run), the
   production stack (NGINX → Gunicorn, 2 Uvicorn workers) with Redis carrying the events.
2. One user writes one article; 1,000 WebSocket clients subscribe to it through NGINX,
   from 40 loopback source addresses (127.0.0.10 …) so NGINX's per-address limit of 50
   live connections lets them in, run by 4 client processes (one asyncio loop alone
   would be the bottleneck it measures). Which worker takes each connection is up to the
   kernel: the report shows how they spread.
3. Idle memory: each worker's RSS before the clients connect (after a warm-up that starts
   the hub) and once they all sit subscribed and idle; the delta over that worker's
   connections (``fastboard_live_connections``) is the memory per idle connection.
4. A writer posts ``BENCH_LIVE_COMMENTS`` comments (100) on the article, one every
   ``BENCH_LIVE_INTERVAL`` s (0.1). Each client notes when each event arrives
   (``time.monotonic``, one clock for every process on Linux); write→delivery latency is
   that minus the moment the writer started the POST. Delivered/expected counts every
   (client, comment) pair.
5. A report and ``var/bench/live.json``. Targets (issue 8, this 2-core machine): p99 under
   100 ms, every event delivered, under 50 KiB per idle connection per worker.

Knobs: BENCH_LIVE_CLIENTS (1000), BENCH_LIVE_PROCESSES (4), BENCH_LIVE_COMMENTS (100),
BENCH_LIVE_INTERVAL (0.1), BENCH_WORKERS (2), BENCH_REDIS_URL
(redis://127.0.0.1:6379/0), BENCH_PG_HOST/PORT/USER (127.0.0.1/5432/postgres),
BENCH_QUIET_WAIT (30 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import Any
from uuid import uuid4

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench import database, machine
from dev.nginx import UNLIMITED
from dev.stack import RunningStack, free_port, settings_env, start_stack
from fastboard.settings import Settings

RESULTS = Path("var/bench/live.json")
DB_NAME = "fastboard_bench_live"
# NGINX lets one address hold 50 live connections (fastboard_live zone); 25 per address
# leaves room for the warm-up's.
PER_ADDRESS = 25
FIRST_ADDRESS = 10  # 127.0.0.10
WARMUP_CLIENTS = 20
CONNECT_BATCH = 50
IDLE_SECONDS = 3.0
DELIVERY_GRACE_SECONDS = 15.0
CLIENT_TIMEOUT_SECONDS = 180.0
BODY = "live-bench "  # then the comment's number

# The targets.
P99_TARGET_MS = 100.0
MEMORY_TARGET_KIB = 50.0


@dataclass(frozen=True, slots=True)
class Config:
    clients: int
    processes: int
    comments: int
    interval: float
    workers: int
    redis_url: str
    pg_host: str
    pg_port: int
    pg_user: str
    quiet_wait: int

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Config:
        return cls(
            clients=int(env.get("BENCH_LIVE_CLIENTS", "1000")),
            processes=int(env.get("BENCH_LIVE_PROCESSES", "4")),
            comments=int(env.get("BENCH_LIVE_COMMENTS", "100")),
            interval=float(env.get("BENCH_LIVE_INTERVAL", "0.1")),
            workers=int(env.get("BENCH_WORKERS", "2")),
            redis_url=env.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
            pg_host=env.get("BENCH_PG_HOST", "127.0.0.1"),
            pg_port=int(env.get("BENCH_PG_PORT", "5432")),
            pg_user=env.get("BENCH_PG_USER", "postgres"),
            quiet_wait=int(env.get("BENCH_QUIET_WAIT", "30")),
        )


def say(message: str = "") -> None:
    print(message, flush=True)


# -- processes ----------------------------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    """The Gunicorn master's children (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == master and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def live_connections(base_url: str) -> dict[int, int]:
    """Open live connections per worker pid, from the Prometheus scrape."""
    scraped = httpx.get(f"{base_url}/metrics", timeout=15)
    scraped.raise_for_status()
    found: dict[int, int] = {}
    for family in text_string_to_metric_families(scraped.text):
        for sample in family.samples:
            if sample.name == "fastboard_live_connections":
                found[int(sample.labels["pid"])] = int(sample.value)
    return found


def live_counters(base_url: str) -> dict[str, float]:
    scraped = httpx.get(f"{base_url}/metrics", timeout=15)
    names = (
        "fastboard_live_messages_sent_total",
        "fastboard_live_messages_dropped_total",
        "fastboard_live_slow_consumer_closes_total",
    )
    found = dict.fromkeys(names, 0.0)
    for family in text_string_to_metric_families(scraped.text):
        for sample in family.samples:
            if sample.name in found:
                found[sample.name] += sample.value
    return found


# -- the clients (in their own processes) ----------------------------------------------


def subscribe_message(topic: str) -> str:
    return orjson.dumps({"type": "subscribe", "topics": [topic]}).decode()


async def _open(url: str, address: str, topic: str) -> ClientConnection:
    # No client pings: an idle client sends nothing (the server pings every 20 s).
    ws = await connect(url, local_addr=(address, 0), open_timeout=60, ping_interval=None)
    await ws.send(subscribe_message(topic))
    reply = orjson.loads(await ws.recv())
    if reply.get("type") != "subscribed":
        raise RuntimeError(f"subscribe answered {reply!r}")
    return ws


async def _clients(
    url: str, topic: str, addresses: Sequence[str], count: int, pipe: Connection
) -> None:
    sockets: list[ClientConnection] = []
    for start in range(0, count, CONNECT_BATCH):
        batch = range(start, min(start + CONNECT_BATCH, count))
        opened = await asyncio.gather(
            *(_open(url, addresses[i % len(addresses)], topic) for i in batch)
        )
        sockets.extend(opened)
    numbers: list[int] = []
    times: list[float] = []
    closed: list[int | None] = []
    target = [0]  # events to wait for, once the writer is done
    enough = asyncio.Event()

    async def read(ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                now = time.monotonic()
                message = orjson.loads(raw)
                body = message.get("data", {}).get("body", "")
                if message.get("type") == "event" and body.startswith(BODY):
                    numbers.append(int(body.removeprefix(BODY)))
                    times.append(now)
                    if target[0] and len(numbers) >= target[0]:
                        enough.set()
        if not enough.is_set():
            closed.append(ws.close_code)

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    pipe.send(("ready", len(sockets)))
    per_client = await asyncio.to_thread(pipe.recv)
    target[0] = per_client * len(sockets)
    if len(numbers) >= target[0]:
        enough.set()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DELIVERY_GRACE_SECONDS):
            await enough.wait()
    pipe.send(("done", numbers, times, list(closed)))
    for ws in sockets:
        ws.transport.abort()  # quick: the run is over
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)


def client_process(
    url: str, topic: str, addresses: Sequence[str], count: int, pipe: Connection
) -> None:
    asyncio.run(_clients(url, topic, addresses, count, pipe))


# -- the run ------------------------------------------------------------------------------


@dataclass
class Figures:
    clients: int
    connections_by_worker: dict[int, int]
    rss_before_kib: dict[int, int]
    rss_idle_kib: dict[int, int]
    kib_per_connection_by_worker: dict[int, float]
    comments_written: int
    delivered: int
    expected: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    client_closes: int
    slow_consumer_closes: float
    dropped: float
    busy_before: float
    busy_idle: float


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def warm_up(url: str, topic: str, base: str, token: str, slug: str) -> None:
    """Start each worker's hub (and its Redis reader) and import what the first event
    needs, so the idle-memory delta is the connections' own."""
    sockets = [await _open(url, "127.0.0.2", topic) for _ in range(WARMUP_CLIENTS)]
    async with httpx.AsyncClient(base_url=base, timeout=15) as client:
        await post_comment(client, token, slug, "warm-up 0")
    for ws in sockets:
        await ws.recv()
        await ws.close()


async def post_comment(client: httpx.AsyncClient, token: str, slug: str, body: str) -> bool:
    response = await client.post(
        f"/api/articles/{slug}/comments",
        json={"comment": {"body": body}},
        headers={"Authorization": f"Token {token}"},
    )
    return response.status_code == 200


async def write(config: Config, base: str, token: str, slug: str) -> dict[int, float]:
    """Post the comments at a steady pace; when each POST started, by comment number."""
    started: dict[int, float] = {}
    async with httpx.AsyncClient(base_url=base, timeout=15) as client:
        await post_comment(client, token, slug, "connection warm-up -1")
        begin = time.monotonic()
        for n in range(config.comments):
            await asyncio.sleep(max(0.0, begin + n * config.interval - time.monotonic()))
            at = time.monotonic()
            if await post_comment(client, token, slug, f"{BODY}{n}"):
                started[n] = at
    return started


def setup(base: str) -> tuple[str, str]:
    name = f"live{uuid4().hex[:10]}"
    with httpx.Client(base_url=base, timeout=30) as client:
        user = {"username": name, "email": f"{name}@example.org", "password": "bench-pass-1"}
        registered = client.post("/api/users", json={"user": user})
        registered.raise_for_status()
        token = registered.json()["user"]["token"]
        article = {"article": {"title": "Live bench", "description": "d", "body": "b"}}
        created = client.post(
            "/api/articles", json=article, headers={"Authorization": f"Token {token}"}
        )
        created.raise_for_status()
    return token, created.json()["article"]["slug"]


def answer(pipe: Connection) -> Any:
    """A client process's next report; a process that died says nothing: give up."""
    if not pipe.poll(CLIENT_TIMEOUT_SECONDS):
        raise RuntimeError("a client process did not answer (its traceback is above)")
    return pipe.recv()


def measure(config: Config, running: RunningStack) -> Figures:
    base = running.url
    url = base.replace("http://", "ws://") + "/api/live"
    token, slug = setup(base)
    topic = f"article:{slug}"
    asyncio.run(warm_up(url, topic, base, token, slug))
    workers = worker_pids(running.gunicorn.pid)
    time.sleep(1.0)
    busy_before = machine.wait_for_quiet(config.quiet_wait)
    rss_before = {pid: rss_kib(pid) for pid in workers}

    # At least one per client process, at most PER_ADDRESS clients on each.
    spread = max(-(-config.clients // PER_ADDRESS), config.processes)
    addresses = [f"127.0.0.{FIRST_ADDRESS + i}" for i in range(spread)]
    context = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    processes = []
    share = -(-config.clients // config.processes)
    for index in range(config.processes):
        count = min(share, config.clients - index * share)
        if count <= 0:
            break
        mine = addresses[index :: config.processes]
        parent, child = context.Pipe()
        process = context.Process(
            target=client_process, args=(url, topic, mine, count, child), daemon=True
        )
        process.start()
        pipes.append(parent)
        processes.append(process)
    try:
        connected = sum(answer(pipe)[1] for pipe in pipes)
        say(f"  {connected} clients subscribed; idle for {IDLE_SECONDS:.0f} s")
        time.sleep(IDLE_SECONDS)
        connections = live_connections(base)
        rss_idle = {pid: rss_kib(pid) for pid in workers}
        busy_idle = machine.background_load(1.0, settle=0.0)
        say(f"  writing {config.comments} comments, one every {config.interval} s")
        started = asyncio.run(write(config, base, token, slug))
        for pipe in pipes:
            pipe.send(len(started))
        results = [answer(pipe) for pipe in pipes]
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
    latencies = [
        (at - started[n]) * 1000
        for _, numbers, times, _ in results
        for n, at in zip(numbers, times, strict=True)
        if n in started
    ]
    delivered = len(latencies)
    closes = sum(len(closed) for *_, closed in results)
    counters = live_counters(base)
    per_connection = {
        pid: (rss_idle[pid] - rss_before[pid]) / connections[pid]
        for pid in workers
        if connections.get(pid)
    }
    return Figures(
        clients=connected,
        connections_by_worker={pid: connections.get(pid, 0) for pid in workers},
        rss_before_kib=rss_before,
        rss_idle_kib=rss_idle,
        kib_per_connection_by_worker=per_connection,
        comments_written=len(started),
        delivered=delivered,
        expected=len(started) * connected,
        p50_ms=statistics.median(latencies) if latencies else float("nan"),
        p99_ms=percentile(latencies, 0.99) if latencies else float("nan"),
        max_ms=max(latencies) if latencies else float("nan"),
        client_closes=closes,
        slow_consumer_closes=counters["fastboard_live_slow_consumer_closes_total"],
        dropped=counters["fastboard_live_messages_dropped_total"],
        busy_before=busy_before,
        busy_idle=busy_idle,
    )


def report(config: Config, figures: Figures) -> list[str]:
    lines = [
        f"live: {figures.clients} WebSocket clients through NGINX, {config.workers} workers, "
        f"{figures.comments_written} comments on one article, one every {config.interval} s",
        "  connections per worker: "
        + ", ".join(f"{pid}: {n}" for pid, n in figures.connections_by_worker.items()),
        f"  write→delivery latency: p50 {figures.p50_ms:.1f} ms, p99 {figures.p99_ms:.1f} ms, "
        f"max {figures.max_ms:.1f} ms",
        f"  delivered/expected: {figures.delivered}/{figures.expected}; "
        f"slow-consumer closes {figures.slow_consumer_closes:.0f}, dropped "
        f"{figures.dropped:.0f}, clients closed before the end {figures.client_closes}",
        "  memory per idle connection: "
        + ", ".join(
            f"worker {pid}: {kib:.1f} KiB ({figures.rss_before_kib[pid] / 1024:.0f} → "
            f"{figures.rss_idle_kib[pid] / 1024:.0f} MiB)"
            for pid, kib in figures.kib_per_connection_by_worker.items()
        ),
        f"  other work on the CPUs: {figures.busy_before:.0%} before, "
        f"{figures.busy_idle:.0%} with the clients idle",
    ]
    worst_memory = max(figures.kib_per_connection_by_worker.values(), default=float("inf"))
    verdicts = [
        ("p99 write→delivery < 100 ms", figures.p99_ms < P99_TARGET_MS),
        ("every event delivered", figures.delivered == figures.expected > 0),
        ("< 50 KiB per idle connection, each worker", worst_memory < MEMORY_TARGET_KIB),
    ]
    noisy = max(figures.busy_before, figures.busy_idle) > machine.NOISY_BACKGROUND
    for name, ok in verdicts:
        verdict = "PASS" if ok else "FAIL"
        if noisy and not ok:
            verdict += " (not conclusive: the machine was busy)"
        lines.append(f"  {verdict}  {name}")
    return lines


def forget_redis(url: str, prefix: str) -> None:
    with Redis.from_url(url, socket_timeout=5) as client:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so the servers started are stopped on the way out.
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    config = Config.from_env(dict(os.environ))
    database_url = database.app_url(
        host=config.pg_host, port=config.pg_port, user=config.pg_user, name=DB_NAME
    )
    secret_key = secrets.token_urlsafe(48)
    say(f"bench.live: database {DB_NAME}, recreated and migrated")
    asyncio.run(
        database.recreate(
            host=config.pg_host, port=config.pg_port, user=config.pg_user, name=DB_NAME
        )
    )
    database.migrate(
        Settings(
            env="production",
            database_url=database_url,
            secret_key=secret_key,
            migrate_on_start=False,
        )
    )
    prefix = f"fastboard-bench-live-{uuid4().hex[:8]}"
    env = settings_env(
        env="production",
        database_url=database_url,
        secret_key=secret_key,
        redis_url=config.redis_url,
        redis_prefix=prefix,
        log_level="WARNING",
        migrate_on_start="false",
        max_requests="0",
        throttle="false",  # a thousand clients sign up from this one address
    )
    workdir = Path(tempfile.mkdtemp(prefix="fastboard-bench-live-"))
    env["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "metrics")
    running = start_stack(
        workdir=workdir, port=free_port(), workers=config.workers, env=env, limits=UNLIMITED
    )
    try:
        figures = measure(config, running)
    finally:
        running.stop(graceful=False, timeout=15)
        forget_redis(config.redis_url, prefix)
    lines = report(config, figures)
    say("\n".join(lines))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "config": asdict(config),
        "figures": asdict(figures),
        "report": lines,
        "software": machine.software(wrk="wrk", nginx="nginx"),
    }
    RESULTS.write_text(json.dumps(record, indent=2, default=str) + "\n")
    say(f"bench.live: figures in {RESULTS}; server logs in {workdir}/logs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
