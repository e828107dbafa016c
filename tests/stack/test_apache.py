"""Apache httpd in front of Gunicorn with the shipped ``deploy/apache/fastboard.conf``:
the web page, the API, the docs and a live event over the WebSocket, all through Apache.

Debian's ``apache2`` runs unprivileged-style from a temporary directory with a main
configuration of the test's own that loads the modules the site needs and includes the
shipped file verbatim. Without apache2 the test skips, except under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from websockets.asyncio.client import connect

from dev.stack import free_port
from fastboard.headers import API_CSP
from fastboard.resources import web_root
from fastboard.serve import gunicorn_command, gunicorn_env
from tests.stack.conftest import register, stack_env, unavailable
from tests.stack.fixtures import forget_redis_keys
from tests.stack.live_clients import receive, subscribe
from tests.stack.processes import serving
from tests.stack.waiting import until

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

SITE = Path(__file__).parents[2] / "deploy" / "apache" / "fastboard.conf"
MODULES_DIR = Path("/usr/lib/apache2/modules")
MODULES = {
    "mpm_event": "mod_mpm_event.so",
    "authz_core": "mod_authz_core.so",
    "authz_host": "mod_authz_host.so",
    "mime": "mod_mime.so",
    "dir": "mod_dir.so",
    "headers": "mod_headers.so",
    "proxy": "mod_proxy.so",
    "proxy_http": "mod_proxy_http.so",
}


@pytest.fixture(scope="module")
def apache() -> str:
    binary = shutil.which("apache2") or "/usr/sbin/apache2"
    if not os.access(binary, os.X_OK) or not MODULES_DIR.is_dir():
        unavailable("apache2 is not installed (Debian: apt-get install apache2)")
    return binary


def _user_directives() -> str:
    """Apache refuses to serve as root: its children become an unprivileged user, which
    can read the package's web directory and reach Gunicorn over loopback TCP."""
    if os.geteuid() != 0:
        return ""
    for user, group in (("www-data", "www-data"), ("nobody", "nogroup")):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return f"User {user}\nGroup {group}\n"
    pytest.fail("no unprivileged user for apache2's children")


def main_conf(workdir: Path, port: int, upstream: str) -> Path:
    modules = "\n".join(
        f"LoadModule {name}_module {MODULES_DIR / file}" for name, file in MODULES.items()
    )
    conf = workdir / "apache2.conf"
    conf.write_text(
        f"""ServerRoot "{workdir}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{workdir}/apache2.pid"
DefaultRuntimeDir "{workdir}"
ErrorLog "{workdir}/error.log"
LogLevel warn
{_user_directives()}{modules}
TypesConfig /etc/mime.types
Define FASTBOARD_PORT {port}
Define FASTBOARD_UPSTREAM {upstream}
Define FASTBOARD_WEB "{web_root()}"
Include "{SITE}"
"""
    )
    return conf


@dataclass
class Front:
    url: str
    app_log: Path


@pytest.fixture(scope="module")
def front(
    apache: str,
    stack_database_url: str,
    redis_url: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Front]:
    workdir = tmp_path_factory.mktemp("apache")
    app_port, port = free_port(), free_port()
    env = stack_env(stack_database_url, workdir, redis_url)
    app_env = gunicorn_env(
        bind=f"127.0.0.1:{app_port}", workers=1, metrics_dir=workdir / "metrics", base=env
    )
    conf = main_conf(workdir, port, f"http://127.0.0.1:{app_port}")
    app_log = workdir / "gunicorn.log"
    try:
        with (
            serving(
                gunicorn_command(),
                probe=f"http://127.0.0.1:{app_port}/health",
                output=app_log,
                boot_timeout=30,
                stop=signal.SIGTERM,
                stop_timeout=15,
                env=app_env,
            ),
            serving(
                [apache, "-f", str(conf), "-DFOREGROUND"],
                probe=f"http://127.0.0.1:{port}/health",
                output=workdir / "apache2.out",
                boot_timeout=30,
                stop=signal.SIGTERM,
                stop_timeout=15,
            ),
        ):
            yield Front(f"http://127.0.0.1:{port}", app_log)
    finally:
        forget_redis_keys(redis_url, env)


