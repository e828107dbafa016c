"""The README's screenshots: the dev server on a fresh SQLite database, a small board
written through the API (Korean and English, Markdown, comments, a moderator), and the
main pages photographed in Chromium at desktop and phone widths.

    make screenshots        # writes docs/screenshots/*.png

Needs Playwright (in the dev dependencies) and Chromium (Debian's ``chromium``); Korean
text needs a CJK font (Debian's ``fonts-noto-cjk``) to look right in the pictures.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from dev.stack import free_port, http_ok, settings_env, spawn, stop_process, wait_until

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
PASSWORD = "correct horse battery staple"  # noqa: S105 - the demo accounts' own

ARTICLES: list[dict[str, Any]] = [
    {
        "title": "서버를 직접 운영하는 법",
        "description": "NGINX, Gunicorn, Uvicorn으로 FastAPI 서비스 배포하기",
        "body": (
            "## 왜 직접 운영하나요?\n\n"
            "작은 커뮤니티라면 **서버 한 대**로 충분합니다.\n\n"
            "- NGINX가 정적 파일을 보냅니다\n- Gunicorn이 워커를 관리합니다\n"
            "- PostgreSQL이 데이터를 지킵니다\n\n"
            "```sh\nmake run\n```\n"
        ),
        "tagList": ["서버", "fastapi", "배포"],
    },
    {
        "title": "Zero-downtime reloads with Gunicorn",
        "description": "What HUP does, and why your WebSocket clients reconnect by themselves",
        "body": (
            "Send **HUP** to the master: new workers start, old ones finish their requests.\n\n"
            "> Live clients get close code 1012 and come back with `since=`.\n"
        ),
        "tagList": ["gunicorn", "websockets"],
    },
    {
        "title": "Keyboard-only navigation checklist",
        "description": "Tab order, visible focus, Escape closes what Enter opened",
        "body": "1. Every control has a label\n2. Focus is always visible\n3. No traps\n",
        "tagList": ["accessibility"],
    },
]


def _post(client: httpx.Client, path: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Token {token}"} if token else {}
    response = client.post(path, json=body, headers=headers)
    response.raise_for_status()
    return response.json()


def _register(client: httpx.Client, name: str, bio: str = "") -> str:
    user = {"username": name, "email": f"{name}@example.org", "password": PASSWORD}
    token: str = _post(client, "/api/users", {"user": user})["user"]["token"]
    if bio:
        client.put(
            "/api/user", json={"user": {"bio": bio}}, headers={"Authorization": f"Token {token}"}
        ).raise_for_status()
    return token


def seed(url: str, env: dict[str, str]) -> dict[str, str]:
    """A small board; returns the slugs of what the pictures show."""
    with httpx.Client(base_url=url, timeout=30) as client:
        jimin = _register(client, "지민", "서울에서 백엔드를 만듭니다.")
        ada = _register(client, "ada", "Writes about servers and the people who run them.")
        grace = _register(client, "grace")
        subprocess.run(
            [sys.executable, "-m", "fastboard", "users", "set-role", "grace@example.org", "admin"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        slugs = []
        for number, article in enumerate(ARTICLES):
            token = (jimin, ada, grace)[number % 3]
            created = _post(client, "/api/articles", {"article": article}, token)
            slugs.append(created["article"]["slug"])
        for token, body in (
            (ada, "Great write-up! How many workers do you run on two cores?"),
            (grace, "두 코어라면 워커 두 개로 시작해 보세요."),
            (jimin, "감사합니다 — `--workers 2`로 운영 중입니다."),
        ):
            _post(client, f"/api/articles/{slugs[0]}/comments", {"comment": {"body": body}}, token)
        for token in (ada, grace):
            client.post(
                f"/api/articles/{slugs[0]}/favorite", headers={"Authorization": f"Token {token}"}
            ).raise_for_status()
    return {"article": slugs[0]}


def photograph(url: str, slugs: dict[str, str]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        for name, width, path, sign_in in (
            ("home", 1280, "/", None),
            ("article", 1280, f"/article/{slugs['article']}", "ada"),
            ("editor", 1280, "/editor", "ada"),
            ("moderation", 1280, "/moderation", "grace"),
            ("search", 1280, "/search?q=%EC%84%9C%EB%B2%84", None),
            ("article-phone", 360, f"/article/{slugs['article']}", None),
        ):
            context = browser.new_context(
                base_url=url, viewport={"width": width, "height": 900}, locale="ko-KR"
            )
            page = context.new_page()
            if sign_in:
                page.goto("/login")
                page.get_by_label("Email").fill(f"{sign_in}@example.org")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url("**/")
            page.goto(path, wait_until="networkidle")
            target = OUT / f"{name}.png"
            page.screenshot(path=target, full_page=width < 800)
            shots.append(target)
            context.close()
        browser.close()
    return shots


def main() -> int:
    with tempfile.TemporaryDirectory() as workdir:
        port = free_port()
        env = settings_env(
            env="development",
            database_url=f"sqlite+aiosqlite:///{workdir}/fastboard.db",
            var_dir=f"{workdir}/var",
        )
        url = f"http://127.0.0.1:{port}"
        server = spawn(
            [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port)],
            env=env,
            output=Path(workdir) / "uvicorn.log",
            cwd=ROOT,
        )
        try:
            wait_until(lambda: http_ok(f"{url}/ready"), timeout=60, watch=server, what="uvicorn")
            for shot in photograph(url, seed(url, env)):
                print(shot.relative_to(ROOT))
        finally:
            stop_process(server, signal.SIGTERM, timeout=15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
