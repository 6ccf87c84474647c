"""Finding citations the way pandoc does: parse to the AST and walk ``Cite`` nodes.

The AST says *what* is cited (code spans, code blocks and e-mail addresses never
produce ``Cite`` nodes); the source text is then searched only to say *where*.
This module turns Markdown into located citations and reserved identifiers; it
judges nothing (the rules in ``checks.rules`` do) and must not guess citations
with a regular expression where pandoc's parse can answer.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scholarly_build.core.pandoc import parse_markdown

# Locator labels pandoc recognises in a citation suffix (English short forms).
_LOCATOR = re.compile(
    r"^\s*,?\s*(pages|page|pp|p|notes|note|nn|n|sections|section|secs|sec|chapter|chap|ch|para|§|fig|tbl)(?![A-Za-z])\.?\s*(\S.*)$",
    re.IGNORECASE,
)
_PAGES = re.compile(r"^\s*(\d+)(?:\s*[-–—]+\s*(\d+))?")


@dataclass(frozen=True)
class Citation:
    """One cited key, where it is written (1-based line and column), and what the rules need to know of it."""

    key: str
    path: Path
    line: int
    column: int
    label: str | None  # locator label, e.g. "p", "sec", "n"
    locator: str | None  # locator value, e.g. "12-14"
    after_quote: bool  # first of a group citing a preceding quotation with no locator anywhere
    crossref: bool
    nested: bool = False  # inside another citation's prefix or suffix: `[@a, @b]` written with commas
    nocite: bool = False  # listed in the `nocite` metadata field: in the bibliography, not in the text

    def page_range(self) -> tuple[int, int] | None:
        """(first, last) page of a ``p.``/``pp.`` locator, or None when the locator names no page."""
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
        if t in ("Code", "Math"):  # [attr or math type, text]: the text is what a reader sees
            return str(node["c"][1])
        if t == "Quoted":
            single = isinstance(node["c"][0], dict) and node["c"][0].get("t") == "SingleQuote"
            return ("‘{}’" if single else "“{}”").format(stringify(node["c"][1]))
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


# A quotation, as opposed to a scare-quoted term ('fixed boundary', "so-called"):
# a quoted span of at least this many words, or a block quote.
QUOTE_MIN_WORDS = 5
_SENTENCE_END = re.compile(r"[.!?][\"')\]’”]*$")
_ABBREVIATIONS = frozenset(
    "e.g. i.e. cf. al. etc. vs. p. pp. ch. chap. sec. fig. no. vol. ed. eds. n. nn. ff. approx. ca. c. viz. resp."
    " mr. mrs. ms. dr. prof. st. jr. sr.".split()
)


def _is_group(node: Any) -> bool:
    return isinstance(node, dict) and node.get("t") == "Cite"


def all_cites(node: Any) -> Iterator[tuple[dict[str, Any], dict[str, Any], bool]]:
    """Every citation in a JSON AST fragment, at any depth, in document order.

    Yields (citation, its Cite group, nested): ``nested`` is true for a citation
    that pandoc parsed inside another citation's prefix or suffix, as in
    ``[e.g., @a, @b]`` where ``@b`` sits in ``@a``'s suffix.
    """
    yield from _all_cites(node, False)


def _all_cites(node: Any, nested: bool) -> Iterator[tuple[dict[str, Any], dict[str, Any], bool]]:
    if isinstance(node, list):
        for item in node:
            yield from _all_cites(item, nested)
    elif isinstance(node, dict):
        if node.get("t") == "Cite":
            for citation in node["c"][0]:
                yield citation, node, nested
                yield from _all_cites(citation.get("citationPrefix", []), True)
                yield from _all_cites(citation.get("citationSuffix", []), True)
            return  # node["c"][1] is pandoc's literal rendering: text only
        for value in node.values():
            yield from _all_cites(value, nested)


def _group_located(group: dict[str, Any]) -> bool:
    return any(_parse_locator(stringify(c.get("citationSuffix", [])))[0] for c in group["c"][0])


def _count_words(inlines: Any) -> int:
    return len(stringify(inlines).split())


class _QuoteScan:
    """Find the citation groups that a quotation attaches to.

    A group attaches to a quotation when the quotation (a quoted span of at least
    QUOTE_MIN_WORDS words) ends earlier in the same sentence with no other group
    in between, or when the group stands inside a block quote (its last group).
    Single words or short phrases in quotes are terms, not quotations.
    """

    def __init__(self) -> None:
        self.attached: set[int] = set()

    def blocks(self, node: Any) -> None:
        """Walk block-level AST, marking the last citation group of a long block quote."""
        if isinstance(node, list):
            for item in node:
                self.blocks(item)
            return
        if not isinstance(node, dict):
            return
        t = node.get("t")
        if t in ("Para", "Plain"):
            self.inlines(node["c"])
            return
        if t == "BlockQuote":
            groups = [g for _c, g, nested in all_cites(node["c"]) if not nested]
            if groups and _count_words(node["c"]) >= QUOTE_MIN_WORDS:
                self.attached.add(id(groups[-1]))
        for value in node.values():
            if isinstance(value, (list, dict)):
                self.blocks(value)

    def inlines(self, inlines: list[Any]) -> None:
        """Walk a paragraph's inlines, marking a group that follows a quotation in the same sentence."""
        pending = False  # a quotation ended in this sentence and no group followed yet
        open_words: int | None = None  # words since an unmatched “ in plain text
        for node in _flatten(inlines):
            t = node.get("t")
            if t == "Cite":
                if pending:
                    self.attached.add(id(node))
                pending = False
            elif t == "Quoted":
                self.inlines(node["c"][1])  # a citation inside the quotation
                if _count_words(node["c"][1]) >= QUOTE_MIN_WORDS:
                    pending = True
            elif t == "Note":
                self.blocks(node["c"])
            elif t == "Str":
                text = str(node["c"])
                if open_words is not None:
                    open_words += 1
                    if "”" not in text:
                        continue
                    pending = pending or open_words >= QUOTE_MIN_WORDS
                    open_words = None
                    text = text.rsplit("”", 1)[1]  # only what follows the quotation ends a sentence
                elif "“" in text and "”" not in text:
                    open_words = 1
                    continue
                if open_words is None and _SENTENCE_END.search(text) and text.lower() not in _ABBREVIATIONS:
                    pending = False


