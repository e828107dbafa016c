"""Browser tests: Debian's Chromium driven by Playwright against the real stack
(NGINX → Gunicorn, 2 workers → PostgreSQL + Redis), or against the dev server alone.

A test asks for ``page`` (a fresh browser context, its base URL the stack's NGINX) and
``api`` (API calls through the same NGINX, to set things up); more browsers side by side
come from ``new_context()``. Every page of every context a test opens is watched: a
``console.error``, an uncaught exception or a Content-Security-Policy violation fails the
test unless the test allowed it (``browser_problems.allow(pattern)``). A failed test leaves
a screenshot of each page it had open in its ``tmp_path``.

Without Playwright or Chromium the tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import httpx
import pytest

from dev.nginx import UNLIMITED
from dev.stack import (
    RunningStack,
    free_port,
    http_ok,
    settings_env,
    spawn,
    start_stack,
    stop_process,
    wait_until,
)
from tests.stack.fixtures import SECRET, forget_redis_keys, stack_env, unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
PASSWORD = "correct horse battery staple"
# Reported by the page itself (Playwright does not see the browser's own CSP reports).
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || event.documentURI}:${event.lineNumber}`);
});
"""
# The browser logs every failed request as a console error. An API error is an answer the
# page handles (a 404 article, a 401 on a stale token); a missing script or style is a bug.
API_RESOURCE = re.compile(r"^https?://[^/]+/api/")
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
WEB_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test is a stack test too (``-m "not stack"`` leaves them out), and
    ``-m "not browser"`` leaves out only these."""
    for item in items:
        if item.path.is_relative_to(WEB_TESTS):
            item.add_marker(pytest.mark.stack)
            item.add_marker(pytest.mark.browser)


# ---------------------------------------------------------------------------- the servers


@pytest.fixture(scope="session")
def web_stack_env(
    stack_database_url: str, redis_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The environment of the browser tests' Gunicorn (and of ``fastboard`` commands run
    against its database). Its Redis keys are removed when the session ends."""
    workdir = tmp_path_factory.mktemp("web")
    environment = stack_env(stack_database_url, workdir, redis_url)
    environment["FASTBOARD_WEB_WORKDIR"] = str(workdir)  # read by web_stack, ignored by the app
    yield environment
    forget_redis_keys(redis_url, environment)


@pytest.fixture(scope="session")
def web_stack(nginx: str, web_stack_env: dict[str, str]) -> Iterator[RunningStack]:
    """One stack for every browser test of the session: NGINX with the rate limits lifted
    (the tests sign up many users from one address), Gunicorn with 2 workers, the stack
    tests' PostgreSQL database, the read cache on when Redis answers. Tests share its data,
    so each makes its own users and articles (``api.register()`` names them uniquely)."""
    workdir = Path(web_stack_env["FASTBOARD_WEB_WORKDIR"])
    running = start_stack(
        workdir=workdir, port=free_port(), workers=2, env=web_stack_env, limits=UNLIMITED
    )
    yield running
    running.stop(graceful=True, timeout=30)


@pytest.fixture(scope="session")
def web_url(web_stack: RunningStack) -> str:
    """Where the browser tests' NGINX listens, e.g. ``http://127.0.0.1:41234``."""
    return web_stack.url


