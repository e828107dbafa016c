"""Prometheus metrics: route-template labels, DB pool gauges, and Gunicorn multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from fastboard.metrics import MULTIPROC_ENV, Metrics, metrics_for

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = "fastboard_http_requests_total"


def samples(exposition: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name
    ]


def value(exposition: str, name: str, **labels: str) -> float | None:
    for sample_labels, sample_value in samples(exposition, name):
        if all(sample_labels.get(key) == wanted for key, wanted in labels.items()):
            return sample_value
    return None


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_requests_are_counted_by_route_template_never_by_raw_path(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/api/profiles/someone")
    await client.get("/api/profiles/someone-else")

    exposition = await scrape(client)
    route = "/api/profiles/{username}"
    assert value(exposition, REQUESTS, method="GET", route=route, status="404") == 2
    bucket = "fastboard_http_request_duration_seconds_count"
    assert value(exposition, bucket, method="GET", route=route, status="404") == 2
    assert "someone" not in exposition


async def test_unmatched_paths_share_one_label(client: httpx.AsyncClient) -> None:
    for path in ("/wp-admin.php", "/api/no/such/page", "/.env"):
        await client.get(path)

    exposition = await scrape(client)
    assert value(exposition, REQUESTS, route="<unmatched>", status="404") == 3
    assert "wp-admin" not in exposition
    assert ".env" not in exposition


async def test_unknown_methods_do_not_mint_labels(client: httpx.AsyncClient) -> None:
    await client.request("BREW", "/api/tags")

    exposition = await scrape(client)
    assert value(exposition, REQUESTS, method="OTHER", route="/api/tags", status="405") == 1
    assert "BREW" not in exposition


@pytest.mark.own_app  # the pool as the app leaves it, no test connection out
async def test_db_pool_figures_are_exported(app: FastAPI, client: httpx.AsyncClient) -> None:
    await client.get("/api/tags")

    exposition = await scrape(client)
    pool = app.state.database.pool_status()
    assert value(exposition, "fastboard_db_pool_size") == pool["size"]
    assert value(exposition, "fastboard_db_pool_checked_out") == 0
    overflow = value(exposition, "fastboard_db_pool_overflow")
    assert overflow is not None
    assert overflow >= 0


def test_pool_gauges_read_zero_before_the_engine_exists() -> None:
    metrics = Metrics()
    no_engine_yet = SimpleNamespace(pool_status=dict)
    idle_app: Any = SimpleNamespace(state=SimpleNamespace(database=no_engine_yet))
    metrics.sample_pool(idle_app, force=True)

    exposition = metrics.exposition(None)[0].decode()
    assert value(exposition, "fastboard_db_pool_size") == 0
    assert value(exposition, "fastboard_db_pool_checked_in") == 0


async def test_metrics_endpoint_is_not_in_the_api_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/metrics" not in schema["paths"]


async def test_each_app_counts_into_its_own_registry(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await client.get("/health")

    own = metrics_for(app).exposition(None)[0].decode()
    unrelated = Metrics().exposition(None)[0].decode()
    assert value(own, REQUESTS, route="/health") == 1
    assert value(unrelated, REQUESTS, route="/health") is None


async def test_openmetrics_is_served_when_asked_for(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


# Multiprocess mode: prometheus_client picks it at import time, so each "worker" is a
# separate Python process, as under Gunicorn.

WORKER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, httpx
    from fastboard.app import create_app
    from fastboard.settings import Settings

    async def main(var_dir, requests, scrape):
        settings = Settings(
            env="test",
            database_url=f"sqlite+aiosqlite:///{var_dir}/t.db",
            var_dir=var_dir,
            migrate_on_start=False,
        )
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            for _ in range(requests):
                await http.get("/api/profiles/someone")
                await http.get("/health")
            if scrape:
                sys.stdout.write((await http.get("/metrics")).text)

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "scrape"))
    """
)


def run_worker(tmp_path: Path, env: dict[str, str], requests: int, scrape: bool) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            WORKER_SCRIPT,
            str(tmp_path),
            str(requests),
            "scrape" if scrape else "-",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_scrape_in_multiprocess_mode_sums_every_worker(tmp_path: Path) -> None:
    multiproc_dir = tmp_path / "prometheus"
    multiproc_dir.mkdir()
    env = {**os.environ, MULTIPROC_ENV: str(multiproc_dir)}

    run_worker(tmp_path, env, requests=2, scrape=False)
    run_worker(tmp_path, env, requests=3, scrape=False)
    exposition = run_worker(tmp_path, env, requests=0, scrape=True)

    assert value(exposition, REQUESTS, method="GET", route="/health", status="200") == 5
    by_route = samples(exposition, REQUESTS)
    assert sum(v for labels, v in by_route if labels["route"] == "/api/profiles/{username}") == 5
    assert "someone" not in exposition
    # Per-process collectors would describe only the worker that happened to be scraped.
    assert "process_cpu_seconds_total" not in exposition


def test_setting_the_multiprocess_dir_too_late_stops_the_app_at_startup(
    tmp_path: Path,
) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, os, prometheus_client
        os.environ[{MULTIPROC_ENV!r}] = {str(tmp_path)!r}
        from fastboard.app import create_app
        from fastboard.settings import Settings

        app = create_app(Settings(env="test", var_dir={str(tmp_path)!r}))

        async def receive():
            return {{"type": "lifespan.startup"}}

        async def send(message):
            pass

        try:
            asyncio.run(app({{"type": "lifespan", "asgi": {{"version": "3.0"}}}}, receive, send))
        except RuntimeError as exc:
            print(exc)
        """
    )
    env = {key: val for key, val in os.environ.items() if key != MULTIPROC_ENV}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "imported before" in result.stdout, result.stderr
