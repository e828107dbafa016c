"""The vendored libraries are the release files their README names, each with its licence,
and every import that carries a version (``?v=``, cached for a year) carries theirs."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from fastboard.resources import web_root

TESTS_VENDOR = Path(__file__).resolve().parent / "web" / "vendor"
# | `file` | [name](url), what | version | licence (`LICENSE.x` …) | … | `sha256` |
ROW = re.compile(
    r"^\| `(?P<file>[^`]+)` \| .*? \| (?P<version>\d+\.\d+\.\d+) \| "
    r".*?\(`(?P<licence>LICENSE\.[\w-]+)`.*\| `(?P<sha256>[0-9a-f]{64})` \|$",
    re.MULTILINE,
)
# "/vendor/marked.esm.js?v=18.2.1", '../vendor/purify.es.mjs?v=3.5.0'
VERSIONED_IMPORT = re.compile(r"vendor/(?P<file>[\w.-]+)\?v=(?P<version>[^\"'&\s]+)")


def listed(directory: Path) -> dict[str, re.Match[str]]:
    rows = {row["file"]: row for row in ROW.finditer((directory / "README.md").read_text())}
    assert rows, f"no table rows in {directory / 'README.md'}"
    return rows


@pytest.mark.parametrize("directory", [web_root() / "vendor", TESTS_VENDOR], ids=["web", "tests"])
def test_every_vendored_file_is_listed_with_its_hash_and_licence(directory: Path) -> None:
    rows = listed(directory)
    code = sorted(p.name for p in directory.iterdir() if p.suffix in {".js", ".mjs"})
    assert sorted(rows) == code
    for name, row in rows.items():
        digest = hashlib.sha256((directory / name).read_bytes()).hexdigest()
        assert digest == row["sha256"], f"{name} is not the file its README lists"
        assert (directory / row["licence"]).is_file()


@pytest.mark.parametrize("name", ["marked.esm.js", "purify.es.mjs"])
def test_the_ui_libraries_are_es_modules(name: str) -> None:
    """Loaded by the browser as they are: an ES module exports, and no script needs eval."""
    source = (web_root() / "vendor" / name).read_text()
    assert re.search(r"(^|;)export\s*\{", source, re.MULTILINE)
    assert "eval(" not in source
    assert "new Function" not in source


def test_versioned_imports_carry_the_vendored_version() -> None:
    versions = {name: row["version"] for name, row in listed(web_root() / "vendor").items()}
    sources = [p for p in web_root().rglob("*") if p.suffix in {".html", ".js", ".mjs"}]
    for source in sources:
        if source.parent == web_root() / "vendor":
            continue
        for found in VERSIONED_IMPORT.finditer(source.read_text()):
            assert found["file"] in versions, f"{source}: no vendored {found['file']}"
            assert found["version"] == versions[found["file"]], (
                f"{source} imports {found['file']}?v={found['version']}, but the vendored "
                f"file is version {versions[found['file']]}: its cached copy would be stale"
            )
