"""Finding citations the way pandoc does: parse to the AST and walk ``Cite`` nodes.

The AST says *what* is cited (code spans, code blocks and e-mail addresses never
produce ``Cite`` nodes); the source text is then searched only to say *where*.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .pandoc import parse_markdown

# Locator labels pandoc recognises in a citation suffix (English short forms).
_LOCATOR = re.compile(
    r"^\s*,?\s*(pages|page|pp|p|notes|note|nn|n|sections|section|secs|sec|chapter|chap|ch|para|§|fig|tbl)(?![A-Za-z])\.?\s*(\S.*)$",
    re.IGNORECASE,
)
_PAGES = re.compile(r"^\s*(\d+)(?:\s*[-–—]+\s*(\d+))?")


@dataclass(frozen=True)
class Citation:
    key: str
    path: Path
    line: int
    column: int
    label: str | None  # locator label, e.g. "p", "sec", "n"
    locator: str | None  # locator value, e.g. "12-14"
    after_quote: bool  # first of a group citing a preceding quotation with no locator anywhere
    crossref: bool

    def page_range(self) -> tuple[int, int] | None:
        if self.label is None or self.label.lower() not in ("p", "pp", "page", "pages") or self.locator is None:
            return None
        m = _PAGES.match(self.locator)
        if m is None:
            return None
        lo = int(m.group(1))
        return lo, int(m.group(2) or lo)


def stringify(node: Any) -> str:
    """Plain text of a JSON AST fragment."""
    if isinstance(node, list):
        return "".join(stringify(n) for n in node)
    if isinstance(node, dict):
        t = node.get("t")
        if t == "Str":
            return str(node["c"])
        if t in ("Space", "SoftBreak", "LineBreak"):
            return " "
        if t == "Quoted":
            return "“" + stringify(node["c"][1]) + "”"
        if "c" in node:
            return stringify(node["c"])
    return ""


_BARE_PAGES = re.compile(r"^\s*,?\s*(\d+(?:\s*[-–—]+\s*\d+)?)\s*$")


def _parse_locator(suffix: str) -> tuple[str | None, str | None]:
    bare = _BARE_PAGES.match(suffix)
    if bare is not None:  # pandoc reads `[@a, 33]` as page 33
        return "p", bare.group(1)
    m = _LOCATOR.match(suffix)
    if m is None:
        return None, None
    return m.group(1), m.group(2).strip().rstrip(",;")


INLINE_TYPES = frozenset(
    "Str Emph Underline Strong Strikeout Superscript Subscript SmallCaps Quoted Cite Code Space SoftBreak "
    "LineBreak Math RawInline Link Image Note Span".split()
)


def _is_inlines(node: Any) -> bool:
    return (
        isinstance(node, list) and bool(node) and all(isinstance(x, dict) and x.get("t") in INLINE_TYPES for x in node)
    )


def _inline_lists(node: Any) -> Iterator[list[Any]]:
    """Yield every run of inlines in document order, wherever it is.

    Not only paragraphs: headings, line blocks, definition-list terms, table cells,
    captions and metadata hold inlines too, and pandoc renders the citations there.
    """
    if isinstance(node, dict):
        t = node.get("t")
        if t in ("Para", "Plain") and isinstance(node.get("c"), list):
            yield node["c"]
            return
        for value in node.values():
            yield from _inline_lists(value)
    elif isinstance(node, list):
        if _is_inlines(node):
            yield node
            return
        for item in node:
            yield from _inline_lists(item)


def all_cite_keys(node: Any) -> list[str]:
    """Every citation id of every ``Cite`` node anywhere in a JSON AST (the completeness net)."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("t") == "Cite" and isinstance(item.get("c"), list) and item["c"]:
                found.extend(str(c.get("citationId", "")) for c in item["c"][0] if isinstance(c, dict))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _walk_inlines(inlines: list[Any], state: dict[str, bool]) -> Iterator[tuple[dict[str, Any], bool]]:
    """Yield (citation, after_quote) in order, tracking quoted passages."""
    for node in inlines:
        if not isinstance(node, dict):
            continue
        t = node.get("t")
        if t == "Cite":
            # A quotation needs a locator somewhere in the citation group that
            # follows it (the quoted work's page, or where a citing work prints it).
            group = node["c"][0]
            located = any(_parse_locator(stringify(c.get("citationSuffix", [])))[0] for c in group)
            pending = state["quote"] and not located
            for i, citation in enumerate(group):
                yield citation, pending and i == 0
            state["quote"] = False
        elif t == "Quoted" or (t == "Str" and "“" in str(node.get("c", ""))):
            state["quote"] = True
            if t == "Quoted":
                yield from _walk_inlines(node["c"][1], {"quote": False})
        elif t in ("Note",):
            for block_inlines in _inline_lists(node["c"]):
                yield from _walk_inlines(block_inlines, {"quote": False})
        elif isinstance(node.get("c"), list):
            inner = node["c"]
            # Emph/Strong/Span/Link etc. hold inlines (Span/Link after attributes).
            candidates = [x for x in inner if isinstance(x, list) and (not x or isinstance(x[0], dict))]
            for cand in candidates:
                yield from _walk_inlines(cand, state)


