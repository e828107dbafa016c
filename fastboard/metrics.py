"""Prometheus metrics: request counts and latency by route template, DB pool figures, ``/metrics``.

Single process (dev, tests): metrics live in a registry of their own, one per app.

Under Gunicorn every worker is a separate process, so a scrape that reaches one worker
must still report all of them. prometheus_client does that in multiprocess mode: each
process writes its values to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` and a
scrape merges the files. prometheus_client decides the mode **when it is first
imported**, so the variable must be in the environment before anything imports it:
``fastboard.gunicorn_conf`` sets it (to an empty directory it creates or wipes on start) before
the master imports the app, and the ``child_exit`` hook calls
``prometheus_client.multiprocess.mark_process_dead(worker.pid)`` so the live gauges of a
dead worker stop counting.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    values,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.applications import Starlette

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Anything else a client sends as a method would otherwise mint a new label value.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# ``Database.pool_status()`` key → metric name suffix and help text.
POOL_FIGURES = {
    "size": ("size", "Configured size of this process's database pool"),
    "checkedin": ("checked_in", "Idle connections in the database pool"),
    "checkedout": ("checked_out", "Connections in use from the database pool"),
    "overflow": ("overflow", "Connections opened beyond the pool size"),
}

# Each worker only refreshes its own pool gauges; between scrapes, requests refresh
# them, at most this often, so the figures of workers that were not scraped stay current.
POOL_SAMPLE_INTERVAL_SECONDS = 1.0


def multiprocess_dir() -> str | None:
    """The multiprocess directory, or None in single-process mode.

    Fails loudly when the variable was set too late, which would otherwise make every
    worker's figures silently vanish from the scrape.
    """
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return None
    if values.ValueClass is values.MutexValue:
        raise RuntimeError(
            f"{MULTIPROC_ENV} is set but prometheus_client was imported before it was; "
            "set it before the app (or anything importing prometheus_client) is imported"
        )
    if not os.path.isdir(path):
        raise RuntimeError(f"{MULTIPROC_ENV}={path!r} is not a directory")
    return path


class Metrics:
    """The metrics of one app, in one process."""

    def __init__(self) -> None:
        self.multiprocess_dir = multiprocess_dir()
        self.registry = CollectorRegistry(auto_describe=True)
        if self.multiprocess_dir is None:
            # In multiprocess mode these would describe only the worker that was scraped.
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        labels = ("method", "route", "status")
        self.requests = Counter(
            "fastboard_http_requests",
            "HTTP requests answered, by method, route template and status",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "fastboard_http_request_duration_seconds",
            "Time from request to the last byte of the response",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "fastboard_http_requests_in_progress",
            "HTTP requests being handled",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self.read_cache = Counter(
            "fastboard_read_cache_lookups",
            "Read cache lookups: hit, miss, or unavailable (no Redis answer)",
            ("result",),
            registry=self.registry,
        )
        # Live updates. Connections per worker ("pid" label in multiprocess mode, live
        # workers only); the counters are summed over every worker.
        self.live_connections = Gauge(
            "fastboard_live_connections",
            "Open live-update WebSockets in this worker",
            multiprocess_mode="liveall",
            registry=self.registry,
        )
        self.live_sent = Counter(
            "fastboard_live_messages_sent",
            "Messages sent to live-update clients",
            registry=self.registry,
        )
        self.live_dropped = Counter(
            "fastboard_live_messages_dropped",
            "Messages never sent: queued for a client that was cut for being too slow",
            registry=self.registry,
        )
        self.live_slow_closes = Counter(
            "fastboard_live_slow_consumer_closes",
            "Live-update clients closed with 4408 for not reading fast enough",
            registry=self.registry,
        )
        self.pool = {
            key: Gauge(
                f"fastboard_db_pool_{suffix}",
                f"{doc} (summed over live worker processes)",
                multiprocess_mode="livesum",
                registry=self.registry,
            )
            for key, (suffix, doc) in POOL_FIGURES.items()
        }
        self._pool_sampled_at = -math.inf
        # (method, route template, status) → that series' counter and histogram. Bounded
        # as the labels are: known methods and OTHER, route templates, statuses.
        self._http_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        # Outcome → its read-cache counter: looked up once, as the HTTP series are.
        self._lookups: dict[str, Counter] = {}

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method if method in KNOWN_METHODS else OTHER_METHOD, route, status)
        series = self._http_series.get(key)
        if series is None:
            # labels() validates and locks on every call: look each series up once.
            labels = (key[0], route, str(status))
            series = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._http_series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def count_lookup(self, outcome: str) -> None:
        """One read-cache lookup with ``outcome`` (hit, miss, unavailable)."""
        counter = self._lookups.get(outcome)
        if counter is None:
            counter = self._lookups[outcome] = self.read_cache.labels(outcome)
        counter.inc()

    def sample_pool(self, app: Starlette, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._pool_sampled_at < POOL_SAMPLE_INTERVAL_SECONDS:
            return
        self._pool_sampled_at = now
        database = getattr(app.state, "database", None)
        status: Mapping[str, int] = database.pool_status() if database is not None else {}
        for key, gauge in self.pool.items():
            # No engine yet, or a pool without that figure: no such connections.
            value = status.get(key, 0)
            # SQLAlchemy counts overflow from -pool_size up; below zero means "none yet".
            gauge.set(max(value, 0) if key == "overflow" else value)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        encode, content_type = choose_encoder(accept or "")
        if self.multiprocess_dir is None:
            return encode(self.registry), content_type
        # A fresh registry per scrape: the collector reads the files as they are now.
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return encode(merged), content_type


def metrics_for(app: Starlette) -> Metrics:
    """The app's metrics, created on first use (after Gunicorn forked, in each worker)."""
    metrics: Metrics | None = getattr(app.state, "metrics", None)
    if metrics is None:
        metrics = Metrics()
        app.state.metrics = metrics
    return metrics


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    app: Any = request.app
    metrics = metrics_for(app)
    metrics.sample_pool(app, force=True)
    # Merging many workers' files is disk work; keep it off the event loop.
    body, content_type = await anyio.to_thread.run_sync(
        metrics.exposition, request.headers.get("accept")
    )
    return Response(body, media_type=content_type)