async def test_the_web_ui_is_served_by_apache_with_its_headers(front: Front) -> None:
    stylesheet = next(path for path in (web_root() / "assets").iterdir() if path.suffix == ".css")
    async with httpx.AsyncClient(base_url=front.url, timeout=15) as client:
        page = await client.get("/")
        # A page of the single-page app: index.html, routed in the browser.
        deep = await client.get("/article/some-article")
        versioned = await client.get(f"/assets/{stylesheet.name}", params={"v": "3"})
        missing = await client.get("/assets/no-such-file.css")
        dotted = await client.get("/no-such-file.txt")
        api = await client.get("/api/tags")
    index = (web_root() / "index.html").read_text()
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text == index
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert (deep.status_code, deep.text) == (200, index)
    assert versioned.status_code == 200
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert versioned.text == stylesheet.read_text()
    assert (missing.status_code, dotted.status_code) == (404, 404)
    # Proxied answers keep the app's own headers: its JSON policy, no file caching.
    assert api.headers.get_list("content-security-policy") == [API_CSP]
    for name in ("x-content-type-options", "x-frame-options", "referrer-policy"):
        assert len(api.headers.get_list(name)) == 1, name
    assert api.headers.get("cache-control") != "no-cache"


async def test_the_api_and_the_docs_go_through_apache(front: Front) -> None:
    async with httpx.AsyncClient(base_url=front.url, timeout=15) as client:
        _, token = await register(client)
        auth = {"Authorization": f"Token {token}"}
        article = {"article": {"title": "Through Apache", "description": "d", "body": "b"}}
        created = await client.post("/api/articles", json=article, headers=auth)
        fetched = await client.get(f"/api/articles/{created.json()['article']['slug']}")
        missing = await client.get(f"/api/articles/no-such-{uuid4().hex}")
        schema = await client.get("/openapi.json")
        docs = await client.get("/docs")
        health = await client.get("/health")

    assert created.status_code == 201
    assert fetched.json()["article"]["title"] == "Through Apache"
    assert missing.status_code == 404  # the app's answer, untouched
    assert "errors" in missing.json()
    assert schema.json()["info"]["title"]
    assert docs.status_code == 200
    assert health.status_code == 200


async def test_x_forwarded_for_is_overwritten_not_appended(front: Front) -> None:
    rid = f"apache-{uuid4().hex}"
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Request-ID": rid}
    async with httpx.AsyncClient(base_url=front.url, timeout=15) as client:
        assert (await client.get("/api/tags", headers=headers)).status_code == 200

    def logged() -> list[dict[str, Any]]:
        lines = front.app_log.read_text().splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{")]
        return [r for r in records if r.get("request_id") == rid and r.get("path") == "/api/tags"]

    await until(lambda: bool(logged()), seconds=15)  # written once the answer is out
    assert {r["client"] for r in logged()} == {"127.0.0.1"}


async def test_a_live_event_arrives_over_apaches_websocket_tunnel(front: Front) -> None:
    ws_url = front.url.replace("http://", "ws://") + "/api/live"
    async with (
        httpx.AsyncClient(base_url=front.url, timeout=15) as client,
        # A browser on the site sends its own origin: Apache keeps the Host that matches it.
        connect(ws_url, origin=front.url) as ws,  # type: ignore[arg-type]
    ):
        await subscribe(ws, "articles")
        _, token = await register(client)
        article = {"article": {"title": "Live through Apache", "description": "d", "body": "b"}}
        created = await client.post(
            "/api/articles", json=article, headers={"Authorization": f"Token {token}"}
        )
        event = await receive(ws)

    assert created.status_code == 201
    assert event["event"] == "article.created"
    assert event["data"]["slug"] == created.json()["article"]["slug"]
