"""The README and docs/: every relative link resolves to a file, and every #anchor to a heading of that file."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    out, in_code = set(), False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            out.add(_anchor(line.lstrip("#")))
    return out


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # links inside code blocks are not links
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]  # http:, mailto: are not checked


def test_the_anchor_rule_follows_github():
    assert _anchor(" Transfer recipe, chosen on the design group S001–S012 only") == (
        "transfer-recipe-chosen-on-the-design-group-s001s012-only")
    assert _anchor("scikit-learn and MOABB") == "scikit-learn-and-moabb"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_link_resolves(page):
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert broken == [], f"{page.name}: links that resolve to nothing: {broken}"


def test_the_readme_is_short_and_every_docs_page_is_linked_from_it():
    readme = REPO / "README.md"
    assert len(readme.read_text().splitlines()) <= 300
    linked = {(REPO / t.partition("#")[0]).resolve() for t in _links(readme) if t.partition("#")[0]}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []
