"""Files shipped inside the package: the web pages, the migrations, the NGINX template.

Found with ``importlib.resources``, so an installed wheel finds them exactly as a
checkout does; nothing here looks outside the ``fastboard`` package.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_dir(name: str) -> Path:
    """A directory of the package on disk: NGINX, Alembic and StaticFiles read files by path."""
    found = files("fastboard").joinpath(name)
    if not isinstance(found, Path) or not found.is_dir():
        raise FileNotFoundError(f"fastboard/{name}/ is missing from this installation")
    return found


def web_root() -> Path:
    """The landing page and its assets: served by NGINX in production, by the app in dev."""
    return package_dir("web")


def template(name: str) -> str:
    return files("fastboard").joinpath("templates", name).read_text(encoding="utf-8")
