"""The repository explains itself: every ``docs/<page>.md#<anchor>`` that code, tests, proto or
docs cite names a heading that exists, and nothing cites a document outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCES = ("rust", "python", "tests", "benches", "examples", "proto")
SUFFIXES = {".rs", ".py", ".pyi", ".proto", ".toml", ".md"}


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {
        _slug(m.group(1))
        for m in re.finditer(r"^#{1,6} (.+)$", page.read_text(encoding="utf-8"), re.M)
    }


def _files() -> list[Path]:
    files = [ROOT / "README.md", *DOCS.glob("*.md")]
    for top in SOURCES:
        files += [
            p
            for p in (ROOT / top).rglob("*")
            if p.suffix in SUFFIXES and p.is_file() and "target" not in p.parts
        ]
    return files


def _citations() -> list[tuple[Path, str, str]]:
    found = []
    for path in _files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in re.finditer(r"docs/([\w-]+\.md)#([\w-]+)", text):
            found.append((path, m.group(1), m.group(2)))
        if path.parent == DOCS:  # relative links between the docs pages
            for m in re.finditer(r"\]\(([\w-]+\.md)?#([\w-]+)\)", text):
                found.append((path, m.group(1) or path.name, m.group(2)))
    return found


def test_every_cited_anchor_exists() -> None:
    citations = _citations()
    assert len(citations) > 20
    anchors = {page.name: _anchors(page) for page in DOCS.glob("*.md")}
    missing = [
        f"{path.relative_to(ROOT)}: {page}#{anchor}"
        for path, page, anchor in citations
        if anchor not in anchors.get(page, set())
    ]
    assert not missing, missing


def test_every_cited_page_exists() -> None:
    pages = {p.name for p in DOCS.glob("*.md")}
    missing = []
    for path in _files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in re.finditer(r"docs/([\w-]+\.md)", text):
            if m.group(1) not in pages:
                missing.append(f"{path.relative_to(ROOT)}: docs/{m.group(1)}")
    assert not missing, missing


def test_slug_follows_github() -> None:
    assert _slug("### `extrapolated`: outside the law's fitted range".lstrip("# ")) == (
        "extrapolated-outside-the-laws-fitted-range"
    )
    assert _slug("pass@k") == "passk"


def test_nothing_cites_an_outside_spec() -> None:
    outside = re.compile(r"\b" + "DES" + "IGN" + r"\b")  # spelled apart so grep finds no hit here
    hits = [
        str(p.relative_to(ROOT))
        for p in _files()
        if outside.search(p.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not hits, hits
