"""fastboard.gunicorn_conf, loaded afresh for each test as Gunicorn loads it: every known
name is set on a Gunicorn ``Config``, so Gunicorn's own validators check every value."""

from __future__ import annotations

import os
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.config import Config

from fastboard.nginx_conf import NGINX_UPSTREAM_KEEPALIVE_TIMEOUT
from fastboard.settings import get_settings
from fastboard.worker import graceful_shutdown_seconds


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[Config, dict[str, Any]]:
    for name in [n for n in os.environ if n.startswith("FASTBOARD_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        namespace = runpy.run_module("fastboard.gunicorn_conf")
    finally:
        # The file builds Settings from this test's environment; do not leave them cached.
        get_settings.cache_clear()
    cfg = Config()
    for name, value in namespace.items():
        if name in cfg.settings:
            cfg.set(name, value)
    return cfg, namespace


def test_defaults_suit_running_behind_nginx(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, _ = load(monkeypatch)
    # The app factory, inside the package: an installed wheel serves from any directory.
    assert cfg.wsgi_app == "fastboard.app:create_app()"
    assert cfg.worker_class_str == "fastboard.worker.UvicornWorker"
    assert cfg.workers == 2 * len(os.sched_getaffinity(0)) + 1
    assert cfg.address == [("127.0.0.1", 8000)]
    assert cfg.keepalive > NGINX_UPSTREAM_KEEPALIVE_TIMEOUT
    assert 0 < graceful_shutdown_seconds(cfg.graceful_timeout) < cfg.graceful_timeout
    # Workers retire on memory and age (fastboard.settings), not on a request count, which
    # at a few thousand requests a second would retire each one every few seconds.
    assert cfg.max_requests == 0
    settings = get_settings()
    assert settings.max_worker_memory_mb > 0
    assert settings.max_worker_age_seconds > 0
    get_settings.cache_clear()
    assert cfg.preload_app is False
    assert cfg.worker_tmp_dir == "/dev/shm"
    assert cfg.forwarded_allow_ips == ["127.0.0.1", "::1"]
    assert cfg.proc_name == "fastboard"
    # Not the per-user default path that every Gunicorn on the host would share.
    assert cfg.control_socket_disable is True


def test_environment_drives_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, _ = load(
        monkeypatch,
        FASTBOARD_WORKERS="3",
        FASTBOARD_BIND="unix:/run/fastboard/gunicorn.sock",
        FASTBOARD_KEEPALIVE="90",
        FASTBOARD_GRACEFUL_TIMEOUT="20",
        FASTBOARD_MAX_REQUESTS="500",
        FASTBOARD_FORWARDED_ALLOW_IPS="10.0.0.0/8",
    )
    assert cfg.workers == 3
    assert cfg.address == ["/run/fastboard/gunicorn.sock"]
    assert cfg.keepalive == 90
    assert cfg.graceful_timeout == 20
    assert (cfg.max_requests, cfg.max_requests_jitter) == (500, 50)
    assert cfg.forwarded_allow_ips == ["10.0.0.0/8"]
    assert cfg.control_socket == "/run/fastboard/gunicorn.ctl"
    assert cfg.control_socket_disable is False


def test_master_starts_with_an_empty_metrics_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_123.db").write_bytes(b"stale")
    _, conf = load(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(metrics))
    conf["on_starting"](SimpleNamespace())
    assert list(metrics.iterdir()) == []


def test_dead_workers_live_gauges_are_dropped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "gauge_livesum_4321.db").write_bytes(b"")
    (tmp_path / "counter_4321.db").write_bytes(b"")
    _, conf = load(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    conf["child_exit"](SimpleNamespace(), SimpleNamespace(pid=4321))
    # Counters of a dead worker still count; its "live" gauges no longer describe anything.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4321.db"]
