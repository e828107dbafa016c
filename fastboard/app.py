"""The application factory: routers, middleware, error handlers and the lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
import fastapi_offline
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from fastboard import health, metrics
from fastboard.articles.router import router as articles_router
from fastboard.articles.router import tags_router
from fastboard.boards.router import router as boards_router
from fastboard.cache import install_read_cache
from fastboard.comments.router import router as comments_router
from fastboard.db import CloseReadSessions, Database
from fastboard.errors import install_error_handlers
from fastboard.guards import InputLimits, RejectNulBytes
from fastboard.headers import SecurityHeaders
from fastboard.history.router import router as history_router
from fastboard.live.events import install_live
from fastboard.live.router import router as live_router
from fastboard.logs import configure_logging
from fastboard.middleware import RequestContext
from fastboard.migrate import upgrade_to_head
from fastboard.moderation.router import router as moderation_router
from fastboard.openapi import install_openapi
from fastboard.profiles.router import router as profiles_router
from fastboard.resources import web_root
from fastboard.search.router import router as search_router
from fastboard.settings import Settings, get_settings
from fastboard.users.router import router as users_router
from fastboard.webui import install_web_ui

log = logging.getLogger(__name__)

GC_YOUNG_THRESHOLD = 15_000
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_ASSETS_URL = "/docs/assets"
# The docs pages load nothing from another host: ReDoc's bundle would fetch its logo
# from a CDN. Only origins are pinned; scripts and styles may do what the bundles need.
DOCS_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
    )
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if settings.should_migrate_on_start:
        # Dev convenience only; production runs `fastboard migrate` once, before workers.
        await anyio.to_thread.run_sync(upgrade_to_head, settings)
    # Everything imported and built so far lives as long as the process: move it out of
    # the garbage collector's sight. Full collections otherwise walk it all, stalling the
    # worker for tens of milliseconds (bench/README.md has the p99 before and after).
    gc.collect()  # what is garbage now would otherwise be frozen for good
    gc.freeze()
    # A request allocates a few hundred containers, nearly all freed by reference counting;
    # at the default threshold (700) the young generation was collected every request or
    # two, walking whatever the requests in flight still hold. Collect it ~20 times less.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    try:
        yield
    finally:
        try:
            # Under Uvicorn its clients were told 1012 already; under other servers, now.
            await app.state.live.close()
            await app.state.read_cache.close()
        finally:
            await app.state.database.dispose()


def _include_api(app: FastAPI) -> None:
    # Each router straight under the app, not under one "/api" router: a request is then
    # matched through one level of included routers instead of two. The most requested
    # first (no two routers' paths overlap, so the order decides nothing else).
    for router in (
        articles_router,
        comments_router,
        tags_router,
        profiles_router,
        users_router,
        boards_router,
        moderation_router,
        history_router,
        search_router,
        live_router,
    ):
        app.include_router(router, prefix="/api")


def _install_docs(app: FastAPI) -> None:
    """Swagger UI and ReDoc from assets shipped in a wheel: /docs works offline."""
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title} — API docs",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
            # No validator badge: it is an image from validator.swagger.io.
            swagger_ui_parameters={"persistAuthorization": True, "validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{title} — API reference",
            redoc_js_url=f"{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page


def _install_web(app: FastAPI, settings: Settings) -> None:
    """The web UI from the package's web/, which NGINX serves in production, so the dev
    server's first page is the product too: static files, and index.html for every page
    of the single-page app (fastboard/webui.py says which paths are pages)."""
    install_web_ui(app.router, web_root(), development=settings.env == "development")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Creates no engine and opens no connection: that happens per worker,
    on first use, after Gunicorn has forked."""
    settings = settings or get_settings()
    configure_logging(settings)
    app = FastAPI(
        title="fastboard",
        summary="A self-hostable community board: the RealWorld Conduit API and more.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.database = Database(settings)

    install_error_handlers(app)
    install_live(app, settings, app.state.database)
    _include_api(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    _install_docs(app)
    install_openapi(app)
    _install_web(app, settings)

    # First added is innermost: CORS, guards, request ids and metrics apply to hits too.
    install_read_cache(app, settings, app.state.database)
    app.add_middleware(CloseReadSessions)
    if settings.cors_origins or settings.cors_origin_regex:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_origin_regex=settings.cors_origin_regex,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(RejectNulBytes)
    app.add_middleware(InputLimits, max_body_bytes=settings.max_body_bytes)
    # Last added is outermost: the request id is set for everything inside it.
    app.add_middleware(RequestContext)
    # Outside it: the 500 RequestContext renders for a bug gets the headers too.
    app.add_middleware(SecurityHeaders)
    return app
