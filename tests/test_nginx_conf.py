"""The NGINX site rendered from the packaged template, without running NGINX (the stack
tests run it for real)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fastboard.cli import main
from fastboard.headers import HSTS as APP_HSTS
from fastboard.nginx_conf import (
    HSTS,
    NGINX_UPSTREAM_KEEPALIVE_TIMEOUT,
    NginxError,
    RateLimits,
    Tls,
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


def test_no_trusted_proxies_means_x_forwarded_for_is_never_read() -> None:
    rendered = site()
    assert "set_real_ip_from" not in rendered
    assert "real_ip_header" not in rendered
    # What the app gets is the connection's address alone, never the client's list.
    assert rendered.count("proxy_set_header X-Forwarded-For $remote_addr;") == 2
    assert "$proxy_add_x_forwarded_for" not in rendered


def test_trusted_proxies_name_the_client_recursively() -> None:
    rendered = site(trusted_proxies=["10.0.0.0/8", "192.0.2.7"])
    assert "set_real_ip_from 10.0.0.0/8;" in rendered
    assert "set_real_ip_from 192.0.2.7/32;" in rendered
    assert "real_ip_header X-Forwarded-For;" in rendered
    assert "real_ip_recursive on;" in rendered


def test_refusals_are_sampled_in_the_access_log_and_absent_from_the_error_log() -> None:
    rendered = site()
    assert re.search(r"access_log \S+ fastboard_json .* if=\$fastboard_loggable;", rendered)
    # NGINX's own 429s only (no upstream status): the app's are always logged.
    assert re.search(
        r'map "\$status:\$upstream_status" \$fastboard_loggable \{\s*"429:"\s+\$fastboard_refusal',
        rendered,
    )
    assert re.search(
        r"split_clients \$request_id \$fastboard_refusal_sampled \{\s*1%\s+1;", rendered
    )
    assert "limit_req_log_level info;" in rendered
    assert "limit_conn_log_level info;" in rendered


def test_requests_in_progress_per_address_are_limited() -> None:
    rendered = site(limits=RateLimits(connections=7))
    assert "limit_conn fastboard_addr 7;" in rendered
    assert "proxy_request_buffering on;" in rendered
    with pytest.raises(NginxError, match="not a connection limit"):
        site(limits=RateLimits(connections=70_000))


def test_without_a_certificate_there_is_one_plain_http_server() -> None:
    rendered = site()
    assert rendered.count("server {") == 1
    assert "listen 127.0.0.1:8080;" in rendered
    assert " ssl" not in rendered.split("server {")[1].split("location")[0]
    assert "return 301" not in rendered


def test_with_a_certificate_https_serves_and_http_redirects() -> None:
    tls = Tls(Path("/etc/tls/board.pem"), Path("/etc/tls/board.key"), listen="8443")
    rendered = site(tls=tls, acme_root=Path("/var/www/acme"))
    main, redirect = rendered.split("\nserver {")[1:]
    assert "listen 8443 ssl http2;" in main
    assert "ssl_certificate /etc/tls/board.pem;" in main
    assert "ssl_certificate_key /etc/tls/board.key;" in main
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in main
    assert "ssl_session_cache shared:" in main
    assert "acme-challenge" not in main
    assert "listen 127.0.0.1:8080;" in redirect
    assert "return 301 https://$host:8443$request_uri;" in redirect
    assert "return 308 https://$host:8443$request_uri;" in redirect
    assert "root /var/www/acme;" in location(redirect, "^~ /.well-known/acme-challenge/")
    assert "return 301 https://$host$request_uri;" in site(tls=Tls(Path("/c"), Path("/k")))


def redirect_server(rendered: str) -> str:
    return rendered.split("\nserver {")[2]


def test_the_redirect_names_the_sites_own_host_not_the_clients() -> None:
    """Else "Host: evil.example" gets a redirect to https://evil.example, which a shared
    cache in front could hand to everyone."""
    tls = Tls(Path("/c"), Path("/k"), listen="8443")
    redirect = redirect_server(site(tls=tls, server_name="board.example www.board.example"))
    assert "return 301 https://board.example:8443$request_uri;" in redirect
    assert "return 308 https://board.example:8443$request_uri;" in redirect
    assert "$host" not in redirect
    assert "Cache-Control" not in redirect


@pytest.mark.parametrize("server_name", ["_", "*.board.example", ".board.example", "~^b\\d+$"])
def test_without_one_plain_name_the_redirect_keeps_the_host_privately(server_name: str) -> None:
    redirect = redirect_server(site(tls=Tls(Path("/c"), Path("/k")), server_name=server_name))
    assert "return 301 https://$host$request_uri;" in redirect
    assert "add_header Cache-Control private;" in location(redirect, "/")


def test_the_redirect_server_logs_like_the_site_with_redirects_sampled() -> None:
    """Without its own access_log it wrote NGINX's default log: every line of a flood."""
    rendered = site(tls=Tls(Path("/c"), Path("/k")))
    redirect = redirect_server(rendered)
    log = "access_log /var/log/nginx/fastboard.access.log fastboard_json buffer=64k flush=1s"
    assert f"{log} if=$fastboard_redirect_loggable;" in redirect
    sampling = re.search(r"map \$status \$fastboard_redirect_loggable \{([^}]*)\}", rendered)
    assert sampling is not None
    rules = dict(line.split() for line in sampling.group(1).strip().rstrip(";").split(";\n"))
    assert rules == {
        "301": "$fastboard_refusal_sampled",
        "308": "$fastboard_refusal_sampled",
        "default": "1",
    }


