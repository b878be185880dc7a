"""The documentation: the site builds, the README stays short, and no relative link is dead.

The README is the front page and points into docs/ for everything else; docs/ is also built
into a site by mkdocs (mkdocs.yml). Moving text between them, or moving a file the text names,
breaks links silently, so these tests check what a reader would otherwise find broken:
`mkdocs build --strict` (which refuses a dead link or anchor between pages), a relative link
in the README or in docs/ that names a file which does not exist, and a README anchor into a
docs page that has no such heading. They need no server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
BENCH_README = ROOT / "benchmarks" / "README.md"

# The test command .ci/run runs and calls "the README's test command, verbatim".
TEST_COMMAND = (
    'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" && .venv/bin/python -m pytest'
)

LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def doc_pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def links(path: Path) -> list[str]:
    """The link targets of a Markdown file, code blocks left out (code is not a link)."""
    text = FENCE.sub("", path.read_text())
    return LINK.findall(text)


def is_relative(target: str) -> bool:
    return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) and not target.startswith("#")


def slug(heading: str) -> str:
    """Python-Markdown's toc slug (what mkdocs uses; GitHub's agrees on these headings)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(path: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(FENCE.sub("", path.read_text()))}


def test_site_builds_strict(tmp_path: Path) -> None:
    """`mkdocs build --strict` turns every warning (a dead link or anchor, a page left out of
    the nav) into a failure; each page must then come out as HTML. The mkdocs next to this
    interpreter is the one the test extra installed."""
    mkdocs = Path(sys.executable).parent / "mkdocs"
    assert mkdocs.exists(), f"{mkdocs} missing: install the test extra (mkdocs-material)"
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for page in doc_pages():
        html = site / "index.html" if page.stem == "index" else site / page.stem / "index.html"
        assert html.is_file(), f"{page.name} was not built ({html})"
    # the benchmarks page includes benchmarks/README.md; an include that failed leaves no table
    assert "median" in (site / "benchmarks" / "index.html").read_text()


def test_readme_is_short_and_keeps_the_test_command() -> None:
    """The README is the front page: details belong in docs/. .ci/run runs its test command
    and says so, so the command must stay there verbatim."""
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    assert "## The two commands" in text
    assert TEST_COMMAND in text
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(
    "path",
    [README, BENCH_README, *doc_pages()],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_relative_links_exist(path: Path) -> None:
    """Every relative link names a file that exists, and an anchor into a Markdown file names
    one of its headings. benchmarks/README.md is also included into docs/benchmarks.md, where
    its relative links would resolve from docs/: it must link only within itself or absolutely."""
    dead = []
    for target in links(path):
        if not is_relative(target):
            continue
        if path == BENCH_README:
            dead.append(f"{target} (relative link in an included file)")
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve()
        if not resolved.exists():
            dead.append(target)
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            dead.append(f"{target} (no such heading)")
    assert not dead, f"{path.relative_to(ROOT)}: {dead}"


def test_in_page_anchors_exist() -> None:
    """A link to `#heading` within the same file must name one of that file's headings."""
    dead = []
    for path in [README, BENCH_README, *doc_pages()]:
        own = anchors(path)
        for target in links(path):
            if target.startswith("#") and target[1:] not in own:
                dead.append(f"{path.relative_to(ROOT)}: {target}")
    assert not dead, dead
