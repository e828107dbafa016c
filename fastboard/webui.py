"""The web UI as the app serves it (development, or ``fastboard serve`` without NGINX).

NGINX serves the same files in production with the same rules (``templates/nginx_site.conf``
renders :data:`WEB_CSP` from here):

- ``/assets/``, ``/app/`` (the UI's ES modules) and ``/vendor/`` (vendored libraries) are
  files or a 404;
- a path whose first segment has a dot (``/index.html``, ``/robots.txt``) is a file of
  ``web/`` itself or a 404;
- every other GET outside the application's own paths (``/api``, ``/docs``, ``/health``, …)
  is a page of the single-page app: ``index.html``, whose script routes it in the browser
  (``/article/<slug>``, ``/profile/<name>``, …). Only the first segment is looked at, so a
  username with a dot (``/profile/ada.lovelace``) is still a page.

Caching: ``index.html`` is revalidated on every use (``no-cache``; a 304 costs no body), so
a deploy shows at once. A file requested with ``?v=`` is cached for a year (``immutable``):
whoever writes the URL changes the version when the file changes. Any other file is
revalidated like the page. The development server revalidates everything, versioned or
not, so an edited file shows on the next reload.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from fastboard.middleware import ROUTE_TEMPLATE

# The one Content-Security-Policy of the UI, in the app and in NGINX alike. Scripts and
# styles only from the site's own files (no inline script, no eval); images may come from
# anywhere over https (user avatars and Markdown images); the live updates' WebSocket.
WEB_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https:",
        "connect-src 'self' ws: wss:",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": WEB_CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
REVALIDATE = "no-cache"
FOREVER = "public, max-age=31536000, immutable"

STATIC_DIRS = ("assets", "app", "vendor")
# First path segments the application answers itself; a miss under them is a 404.
APPLICATION_PATHS = frozenset({"api", "docs", "redoc", "health", "ready", "metrics"})
INDEX = "index.html"
# The metrics label of every page: never the raw path, whose values are unbounded.
PAGE_ROUTE = "<web page>"


def is_page(path: str) -> bool:
    """Whether a path is one of the single-page app's routes (answered with index.html)."""
    first = path.lstrip("/").split("/", 1)[0]
    return "." not in first and first not in APPLICATION_PATHS and first not in STATIC_DIRS


def is_versioned(query_string: bytes) -> bool:
    """A non-empty ``v`` parameter, as NGINX's ``$arg_v`` sees it."""
    return any(part.startswith(b"v=") and len(part) > 2 for part in query_string.split(b"&"))


class WebFiles(StaticFiles):
    """StaticFiles with the UI's security headers and cache policy on every file."""

    def __init__(self, *, directory: Path, development: bool) -> None:
        super().__init__(directory=directory)
        self.development = development

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        if self.development or path == INDEX or not is_versioned(scope["query_string"]):
            response.headers["Cache-Control"] = REVALIDATE
        else:
            response.headers["Cache-Control"] = FOREVER
        return response


class WebPages:
    """The router's default app, called for a request no route matched: a page gets
    index.html, a top-level file of web/ is served, anything else keeps the usual 404."""

    def __init__(self, root: WebFiles, fallback: ASGIApp) -> None:
        self.root = root
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        top_level_file = path.count("/") == 1 and "." in path
        if scope["type"] != "http" or not (is_page(path) or top_level_file):
            await self.fallback(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        if top_level_file:
            response = await self.root.get_response(path.removeprefix("/"), scope)
        else:
            scope[ROUTE_TEMPLATE] = PAGE_ROUTE
            response = await self.root.get_response(INDEX, scope)
        await response(scope, receive, send)


def install_web_ui(router: Router, web: Path, *, development: bool) -> None:
    """Mount the static directories of ``web`` and answer pages through ``router``'s default."""
    # Module scripts must be served as JavaScript, and .mjs is missing from the types
    # Python knows where no /etc/mime.types adds it.
    mimetypes.add_type("text/javascript", ".mjs")
    for name in STATIC_DIRS:
        if (web / name).is_dir():
            router.mount(f"/{name}", WebFiles(directory=web / name, development=development))
    router.default = WebPages(WebFiles(directory=web, development=development), router.default)