def test_hsts_is_the_apps_value_sent_by_nginx_alone_over_tls() -> None:
    rendered = site()
    assert HSTS == APP_HSTS
    assert re.search(rf'map \$https \$fastboard_hsts \{{\s*on\s+"{re.escape(HSTS)}";', rendered)
    assert "proxy_hide_header Strict-Transport-Security;" in rendered
    # Server-wide and restated where a location declares headers of its own.
    assert rendered.count("add_header Strict-Transport-Security $fastboard_hsts always;") == 2


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("FASTBOARD_NGINX_GENERAL_RATE", "7r/s", "zone=fastboard_api:10m rate=7r/s;"),
        ("FASTBOARD_NGINX_AUTH_BURST", "9", "limit_req zone=fastboard_auth burst=9 nodelay;"),
        ("FASTBOARD_NGINX_SEARCH_RATE", "2r/m", "zone=fastboard_search:10m rate=2r/m;"),
        ("FASTBOARD_NGINX_CONNECTIONS_PER_ADDRESS", "33", "limit_conn fastboard_addr 33;"),
        ("FASTBOARD_NGINX_UPSTREAMS", "10.0.0.2:8000, 10.0.0.3:8000", "server 10.0.0.3:8000"),
        ("FASTBOARD_NGINX_TRUSTED_PROXIES", "10.1.0.0/16", "set_real_ip_from 10.1.0.0/16;"),
        ("FASTBOARD_NGINX_ACME_ROOT", "/var/www/acme", "root /var/www/acme;"),
    ],
)
def test_every_setting_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["nginx-conf"]) == 0
    assert expected in capsys.readouterr().out


def test_a_flag_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FASTBOARD_NGINX_GENERAL_RATE", "7r/s")
    monkeypatch.setenv("FASTBOARD_NGINX_TRUSTED_PROXIES", "10.1.0.0/16")
    flags = ["--general-rate", "3r/s", "--trusted-proxy", "10.2.0.0/16", "--upstream", "h:81"]
    assert main(["nginx-conf", *flags, "--trusted-proxy", "10.3.0.1"]) == 0
    out = capsys.readouterr().out
    assert "zone=fastboard_api:10m rate=3r/s;" in out
    assert re.findall(r"set_real_ip_from (\S+);", out) == ["10.2.0.0/16", "10.3.0.1/32"]
    assert "server h:81 max_fails=0;" in out


@pytest.mark.parametrize(
    "flags",
    [
        ["--general-rate", "20/s"],
        ["--auth-rate", "0r/m"],
        ["--search-burst", "-1"],
        ["--connections-per-address", "0"],
        ["--trusted-proxy", "10.0.0.0/33"],
        ["--upstream", "no-port"],
    ],
)
def test_a_malformed_flag_is_a_usage_error(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["nginx-conf", *flags])
    assert exited.value.code == 2
    assert f"argument {flags[0]}: not a" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FASTBOARD_NGINX_GENERAL_RATE", "lots"),
        ("FASTBOARD_NGINX_TRUSTED_PROXIES", "10.0.0.1,proxy.example"),
        ("FASTBOARD_NGINX_TLS_CERT", "/etc/tls/board.pem"),  # and no key
    ],
)
def test_a_malformed_variable_is_named_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["nginx-conf"]) == 2
    assert variable in capsys.readouterr().err


def test_tls_flags_render_the_https_server(capsys: pytest.CaptureFixture[str]) -> None:
    flags = ["--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--tls-listen", "127.0.0.1:8443"]
    assert main(["nginx-conf", "--listen", "127.0.0.1:8080", *flags]) == 0
    out = capsys.readouterr().out
    assert "listen 127.0.0.1:8443 ssl http2;" in out
    assert "return 301 https://$host:8443$request_uri;" in out
    assert main(["nginx-conf", "--tls-cert", "/c.pem"]) == 2
    assert "give both" in capsys.readouterr().err


def test_tls_from_the_environment_with_the_listen_from_a_flag(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FASTBOARD_NGINX_TLS_CERT", "/etc/tls/board.pem")
    monkeypatch.setenv("FASTBOARD_NGINX_TLS_KEY", "/etc/tls/board.key")
    monkeypatch.setenv("FASTBOARD_NGINX_TLS_LISTEN", "8443")
    assert main(["nginx-conf", "--tls-listen", "9443"]) == 0
    out = capsys.readouterr().out
    assert "ssl_certificate /etc/tls/board.pem;" in out
    assert "listen 9443 ssl http2;" in out
    assert "return 301 https://$host:9443$request_uri;" in out


def test_tls_flags_keep_the_listen_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FASTBOARD_NGINX_TLS_LISTEN", "8443")
    assert main(["nginx-conf", "--tls-cert", "/c.pem", "--tls-key", "/k.pem"]) == 0
    out = capsys.readouterr().out
    assert "listen 8443 ssl http2;" in out
    assert "listen 443" not in out


def test_a_certificate_from_the_environment_pairs_with_a_key_flag(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FASTBOARD_NGINX_TLS_CERT", "/etc/tls/board.pem")
    monkeypatch.setenv("FASTBOARD_NGINX_TLS_KEY", "/etc/tls/old.key")
    assert main(["nginx-conf", "--tls-key", "/etc/tls/board.key"]) == 0
    out = capsys.readouterr().out
    assert "ssl_certificate /etc/tls/board.pem;" in out
    assert "ssl_certificate_key /etc/tls/board.key;" in out
    monkeypatch.delenv("FASTBOARD_NGINX_TLS_KEY")
    assert main(["nginx-conf", "--tls-key", "/etc/tls/board.key"]) == 0
    assert "ssl_certificate_key /etc/tls/board.key;" in capsys.readouterr().out
    assert main(["nginx-conf", "--tls-listen", "8443"]) == 2  # still no key anywhere
    assert "give both" in capsys.readouterr().err
