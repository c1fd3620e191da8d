"""The README and every file under docs/ as GitHub renders them: each table is one table, no
template marker is left in, every relative link (and #anchor) leads somewhere, and commands in
code blocks run with the project's Python (a bare ``python`` lacks the packages).

The files are parsed as Markdown (markdown-it-py, CommonMark plus GitHub's tables), so a line
inside a code fence is never mistaken for a table row or a link.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from .conftest import ROOT

MARKDOWN = MarkdownIt("commonmark").enable("table")
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("**/*.md")])


@cache
def tokens(path: Path) -> list[Token]:
    return MARKDOWN.parse(path.read_text())


def lines_of(path: Path, *types: str) -> set[int]:
    """0-based source lines covered by the block tokens of these types."""
    return {i for t in tokens(path) if t.type in types and t.map for i in range(*t.map)}


def inline_children(path: Path):
    for token in tokens(path):
        if token.type == "inline":
            yield token, token.children or []


def plain_text(children: list[Token]) -> str:
    return "".join(c.content for c in children if c.type in {"text", "code_inline", "html_inline"})


def slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@cache
def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: Counter[str] = Counter()
    heading = False
    for token in tokens(path):
        if token.type == "heading_open":
            heading = True
        elif token.type == "inline" and heading:
            base = slug(plain_text(token.children or []))
            found.add(base if not seen[base] else f"{base}-{seen[base]}")
            seen[base] += 1
            heading = False
        if token.type in {"html_block", "inline"}:
            found |= set(re.findall(r"""<a\s+(?:name|id)=["']([^"']+)["']""", token.content))
    return found


def problems_of(path: Path, root: Path = ROOT) -> list[str]:
    name = path.relative_to(root)
    text = path.read_text().splitlines()
    code = lines_of(path, "fence", "code_block")
    tables = lines_of(path, "table_open")
    out = []
    for i, line in enumerate(text):
        if i in code:
            continue
        if line.lstrip().startswith("|") and i not in tables:
            out.append(f"{name}:{i + 1}: table row outside a table (a blank line or text inside the table?): {line[:60]}")
        if "<!--" in line:
            out.append(f"{name}:{i + 1}: leftover marker or comment: {line.strip()[:60]}")
    for token in tokens(path):
        if token.type != "fence" or not token.map:
            continue
        for offset, line in enumerate(token.content.splitlines(), start=token.map[0] + 2):
            if re.match(r"\s*(python3?|pytest|pip3?)\s", line):
                out.append(f"{name}:{offset}: bare {line.split()[0]!r}: use .venv/bin/python or a make target: {line.strip()[:60]}")
    for inline, children in inline_children(path):
        line = (inline.map or [0])[0] + 1
        for child in children:
            href = child.attrGet("href") if child.type == "link_open" else child.attrGet("src") if child.type == "image" else None
            if href is None:
                continue
            problem = dead_link(path, str(href), root)
            if problem:
                out.append(f"{name}:{line}: link {href!r}: {problem}")
    return out


def dead_link(source: Path, href: str, root: Path = ROOT) -> str | None:
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        return None  # the web: not checked offline
    target = (source.parent / unquote(parts.path)).resolve() if parts.path else source
    if root not in target.parents and target != root:
        beside = target.relative_to(root.parent).parts[0] if root.parent in target.parents else None
        if beside is None or not (root.parent / beside).exists():
            return None  # beside the checkout (../shared): there in this project's CI only
    if not target.exists():
        return f"no such file {target.relative_to(root) if root in target.parents else target}"
    if parts.fragment and target.suffix == ".md" and unquote(parts.fragment).lower() not in anchors(target):
        return f"no heading #{parts.fragment} in {target.name}"
    return None


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_renders_cleanly_and_every_link_leads_somewhere(path):
    assert problems_of(path) == []


# --- the checks themselves, on small documents ---------------------------------------------------

BROKEN = """\
# Title

| a | b |
|---|---|
| 1 | 2 |

| 3 | 4 |
<!-- ROWS -->

```
| in a fence: fine |
<!-- in a fence: fine -->
```

See [here](nowhere.md), [there](#no-such-heading), [ok](#title), [web](https://example.org/x.md),
[a file](../README.md#some-heading), [its top](../README.md#readme) and [spec](../../no-such-dir-14/spec.md).

```sh
python -m gushen_infra.render
.venv/bin/python -m gushen_infra.render
```
"""


def test_each_kind_of_breakage_is_reported(tmp_path):
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "README.md").write_text("# Readme\n")
    doc = root / "docs" / "probe.md"
    doc.write_text(BROKEN)
    assert problems_of(doc, root) == [
        "docs/probe.md:7: table row outside a table (a blank line or text inside the table?): | 3 | 4 |",
        "docs/probe.md:8: leftover marker or comment: <!-- ROWS -->",
        "docs/probe.md:19: bare 'python': use .venv/bin/python or a make target: python -m gushen_infra.render",
        "docs/probe.md:15: link 'nowhere.md': no such file docs/nowhere.md",
        "docs/probe.md:15: link '#no-such-heading': no heading #no-such-heading in probe.md",
        "docs/probe.md:15: link '../README.md#some-heading': no heading #some-heading in README.md",
    ]


@pytest.mark.parametrize(
    "heading, anchor",
    [
        ("Options (`gushen:routing`)", "options-gushenrouting"),
        ("Where this differs from the spec", "where-this-differs-from-the-spec"),
        ("Redis: failover & restore", "redis-failover--restore"),
        ("make render STACK=dev", "make-render-stackdev"),
    ],
)
def test_anchors_are_github_s(tmp_path, heading, anchor):
    doc = tmp_path / "x.md"
    doc.write_text(f"# {heading}\n\n# {heading}\n")
    assert {anchor, f"{anchor}-1"} <= anchors(doc)


def test_the_readme_fits_a_front_page_and_links_every_doc():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    linked = {Path(href).name for _, children in inline_children(ROOT / "README.md")
              for href in (c.attrGet("href") for c in children if c.type == "link_open") if href and "docs/" in str(href)}
    assert {p.name for p in (ROOT / "docs").glob("*.md")} <= {name.split("#")[0] for name in linked}
