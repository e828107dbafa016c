"""HTTPS through NGINX with a certificate the test makes: the UI, the API and the live
WebSocket over TLS, HTTP/2, modern protocol versions only, HSTS exactly once on every
answer, and plain HTTP redirected with its path and query."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect

from dev.stack import RunningStack, free_port
from fastboard.headers import HSTS
from fastboard.nginx_conf import Tls
from tests.stack.conftest import StackFactory, nginx_log
from tests.stack.live_clients import subscribe
from tests.stack.test_front import logged

pytestmark = [pytest.mark.stack, pytest.mark.anyio]


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own authority: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fastboard test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


CHALLENGE = "acme-token-Zx81"


@pytest.fixture
def tls_stack(make_stack: StackFactory, tmp_path: Path) -> RunningStack:
    cert, key = self_signed(tmp_path)
    challenges = tmp_path / "acme" / ".well-known" / "acme-challenge"
    challenges.mkdir(parents=True)
    (challenges / CHALLENGE).write_text(f"{CHALLENGE}.key-authorization")
    return make_stack(
        workers=1,
        tls=Tls(cert, key, listen=f"127.0.0.1:{free_port()}"),
        acme_root=tmp_path / "acme",
    )


def trusting(stack: RunningStack) -> ssl.SSLContext:
    tls_conf = stack.workdir / "fastboard.conf"
    cert = next(
        line.split()[1].rstrip(";")
        for line in tls_conf.read_text().splitlines()
        if line.strip().startswith("ssl_certificate ")
    )
    return ssl.create_default_context(cafile=cert)


@pytest.fixture
async def client(tls_stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=tls_stack.url, verify=trusting(tls_stack), http2=True, timeout=15
    ) as client:
        yield client


async def test_ui_api_and_errors_over_http2_with_hsts_exactly_once(
    client: httpx.AsyncClient,
) -> None:
    answers = {
        "/": await client.get("/"),
        "/assets/style.css": await client.get("/assets/style.css"),
        "/api/tags": await client.get("/api/tags"),
        "/api/nope": await client.get("/api/nope"),  # the app's 404
        "/assets/nope.css": await client.get("/assets/nope.css"),  # NGINX's 404
        "/metrics": await client.get("/metrics"),
    }
    expected = {"/": 200, "/assets/style.css": 200, "/api/tags": 200, "/api/nope": 404}
    for path, response in answers.items():
        assert response.status_code == expected.get(path, 404 if "nope" in path else 200), path
        assert response.http_version == "HTTP/2", path
        assert response.headers.get_list("strict-transport-security") == [HSTS], path


async def test_nginx_error_pages_carry_hsts_too(tls_stack: RunningStack) -> None:
    async with httpx.AsyncClient(base_url=tls_stack.url, verify=trusting(tls_stack)) as client:
        big = await client.post("/api/articles", content=b"x" * (2 * 1024 * 1024))
    assert big.status_code == 413
    assert big.headers.get_list("strict-transport-security") == [HSTS]


async def test_the_app_is_told_the_request_came_over_tls(client: httpx.AsyncClient) -> None:
    """X-Forwarded-Proto https: the app's own redirects stay on HTTPS. (Host is $host,
    without the port: a site on a port of its own gets redirects without it.)"""
    response = await client.get("/api/tags/")
    assert response.status_code == 307
    assert response.headers["location"] == "https://127.0.0.1/api/tags"


async def test_live_updates_over_tls(tls_stack: RunningStack) -> None:
    url = tls_stack.url.replace("https://", "wss://") + "/api/live"
    async with connect(url, ssl=trusting(tls_stack), open_timeout=15) as ws:
        await subscribe(ws, "articles")


async def test_plain_http_redirects_to_https_keeping_path_and_query(
    tls_stack: RunningStack,
) -> None:
    assert tls_stack.http_url is not None
    async with httpx.AsyncClient(base_url=tls_stack.http_url, timeout=15) as plain:
        get = await plain.get("/api/articles?tag=x&limit=5")
        post = await plain.post("/api/users/login", json={})
    target = f"{tls_stack.url}/api/articles?tag=x&limit=5"
    assert (get.status_code, get.headers["location"]) == (301, target)
    # Another method keeps its method and body only through a 308.
    assert (post.status_code, post.headers["location"]) == (308, f"{tls_stack.url}/api/users/login")
    assert "strict-transport-security" not in get.headers


async def test_a_redirect_for_any_host_is_kept_from_shared_caches(
    tls_stack: RunningStack,
) -> None:
    """The stack's server_name is "_": the Host is echoed (the browser asked for it), but
    marked private, so a cache in front cannot hand it to anyone else. (A site with a
    name redirects to that name: tests/test_nginx_conf.py.)"""
    assert tls_stack.http_url is not None
    port = tls_stack.url.rsplit(":", 1)[1]
    async with httpx.AsyncClient(base_url=tls_stack.http_url, timeout=15) as plain:
        spoofed = await plain.get("/x", headers={"Host": "evil.example"})
    assert spoofed.headers["location"] == f"https://evil.example:{port}/x"
    assert spoofed.headers["cache-control"] == "private"


async def test_certificate_challenges_are_answered_over_plain_http(
    tls_stack: RunningStack,
) -> None:
    """A renewal (certbot --webroot) must not depend on the certificate it renews."""
    assert tls_stack.http_url is not None
    request_id = f"acme-{uuid4().hex}"
    async with httpx.AsyncClient(base_url=tls_stack.http_url, timeout=15) as plain:
        token = await plain.get(
            f"/.well-known/acme-challenge/{CHALLENGE}", headers={"X-Request-Id": request_id}
        )
        missing = await plain.get("/.well-known/acme-challenge/nope")
    assert token.status_code == 200
    assert token.text == f"{CHALLENGE}.key-authorization"
    assert missing.status_code == 404
    # In the site's JSON access log (not NGINX's default one), like the site's requests.
    record = await logged(partial(nginx_log, tls_stack), request_id)
    assert (record["uri"], record["status"]) == (f"/.well-known/acme-challenge/{CHALLENGE}", 200)


def handshake(stack: RunningStack, version: ssl.TLSVersion, alpn: list[str]) -> tuple[str, str]:
    """(protocol version, ALPN choice) of one handshake pinned to ``version``."""
    context = trusting(stack)
    context.minimum_version = context.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        # Let this client offer what OpenSSL's defaults would not, so the server decides.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.set_alpn_protocols(alpn)
    host, port = stack.url.removeprefix("https://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return str(tls.version()), str(tls.selected_alpn_protocol())


# Python warns that the old versions are old: offering them is the point here.
@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_only_tls_1_2_and_1_3_are_accepted_and_alpn_picks_h2(tls_stack: RunningStack) -> None:
    assert handshake(tls_stack, ssl.TLSVersion.TLSv1_3, ["h2", "http/1.1"]) == ("TLSv1.3", "h2")
    assert handshake(tls_stack, ssl.TLSVersion.TLSv1_2, ["h2", "http/1.1"]) == ("TLSv1.2", "h2")
    assert handshake(tls_stack, ssl.TLSVersion.TLSv1_2, ["http/1.1"]) == ("TLSv1.2", "http/1.1")
    for old in (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1):
        with pytest.raises(ssl.SSLError):
            handshake(tls_stack, old, ["http/1.1"])
