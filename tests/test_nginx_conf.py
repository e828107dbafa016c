"""The NGINX site rendered from the packaged template, without running NGINX (the stack
tests run it for real)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fastboard.nginx_conf import (
    NGINX_UPSTREAM_KEEPALIVE_TIMEOUT,
    NginxError,
    RateLimits,
    fill,
    render_site_conf,
    retry_after_seconds,
)
from fastboard.resources import web_root
from fastboard.webui import WEB_CSP


def site(**overrides: object) -> str:
    values: dict[str, object] = {
        "listen": "127.0.0.1:8080",
        "upstream_socket": Path("/run/fastboard/gunicorn.sock"),
        "web_root": web_root(),
        "access_log": "/var/log/nginx/fastboard.access.log",
        **overrides,
    }
    return render_site_conf(**values)  # type: ignore[arg-type]


def test_every_placeholder_is_filled() -> None:
    rendered = site()
    assert re.search(r"\{\{\s*\w+\s*\}\}", rendered) is None
    assert f"root {web_root()};" in rendered
    assert f"keepalive_timeout {NGINX_UPSTREAM_KEEPALIVE_TIMEOUT}s;" in rendered


def test_the_upstream_is_the_gunicorn_socket_listed_once_per_attempt() -> None:
    servers = re.findall(r"^\s*server (\S+) max_fails=0", site(), flags=re.MULTILINE)
    assert servers == ["unix:/run/fastboard/gunicorn.sock"] * 3


def test_only_existing_endpoints_are_proxied() -> None:
    """No location for an endpoint the app does not have."""
    # A location's proxy_pass comes before the next location (an "if" block may come between).
    proxied = re.findall(r"location (?:= )?(\S+) \{(?:(?!location ).)*?proxy_pass", site(), re.S)
    assert sorted(proxied) == sorted(
        ["/api/", "/api/users/login", "/api/users/token", "/api/users", "/api/user/password",
         "/api/user",
         "/_fastboard/delete-account", "/docs", "/redoc", "/openapi.json",
         "/health", "/ready", "/metrics", "/api/live", "/api/search"]
    )  # fmt: skip


def test_only_the_live_location_upgrades_and_it_restates_the_proxy_headers() -> None:
    live = re.search(r"location = /api/live \{(.*?)\n    \}", site(), re.S)
    assert live is not None
    block = live.group(1)
    assert "proxy_set_header Upgrade $http_upgrade;" in block
    assert "proxy_set_header Connection $fastboard_connection_upgrade;" in block
    # Declaring any proxy_set_header drops the inherited ones: each must be restated.
    for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-ID"):
        assert f"proxy_set_header {header} " in block
    assert "limit_conn fastboard_live " in block
    assert site().count("$http_upgrade") == 2  # the map and this location


def test_rate_limits_and_their_retry_after_follow_the_limits_given() -> None:
    rendered = site(limits=RateLimits(general="5r/s", general_burst=7, auth="3r/m", auth_burst=2))
    assert "zone=fastboard_api:10m rate=5r/s;" in rendered
    assert "zone=fastboard_auth:10m rate=3r/m;" in rendered
    assert "burst=7 nodelay;" in rendered
    assert "burst=2 nodelay;" in rendered
    assert "/api/users/login      20;" in rendered


CREDENTIAL_LOCATIONS = (
    "/api/users/login",
    "/api/users/token",
    "/api/users",
    "/api/user/password",
    "/_fastboard/delete-account",
)


@pytest.mark.parametrize("path", CREDENTIAL_LOCATIONS)
def test_every_request_that_checks_a_password_is_in_the_login_zone(path: str) -> None:
    """Under the general limit instead, a credential endpoint would be a way around the
    login limit (the form login once was: 20 guesses a second instead of 10 a minute)."""
    rendered = site(limits=RateLimits(auth="3r/m"))
    block = re.search(rf"location = {re.escape(path)} \{{(.*?)\n    \}}", rendered, re.S)
    assert block is not None, path
    assert "limit_req zone=fastboard_auth " in block.group(1)
    assert "zone=fastboard_api " not in block.group(1)
    # A 429 from the login zone tells the client to wait one token of that zone.
    retry = re.search(rf"^\s*{re.escape(path)}\s+(\d+);", rendered, re.M)
    assert retry is not None, path
    assert retry.group(1) == "20", path


def test_search_has_a_zone_of_its_own_within_the_general_one() -> None:
    rendered = site(limits=RateLimits(general="50r/s", search="3r/m", search_burst=4))
    block = rendered[rendered.index("location = /api/search {") :]
    block = block[: block.index("}")]

    assert "zone=fastboard_search:10m rate=3r/m;" in rendered
    assert "limit_req zone=fastboard_search burst=4 nodelay;" in block
    assert "limit_req zone=fastboard_api " in block
    assert "proxy_pass http://fastboard_app;" in block
    assert "/api/search           20;" in rendered  # Retry-After: one token at 3r/m


@pytest.mark.parametrize(("rate", "seconds"), [("20r/s", 1), ("10r/m", 6), ("7r/m", 9)])
def test_retry_after_is_one_token_of_the_zone(rate: str, seconds: int) -> None:
    assert retry_after_seconds(rate) == seconds


@pytest.mark.parametrize("rate", ["0r/s", "20/s", "fast", "10r/h"])
def test_a_rate_nginx_would_not_take_is_refused(rate: str) -> None:
    with pytest.raises(NginxError, match="not an NGINX rate"):
        retry_after_seconds(rate)


def test_a_placeholder_without_a_value_is_an_error() -> None:
    with pytest.raises(NginxError, match="no value for placeholder"):
        fill("listen {{listen}}; root {{web_root}};", {"listen": 80})


def location(rendered: str, head: str) -> str:
    """The text of the location block opened by ``location <head> {`` (nested ones included)."""
    start = rendered.index(f"location {head} {{")
    depth = 0
    for end in range(start, len(rendered)):
        depth += {"{": 1, "}": -1}.get(rendered[end], 0)
        if rendered[end] == "}" and depth == 0:
            return rendered[start : end + 1]
    raise AssertionError(f"unclosed location {head}")


def test_the_ui_policy_is_the_one_the_dev_server_sends() -> None:
    policy = re.search(r"map \$uri \$fastboard_csp \{\s*default \"([^\"]+)\";", site())
    assert policy is not None
    assert policy.group(1) == WEB_CSP


def test_module_scripts_are_javascript_whatever_the_systems_mime_types() -> None:
    rendered = site()
    for head in ("^~ /app/", "^~ /vendor/"):
        assert "application/javascript js mjs;" in location(rendered, head)


def test_pages_fall_back_to_index_html_but_top_level_files_do_not() -> None:
    pages = location(site(), "/")
    assert "try_files $uri /index.html;" in pages
    nested = location(pages, '~ "^/[^/]*\\.[^/]*$"')
    assert "try_files $uri =404;" in nested
    assert 'set $fastboard_cache_control "no-cache";' in location(site(), "= /index.html")