def _flatten(inlines: list[Any]) -> Iterator[dict[str, Any]]:
    """Inline nodes in reading order; containers (Emph, Span, Link...) are opened,
    Quoted, Cite and Note are yielded whole."""
    for node in inlines:
        if not isinstance(node, dict):
            continue
        t = node.get("t")
        if t in ("Cite", "Quoted", "Note", "Str"):
            yield node
        elif isinstance(node.get("c"), list):
            for part in node["c"]:
                if isinstance(part, list) and part and isinstance(part[0], dict):
                    yield from _flatten(part)


def blank(m: re.Match[str]) -> str:
    """The match as spaces, line breaks kept: masked text keeps every offset and line number."""
    return re.sub(r"[^\n]", " ", m.group(0))


def mask_code(text: str) -> str:
    """Blank out code blocks and code spans, keeping offsets and line breaks."""
    text = re.sub(r"(?ms)^(```|~~~).*?^\1[^\n]*$", blank, text)
    return re.sub(r"(`+)(?!`).+?(?<!`)\1(?!`)", blank, text, flags=re.S)


# Identifiers the build generates in every output: the bibliography (`refs`) and its
# entries (`ref-KEY`, the targets of citation links). Input that defines them hijacks those links.
RESERVED_ID = re.compile(r"^(refs|ref-.*)$")
_ATTR_AT = {"Header": 1, "Div": 0, "Span": 0, "CodeBlock": 0, "Code": 0, "Link": 0, "Image": 0, "Table": 0, "Figure": 0}


@dataclass(frozen=True)
class ReservedId:
    """An element identifier that the build reserves for itself (it would collide), and where it stands."""

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
    """The citations of a Markdown text (see :func:`scan_markdown`), for callers that need only those."""
    return scan_markdown(path, text, crossref_prefixes)[0]