def _mask_code(text: str) -> str:
    """Blank out code blocks and code spans, keeping offsets and line breaks."""

    def blank(m: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))

    text = re.sub(r"(?ms)^(```|~~~).*?^\1[^\n]*$", blank, text)
    return re.sub(r"(`+)(?!`).+?(?<!`)\1(?!`)", blank, text, flags=re.S)


# Identifiers the build generates in every output: the bibliography (`refs`) and its
# entries (`ref-KEY`, the targets of citation links). Input that defines them hijacks those links.
RESERVED_ID = re.compile(r"^(refs|ref-.*)$")
_ATTR_AT = {"Header": 1, "Div": 0, "Span": 0, "CodeBlock": 0, "Code": 0, "Link": 0, "Image": 0, "Table": 0, "Figure": 0}


@dataclass(frozen=True)
class ReservedId:
    ident: str
    line: int
    column: int


def _ids(node: Any) -> Iterator[str]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            at = _ATTR_AT.get(str(item.get("t")))
            c = item.get("c")
            if at is not None and isinstance(c, list) and len(c) > at:
                attr = c[at]
                if isinstance(attr, list) and attr and isinstance(attr[0], str) and attr[0]:
                    yield attr[0]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def reserved_ids(ast: dict[str, Any], text: str) -> list[ReservedId]:
    """Every element of ``ast`` with an identifier the build reserves, located in ``text`` where written out."""
    found = []
    counts = Counter(i for i in _ids(ast) if RESERVED_ID.match(i))
    for ident, count in sorted(counts.items()):
        written = list(re.finditer(r"#" + re.escape(ident) + r"(?![\w:.-])", text))
        for n in range(count):
            if n < len(written):
                start = written[n].start()
                line = text.count("\n", 0, start) + 1
                column = start - (text.rfind("\n", 0, start) + 1) + 1
            else:  # a heading's automatic identifier
                line, column = 1, 0
                for i, row in enumerate(text.splitlines(), 1):
                    if row.lstrip().startswith("#") and ident.replace("-", " ") in row.lower().replace("-", " "):
                        line = i
                        break
            found.append(ReservedId(ident, line, column))
    return found


def find_citations(path: Path, text: str, crossref_prefixes: tuple[str, ...] = ()) -> list[Citation]:
    return scan_markdown(path, text, crossref_prefixes)[0]


def scan_markdown(
    path: Path, text: str, crossref_prefixes: tuple[str, ...] = ()
) -> tuple[list[Citation], list[ReservedId]]:
    """Citations and reserved identifiers of a Markdown text (one pandoc parse)."""
    ast = parse_markdown(text)
    found: list[Citation] = []
    cursor: dict[str, int] = {}
    searchable = _mask_code(text)
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def locate(key: str) -> tuple[int, int]:
        pattern = re.compile(r"(?<![\w.+])@(?:\{" + re.escape(key) + r"\}|" + re.escape(key) + r"(?![\w:./-]*\w))")
        m = pattern.search(searchable, cursor.get(key, 0)) or pattern.search(searchable)
        if m is None:  # odd contexts (`@a@b`, unbalanced backticks): any occurrence at all
            m = re.search("@" + re.escape(key), searchable) or re.search("@" + re.escape(key), text)
        if m is None:
            return 0, 0
        cursor[key] = m.end()
        start = m.start()
        if start > 0 and searchable[start - 1] == "-" and (start == 1 or searchable[start - 2] in "[ ;\n\t"):
            start -= 1  # `[-@key]`: the citation starts at the suppress-author dash
        line = sum(1 for s in line_starts if s <= start)
        return line, start - line_starts[line - 1] + 1

    def is_crossref(key: str) -> bool:
        return any(key.lower().startswith(p.lower()) for p in crossref_prefixes)

    blocks: list[Any] = [ast.get("meta", {}), ast.get("blocks", [])]
    for inlines in _inline_lists(blocks):
        state = {"quote": False}
        for citation, after_quote in _walk_inlines(inlines, state):
            key = citation["citationId"]
            label, locator = _parse_locator(stringify(citation.get("citationSuffix", [])))
            line, column = locate(key)
            found.append(Citation(key, path, line, column, label, locator, after_quote, is_crossref(key)))
    # Whatever the walk above missed (an AST shape it does not know) is still a citation.
    missing = Counter(all_cite_keys(ast)) - Counter(c.key for c in found)
    for key, count in sorted(missing.items()):
        for _ in range(count):
            line, column = locate(key)
            found.append(Citation(key, path, line, column, None, None, False, is_crossref(key)))
    return found, reserved_ids(ast, text)