@pytest.fixture(scope="session")
def dev_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app alone under Uvicorn on SQLite, as ``make run`` serves it (no NGINX, no
    Gunicorn): fast to start, for tests of the UI that need no production stack."""
    workdir = tmp_path_factory.mktemp("dev-server")
    port = free_port()
    env = settings_env(
        env="development",
        secret_key=SECRET,
        database_url=f"sqlite+aiosqlite:///{workdir}/fastboard.db",
        var_dir=str(workdir / "var"),
        throttle="false",  # the browser tests sign up many users from one address
    )
    command = [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--no-access-log"]
    url = f"http://127.0.0.1:{port}"
    server = spawn(command, env=env, output=workdir / "uvicorn.log", cwd=ROOT)
    try:
        wait_until(lambda: http_ok(f"{url}/ready"), timeout=60, watch=server, what="uvicorn")
        yield url
    finally:
        stop_process(server, signal.SIGTERM, timeout=15)


# ------------------------------------------------------------------------------- the API


@dataclass(frozen=True)
class User:
    username: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


class Api:
    """API calls through the site's front door, to set up what a browser test needs.

    Each helper asserts its call succeeded, so a broken setup fails where it broke.
    """

    def __init__(self, base_url: str, env: dict[str, str] | None = None) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self._env = env

    def close(self) -> None:
        self.http.close()

    def call(
        self, method: str, path: str, *, user: User | None = None, json: Any = None
    ) -> httpx.Response:
        """Any request, e.g. ``api.call("GET", "/api/user", user=ada)``; not checked."""
        return self.http.request(method, path, json=json, headers=user.headers if user else None)

    def _ok(self, response: httpx.Response, *statuses: int) -> dict[str, Any]:
        assert response.status_code in (statuses or (200,)), (
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text}"
        )
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    def register(self, username: str | None = None, *, password: str = PASSWORD) -> User:
        """A new user; the name is unique unless given (any letters: ``"지수"`` works)."""
        name = username or f"user{uuid4().hex[:10]}"
        email = f"{uuid4().hex[:16]}@example.org"
        body = {"user": {"username": name, "email": email, "password": password}}
        user = self._ok(self.http.post("/api/users", json=body), 201)["user"]
        return User(user["username"], email, password, user["token"])

    def create_article(
        self,
        author: User,
        *,
        title: str | None = None,
        body: str = "Some **Markdown** body.",
        description: str = "A description",
        tags: list[str] | None = None,
        board: str | None = None,
    ) -> dict[str, Any]:
        """The created article as the API returns it (``["slug"]`` for its URL)."""
        article: dict[str, Any] = {
            "title": title or f"Article {uuid4().hex[:8]}",
            "description": description,
            "body": body,
            "tagList": tags or [],
        }
        if board is not None:
            article["board"] = board
        response = self.call("POST", "/api/articles", user=author, json={"article": article})
        created: dict[str, Any] = self._ok(response, 201)["article"]
        return created

    def comment(self, author: User, slug: str, body: str) -> dict[str, Any]:
        response = self.call(
            "POST", f"/api/articles/{slug}/comments", user=author, json={"comment": {"body": body}}
        )
        comment: dict[str, Any] = self._ok(response)["comment"]
        return comment

    def set_role(self, user: User, role: str) -> None:
        """Give ``user`` a role (``user``, ``moderator``, ``admin``) as an operator does:
        ``fastboard users set-role`` on the server's database."""
        if self._env is None:
            raise RuntimeError("this Api has no server environment to run fastboard in")
        command = [sys.executable, "-m", "fastboard", "users", "set-role", user.email, role]
        result = subprocess.run(command, env=self._env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr


@pytest.fixture
def api(web_url: str, web_stack_env: dict[str, str]) -> Iterator[Api]:
    """API calls through the browser tests' NGINX."""
    client = Api(web_url, web_stack_env)
    yield client
    client.close()


# --------------------------------------------------------------------------- the browser


def chromium_executable() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def playwright(web_stack: RunningStack) -> Iterator[Playwright]:
    """Started per module, after the stack: while it runs, Playwright's sync API keeps an
    asyncio loop running in this thread, so nothing else may call asyncio.run() meanwhile
    (the stack's database setup, and the async tests of modules run after this one)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (make install)")
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Chromium from the system (Debian's ``chromium``): Playwright's own browser
    downloads are never used."""
    executable = chromium_executable()
    if executable is None:
        unavailable("chromium is not installed (Debian: apt-get install chromium)")
    launched = playwright.chromium.launch(
        executable_path=executable, args=["--no-sandbox"], headless=True
    )
    yield launched
    launched.close()


@dataclass
class BrowserProblems:
    """What went wrong in the test's pages: console errors, uncaught exceptions, CSP
    violations. Checked when the test ends; ``allow`` the ones a test expects."""

    found: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Do not fail on problems matching this regular expression (``re.search``)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [p for p in self.found if not any(a.search(p) for a in self.allowed)]

    def watch(self, page: Page) -> None:
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.found.append(f"uncaught at {page.url}: {error}"))

    def _console(self, page: Page, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        source = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and API_RESOURCE.match(source):
            return
        self.found.append(f"console.error at {page.url}: {message.text} ({source})")


@pytest.fixture
def browser_problems() -> BrowserProblems:
    return BrowserProblems()


class Contexts:
    """``new_context(**options)`` makes another browser context (another person: empty
    cookies and storage), its base URL the stack's unless ``base_url=`` says otherwise;
    options are Playwright's ``Browser.new_context`` ones (``viewport=``, ``locale=``, …)."""

    def __init__(self, browser: Browser, base_url: str, problems: BrowserProblems) -> None:
        self.browser = browser
        self.base_url = base_url
        self.problems = problems
        self.opened: list[BrowserContext] = []

    def __call__(self, **options: Any) -> BrowserContext:
        options.setdefault("base_url", self.base_url)
        context = self.browser.new_context(**options)
        context.set_default_timeout(10_000)
        context.add_init_script(CSP_WATCH)
        context.on("page", self.problems.watch)
        self.opened.append(context)
        return context

    def screenshots(self, directory: Path) -> list[str]:
        """A full-page screenshot of every open page into ``directory``; what was saved."""
        saved = []
        for number, page in enumerate(p for c in self.opened for p in c.pages):
            path = directory / f"failure-{number}.png"
            try:
                page.screenshot(path=path, full_page=True)
            except Exception as exc:  # a crashed page must not hide the test's failure
                saved.append(f"no screenshot of {page.url}: {exc!r}")
            else:
                saved.append(f"{path} ({page.url})")
        return saved

    def close(self) -> None:
        for context in self.opened:
            context.close()


@pytest.fixture
def new_context(
    browser: Browser, web_url: str, browser_problems: BrowserProblems, tmp_path: Path
) -> Iterator[Contexts]:
    """Makes browser contexts (see ``Contexts``); all closed when the test ends."""
    contexts = Contexts(browser, web_url, browser_problems)
    yield contexts
    contexts.close()


@pytest.fixture
def context(new_context: Contexts) -> BrowserContext:
    """A fresh browser context on the stack: nobody signed in, nothing cached."""
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A page of ``context``; ``page.goto("/")`` opens the stack's home page."""
    return context.new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A test whose pages logged errors fails, after its own assertions had their say."""
    yield
    problems = getattr(item, "funcargs", {}).get("browser_problems")
    if isinstance(problems, BrowserProblems) and problems.unexpected():
        listed = "\n  ".join(problems.unexpected())
        pytest.fail(f"the browser reported problems:\n  {listed}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test leaves a screenshot of each page it had open in its tmp_path."""
    report = yield
    funcargs = getattr(item, "funcargs", {})
    contexts, tmp_path = funcargs.get("new_context"), funcargs.get("tmp_path")
    if report.when == "call" and report.failed and isinstance(contexts, Contexts) and tmp_path:
        report.sections.append(("screenshots", "\n".join(contexts.screenshots(tmp_path))))
    return report


# ------------------------------------------------------------------------- accessibility


def sign_in(context: BrowserContext, user: User) -> None:
    """Every page ``context`` opens from now on starts signed in as ``user``: the token is
    where the app keeps it (``fastboard.token`` in localStorage, app/session.js). For tests
    whose subject is not the sign-in form itself."""
    # Init scripts run in about:blank too, which has no storage.
    context.add_init_script(
        "if (location.protocol.startsWith('http')) "
        f"localStorage.setItem('fastboard.token', {json.dumps(user.token)});"
    )


def axe_violations(
    page: Page, *, impacts: tuple[str, ...] = ("serious", "critical"), selector: str | None = None
) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (or within ``selector``), those of
    the given impacts. Each is axe's result: ``id``, ``impact``, ``help``, ``nodes``.

    axe is evaluated through the DevTools protocol, which the page's CSP does not govern;
    the page itself still runs under its policy.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    results: dict[str, Any] = page.evaluate(
        """(selector) => axe.run(selector ? document.querySelector(selector) : document,
                                 { resultTypes: ["violations"] })""",
        selector,
    )
    return [v for v in results["violations"] if v.get("impact") in impacts]


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """A readable list for an assertion message."""
    return "\n".join(
        f"{v['impact']}: {v['id']} ({v['help']}) at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in violations
    )
