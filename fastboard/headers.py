"""Security headers on every HTTP answer of the app itself, NGINX or not.

A direct Gunicorn deployment has no NGINX to add them, so the app sends them: answers
that are JSON (the API, errors, cached reads) get a policy that lets them do nothing in a
browser, and pages that set a policy of their own (the web UI, /docs, /redoc) keep it.
NGINX hides the app's copies of the headers it sets itself, so a client sees each once.

HSTS goes only on answers to requests that came over TLS: ``scope["scheme"]`` is
``https`` when the client spoke TLS to Uvicorn, or when a trusted proxy (Gunicorn's
``forwarded_allow_ips``, ``fastboard.worker.TrustedProxyHeaders``) said so in
``X-Forwarded-Proto``. Over plain HTTP a browser ignores it anyway, and a client that sets
``X-Forwarded-Proto`` itself is not trusted to.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A JSON answer needs nothing: no script, no style, no frame, no plugin.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Two years, the HSTS preload list's minimum; subdomains too (the board owns its host).
HSTS = "max-age=63072000; includeSubDomains"

# Sent unless the answer has the header already (``latin-1`` names, lowercase as ASGI has them).
DEFAULTS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"content-security-policy", API_CSP.encode()),
)
_HSTS = (b"strict-transport-security", HSTS.encode())


class SecurityHeaders:
    """Adds :data:`DEFAULTS` (and HSTS over TLS) to every HTTP answer lacking them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [pair for pair in DEFAULTS if pair[0] not in present]
                if tls and _HSTS[0] not in present:
                    headers.append(_HSTS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