class _Locator:
    """Where each citation of a key stands in the text: its next place after the previous one found.

    A regex search from a cursor rescans the text for every citation (quadratic at thesis
    scale); here each key's places are found once with ``str.find``, each confirmed by the
    pattern, and later citations of the key are looked up by bisection.
    """

    def __init__(self, text: str, searchable: str, line_starts: list[int]) -> None:
        self.text, self.searchable, self.line_starts = text, searchable, line_starts
        self.cursor: dict[str, int] = {}
        self.spans: dict[str, list[tuple[int, int]]] = {}

    def occurrences(self, key: str) -> list[tuple[int, int]]:
        """Every place the key is cited in the text, in order (found once per key)."""
        if key not in self.spans:
            pattern = re.compile(r"(?<![\w.+])@(?:\{" + re.escape(key) + r"\}|" + re.escape(key) + r"(?![\w:./-]*\w))")
            found_at = set()
            for needle in ("@" + key, "@{" + key + "}"):
                i = self.searchable.find(needle)
                while i != -1:
                    m = pattern.match(self.searchable, i)
                    if m is not None:
                        found_at.add((m.start(), m.end()))
                    i = self.searchable.find(needle, i + 1)
            self.spans[key] = sorted(found_at)
        return self.spans[key]

    def locate(self, key: str) -> tuple[int, int]:
        """Line and column of the key's next citation after the previous one found (or of its first)."""
        places = self.occurrences(key)
        at = bisect.bisect_left(places, (self.cursor.get(key, 0), -1))
        span: tuple[int, int] | None = places[at] if at < len(places) else (places[0] if places else None)
        if span is None:  # odd contexts (`@a@b`, unbalanced backticks): any occurrence at all
            m = re.search("@" + re.escape(key), self.searchable) or re.search("@" + re.escape(key), self.text)
            span = (m.start(), m.end()) if m is not None else None
        if span is None:
            return 0, 0
        self.cursor[key] = span[1]
        start = span[0]
        if start > 0 and self.searchable[start - 1] == "-" and (start == 1 or self.searchable[start - 2] in "[ ;\n\t"):
            start -= 1  # `[-@key]`: the citation starts at the suppress-author dash
        line = bisect.bisect_right(self.line_starts, start)
        return line, start - self.line_starts[line - 1] + 1


def scan_markdown(
    path: Path, text: str, crossref_prefixes: tuple[str, ...] = (), ast: dict[str, Any] | None = None
) -> tuple[list[Citation], list[ReservedId]]:
    """Citations (every ``Cite`` at any depth) and reserved identifiers of a Markdown text (one pandoc parse).

    ``ast`` is ``text`` already parsed with :func:`parse_markdown`, when the caller keeps it for other uses.
    """
    if ast is None:
        ast = parse_markdown(text)
    found: list[Citation] = []
    searchable = mask_code(text)
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    locate = _Locator(text, searchable, line_starts).locate

    scan = _QuoteScan()
    scan.blocks(ast.get("blocks", []))
    meta = ast.get("meta", {})
    nocite = list(all_cites(meta.get("nocite", {})))
    nocite_ids = {id(c) for c, _g, _n in nocite}
    # Metadata first (YAML front matter stands at the top), then the body.
    for citation, group, nested in [*all_cites(meta), *all_cites(ast.get("blocks", []))]:
        key = citation["citationId"]
        label, locator = _parse_locator(stringify(citation.get("citationSuffix", [])))
        line, column = locate(key)
        crossref = any(key.lower().startswith(p.lower()) for p in crossref_prefixes)
        first = citation is group["c"][0][0]
        after_quote = first and id(group) in scan.attached and not _group_located(group)
        found.append(
            Citation(
                key,
                path,
                line,
                column,
                label,
                locator,
                after_quote,
                crossref,
                nested=nested,
                nocite=id(citation) in nocite_ids,
            )
        )
    return found, reserved_ids(ast, text)
