"""Format parity: every output carries the whole document.

The assembled Markdown, read by pandoc into its AST, says what each document
holds: headings, numbered figures and tables, citations, and (in the annotated
bibliography) an annotation per entry. Each output is read back as its reader
gets it and inventoried the same way:

- HTML in Chromium: an ``<img>`` counts only if it loaded and has pixels;
- DOCX from its XML parts: a figure counts only if its drawing references a
  non-empty media part;
- PDF with pypdf and poppler: a figure counts only if the page that holds its
  caption draws a non-empty image or form XObject; a table's cells count only if
  their text is on the page.

Any difference from the AST is a finding that names the item and the output,
such as ``build/paper.pdf: figure 2 'Belarus's trade…' has a caption but no
drawn image``. This module reads outputs; it never writes or repairs them.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from scholarly_build.checks.citations import stringify
from scholarly_build.core.pandoc import READER, pandoc_path

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CROSSREF_PREFIXES = ("fig:", "tbl:", "eq:", "sec:")
OPENING_WORDS = 6  # how much of an annotation must match to count as present
CELL_WORDS = 3  # how much of a table cell's text must be found on a PDF page
PLACEHOLDERS = (
    (re.compile(r"\[image not included"), "an image placeholder"),
    (re.compile(r"\?\?"), "an unresolved reference '??'"),
    (re.compile(r"\([\w:./-]+\?\)|\b[\w:./-]+\?\)"), "an undefined citation '(key?)'"),
)
INVENTORY_JS = Path(__file__).parent / "js" / "inventory.js"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


@dataclass(frozen=True)
class FigureItem:
    """A numbered figure: its caption, and whether its picture is drawn."""

    number: int
    caption: str
    drawn: bool = True


@dataclass(frozen=True)
class TableItem:
    """A numbered table: its caption and how many cells it shows."""

    number: int
    caption: str
    cells: int


@dataclass
class Inventory:
    """What one output (or the AST) holds. ``None`` means the format cannot tell."""

    label: str
    headings: list[str] | None = None
    figures: list[FigureItem] = field(default_factory=list)
    tables: list[TableItem] = field(default_factory=list)
    citations: Counter[str] | None = None
    references: list[str] | None = None
    annotations: dict[str, str] | None = None
    entry_index: list[str] | None = None  # navigation over the entries: HTML list, PDF bookmarks
    text: str = ""
    table_cells: list[list[str]] = field(default_factory=list)  # AST only: each table's cell texts


# ---------------------------------------------------------------------------
# Text


_UNIFY = str.maketrans("’‘“”–—", "''\"\"--", "\u00ad")


def norm(text: str) -> str:
    """Text as compared across formats: NFKC, one kind of quote and dash, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"-\n(?=[a-z])", "", text)  # TeX's line-end hyphenation
    text = text.translate(_UNIFY)
    return re.sub(r"\s+", " ", text).strip()


def opening(text: str, words: int = OPENING_WORDS) -> str:
    """The first ``words`` words of ``text``, normalised: what must match for an annotation to count."""
    return " ".join(norm(text).split()[:words])


def _numbered(caption: str, kind: str) -> tuple[int | None, str]:
    """``("Figure 2: Trade …", "Figure")`` -> ``(2, "Trade …")``."""
    m = re.match(rf"\s*{kind}\s+(\d+)\s*[:.]\s*(.*)", norm(caption), re.S)
    return (int(m.group(1)), m.group(2)) if m else (None, norm(caption))


def _short(text: str, n: int = 32) -> str:
    return text if len(text) <= n else text[:n].rstrip() + "…"


# ---------------------------------------------------------------------------
# The reference inventory: pandoc's AST of the assembled Markdown


def _visible(node: Any) -> Any:
    """``node`` without footnotes and images: their text is not read where the node stands."""
    if isinstance(node, list):
        return [_visible(n) for n in node if not (isinstance(n, dict) and n.get("t") in ("Note", "Image"))]
    if isinstance(node, dict):
        return {k: _visible(v) for k, v in node.items()}
    return node


def _stringify(node: Any) -> str:
    """Plain text of a pandoc JSON node as a reader sees it, normalised (see :func:`norm`)."""
    return norm(stringify(_visible(node)))


def _walk(node: Any) -> Iterable[dict[str, Any]]:
    """Every element in document order, except inside images: an image's alt text
    (pandoc copies a figure's caption there) is never shown as text."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            if "t" in n:
                yield n
                if n["t"] == "Image":
                    continue
            stack.extend(reversed(list(n.values())))
        elif isinstance(n, list):
            stack.extend(reversed(n))


def _table_cells(table: dict[str, Any]) -> list[str]:
    """Text of every header and body cell of a pandoc Table node."""
    _attr, _caption, _specs, head, bodies, foot = table["c"]
    rows = list(head[1])
    for body in bodies:
        rows += body[2] + body[3]
    rows += foot[1]
    return [_stringify(cell[4]) for row in rows for cell in row[1]]


def ast_inventory(markdown: Path, prefixes: Sequence[str] = CROSSREF_PREFIXES) -> Inventory:
    """The inventory the assembled Markdown declares, from pandoc's own reading of it."""
    out = subprocess.run(
        [str(pandoc_path()), "-f", READER, "-t", "json", str(markdown)],
        capture_output=True,
        check=True,
        timeout=120,
    )
    doc = json.loads(out.stdout)
    headings: list[str] = []
    citations: Counter[str] = Counter()
    annotations: dict[str, str] = {}
    inv = Inventory(f"{markdown.name} (pandoc AST)", headings=headings, citations=citations)
    lowered = tuple(p.lower() for p in prefixes)
    nocite = _nocite(doc.get("meta", {}))
    for node in _walk(doc["blocks"]):
        t = node["t"]
        if t == "Header":
            headings.append(_stringify(node["c"][2]))
        elif t == "Figure" and node["c"][0][0].startswith("fig:"):
            inv.figures.append(FigureItem(len(inv.figures) + 1, _stringify(node["c"][1][1])))
        elif t == "Div" and node["c"][0][0].startswith("tbl:"):
            for table in (n for n in _walk(node["c"][1]) if n["t"] == "Table"):
                cells = _table_cells(table)
                inv.tables.append(TableItem(len(inv.tables) + 1, _stringify(table["c"][1][1]), len(cells)))
                inv.table_cells.append(cells)
        elif t == "Div" and "annotation" in node["c"][0][1]:
            key = dict(node["c"][0][2]).get("key", "")
            annotations[key] = opening(_stringify(node["c"][1]))
        elif t == "Cite":
            for citation in node["c"][0]:
                if not citation["citationId"].lower().startswith(lowered):
                    citations[citation["citationId"]] += 1
    if annotations:
        inv.annotations = annotations
        inv.references = sorted(annotations)
    else:
        inv.references = sorted(set(citations) | nocite)
    return inv


def _nocite(meta: dict[str, Any]) -> set[str]:
    value = meta.get("nocite")
    if not value:
        return set()
    return {c["citationId"] for n in _walk(value) if n["t"] == "Cite" for c in n["c"][0]} - {"*"}


# ---------------------------------------------------------------------------
# HTML, as Chromium shows it


def html_inventory(browser: Browser, path: Path) -> Inventory:
    """Open ``path`` offline in Chromium and inventory what the reader sees."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.route(
            "**/*",
            lambda route: route.continue_() if route.request.url.startswith(("file:", "data:")) else route.abort(),
        )
        page.goto(path.resolve().as_uri(), wait_until="load")
        data = page.evaluate(INVENTORY_JS.read_text(encoding="utf-8"))
    finally:
        page.close()
    inv = Inventory(display_path(path), headings=[norm(h) for h in data["headings"]], text=norm(data["text"]))
    for fig in data["figures"]:
        number, caption = _numbered(fig["caption"], "Figure")
        inv.figures.append(FigureItem(number or len(inv.figures) + 1, caption, bool(fig["drawn"])))
    for table in data["tables"]:
        number, caption = _numbered(table["caption"], "Table")
        if number is not None:
            inv.tables.append(TableItem(number, caption, int(table["cells"])))
    inv.citations = Counter(data["citations"])
    inv.entry_index = [norm(label) for label in data["entryIndex"]] or None
    inv.references = [r["key"] for r in data["references"]]
    annotated = {r["key"]: r["annotation"] for r in data["references"] if r["annotation"] is not None}
    inv.annotations = {k: opening(v) for k, v in annotated.items()} or None
    return inv


# ---------------------------------------------------------------------------
# DOCX, from its XML parts


def _xml(data: bytes) -> ElementTree.Element:
    # Python's expat refuses entity-expansion bombs (>= 2.4.1) and never fetches
    # external entities, so a committed, hostile build/*.docx cannot reach out.
    return ElementTree.fromstring(data)  # noqa: S314


def _docx_text(el: ElementTree.Element) -> str:
    return norm("".join(t.text or "" for t in el.iter(f"{W}t")))


def docx_inventory(path: Path) -> Inventory:
    """Headings, figures with their media, tables, citation links and references of a DOCX."""
    headings: list[str] = []
    citations: Counter[str] = Counter()
    references: list[str] = []
    inv = Inventory(display_path(path), headings=headings, citations=citations, references=references)
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        rels = {
            r.get("Id"): "word/" + (r.get("Target") or "").lstrip("/").removeprefix("word/")
            for r in _xml(z.read("word/_rels/document.xml.rels")).iter(f"{REL}Relationship")
        }
        body = _xml(z.read("word/document.xml")).find(f"{W}body")
        if body is None:
            return inv
        parts = [body]
        if "word/footnotes.xml" in names:
            parts.append(_xml(z.read("word/footnotes.xml")))

        def media_ok(target: str | None) -> bool:
            return target is not None and target in names and z.getinfo(target).file_size > 0

        pending: FigureItem | None = None
        caption_before: str | None = None
        for el in body:
            style = el.find(f"{W}pPr/{W}pStyle")
            style_name = style.get(f"{W}val", "") if style is not None else ""
            if el.tag == f"{W}p" and re.fullmatch(r"Heading\d", style_name):
                headings.append(_docx_text(el))
            elif el.tag == f"{W}p" and style_name == "CaptionedFigure":
                blips = [b.get(f"{R}embed") for b in el.iter(f"{A}blip")]
                pending = FigureItem(0, "", any(media_ok(rels.get(b)) for b in blips))
            elif el.tag == f"{W}p" and style_name == "ImageCaption" and pending is not None:
                number, caption = _numbered(_docx_text(el), "Figure")
                inv.figures.append(FigureItem(number or len(inv.figures) + 1, caption, pending.drawn))
                pending = None
            elif el.tag == f"{W}p" and style_name == "TableCaption":
                caption_before = _docx_text(el)
            elif el.tag == f"{W}tbl":
                number, caption = _numbered(caption_before or "", "Table")
                if number is not None:
                    inv.tables.append(TableItem(number, caption, len(list(el.iter(f"{W}tc")))))
                caption_before = None
        for part in parts:
            for link in part.iter(f"{W}hyperlink"):
                anchor = link.get(f"{W}anchor") or ""
                if anchor.startswith("ref-"):
                    citations[anchor[4:]] += 1
            for mark in part.iter(f"{W}bookmarkStart"):
                name = mark.get(f"{W}name") or ""
                if name.startswith("ref-"):
                    references.append(name[4:])
        inv.text = " ".join(_docx_text(p) for p in parts)
    return inv


# ---------------------------------------------------------------------------
# PDF, with pypdf and poppler


def _pdf_pages_text(path: Path) -> list[str]:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=120)
    return out.stdout.decode("utf-8", "replace").split("\f")


def _drawn_xobjects(page: Any) -> int:
    """How many non-empty image or form XObjects the page's content stream draws (``Do``)."""
    from pypdf.generic import ContentStream

    resources = page.get("/Resources") or {}
    xobjects = resources.get("/XObject")
    if not xobjects:
        return 0
    xobjects = xobjects.get_object()
    contents = page.get_contents()
    if contents is None:
        return 0
    drawn = 0
    for operands, operator in ContentStream(contents, page.pdf).operations:
        if operator != b"Do" or not operands or operands[0] not in xobjects:
            continue
        xobj = xobjects[operands[0]].get_object()
        subtype = xobj.get("/Subtype")
        if subtype == "/Image" and int(xobj.get("/Width", 0)) > 0 and int(xobj.get("/Height", 0)) > 0:
            drawn += 1
        elif subtype == "/Form" and len(xobj.get_data()) > 0:
            drawn += 1
    return drawn


def _pdf_citation_links(reader: Any) -> Counter[str]:
    """Citation links (``cite.ref-KEY``) per key; a link that wraps to the next line counts once.

    A wrapped link is two annotations with the same target: the first reaches the
    text block's right edge, the next starts at its left edge on a lower line (or
    the next page). The edges are the extremes of all citation links in the file.
    """
    links: list[tuple[int, str, float, float, float, float]] = []  # page, key, bottom, top, x0, x1
    for number, page in enumerate(reader.pages):
        for ref in page.get("/Annots") or []:
            annot = ref.get_object()
            dest = annot.get("/Dest")
            if dest is None and annot.get("/A") is not None and annot["/A"].get("/S") == "/GoTo":
                dest = annot["/A"].get("/D")
            if annot.get("/Subtype") == "/Link" and isinstance(dest, str) and dest.startswith("cite.ref-"):
                x0, y0, x1, y1 = (float(v) for v in annot["/Rect"])
                key = dest[len("cite.ref-") :]
                links.append((number, key, min(y0, y1), max(y0, y1), min(x0, x1), max(x0, x1)))
    counts: Counter[str] = Counter()
    if not links:
        return counts
    left = min(link[4] for link in links)
    right = max(link[5] for link in links)
    previous = None
    for link in links:
        page, key, _bottom, top, x0, _x1 = link
        wraps = (
            previous is not None
            and previous[1] == key
            and previous[5] >= right - 3
            and x0 <= left + 3
            and (page > previous[0] or top <= previous[2] + 1)
        )
        if not wraps:
            counts[key] += 1
        previous = link
    return counts


@dataclass(frozen=True)
class Bookmark:
    """One PDF bookmark: its depth (1 = top), title and named destination ('' when none)."""

    level: int
    title: str
    dest: str


def pdf_bookmarks(outline: list[Any], level: int = 1) -> list[Bookmark]:
    """Every bookmark of a pypdf outline (``PdfReader.outline``), in reading order."""
    out: list[Bookmark] = []
    for item in outline:
        if isinstance(item, list):
            out += pdf_bookmarks(item, level + 1)
            continue
        action = item.node.get("/A") or {}
        dest = item.node.get("/Dest") or action.get("/D") or ""
        out.append(Bookmark(level, str(item.title), dest if isinstance(dest, str) else ""))
    return out


def pdf_inventory(path: Path, expected: Inventory | None = None) -> Inventory:
    """Headings (bookmarks), figures drawn on their caption's page, tables, citations, references."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    pages = _pdf_pages_text(path)
    outline = [(norm(b.title), b.dest) for b in pdf_bookmarks(reader.outline)]
    inv = Inventory(display_path(path), headings=[t for t, dest in outline if not dest.startswith("entry-")])
    entries = [t for t, dest in outline if dest.startswith("entry-")]
    inv.entry_index = entries or None
    inv.text = norm("\n".join(pages))
    page_text = [norm(p) for p in pages]
    for index, text in enumerate(pages):
        found = [m for m in re.finditer(r"(?m)^Figure (\d+): (.*)$", text)]
        drawn = _drawn_xobjects(reader.pages[index]) if found and index < len(reader.pages) else 0
        for i, m in enumerate(found):
            inv.figures.append(FigureItem(int(m.group(1)), norm(m.group(2)), drawn > i))
        for m in re.finditer(r"(?m)^Table (\d+): (.*)$", text):
            number = int(m.group(1))
            cells = 0
            if expected is not None and number <= len(expected.table_cells):
                # A table may run onto the next pages: look from its caption's page on.
                rest = " ".join(page_text[index : index + 4])
                cells = sum(1 for cell in expected.table_cells[number - 1] if opening(cell, CELL_WORDS) in rest)
            inv.tables.append(TableItem(number, norm(m.group(2)), cells))
    inv.citations = _pdf_citation_links(reader)
    inv.references = sorted(n[len("cite.ref-") :] for n in reader.named_destinations if n.startswith("cite.ref-"))
    if expected is not None and expected.annotations:
        inv.annotations = {k: v for k, v in expected.annotations.items() if v in inv.text}
    return inv


# ---------------------------------------------------------------------------
# Comparison


def compare(expected: Inventory, got: Inventory) -> list[str]:
    """Findings for everything ``got`` lacks or adds relative to ``expected``."""
    where = got.label
    out = _compare_headings(expected, got) + _compare_floats(expected, got) + _compare_citations(expected, got)
    if expected.annotations:
        have_notes = got.annotations or {}
        lost_notes = [k for k, words in expected.annotations.items() if have_notes.get(k, "")[: len(words)] != words]
        for key in lost_notes[:5]:
            out.append(f"{where}: the annotation of {key} ('{expected.annotations[key]}…') is not under its entry")
        if len(lost_notes) > 5:
            out.append(f"{where}: … and {len(lost_notes) - 5} more annotations missing")
    for pattern, what in PLACEHOLDERS:
        m = pattern.search(got.text)
        if m:
            context = got.text[max(0, m.start() - 30) : m.end() + 10]
            out.append(f"{where}: {what} in the text: '…{context}…'")
    return out


def _compare_headings(expected: Inventory, got: Inventory) -> list[str]:
    """The same headings in the same order (an output may add its own 'References' or 'Contents')."""
    if got.headings is None or expected.headings is None:
        return []
    extra_titles = {"References", "Contents"}
    mine = [h for h in got.headings if h not in extra_titles or h in expected.headings]
    if mine == expected.headings:
        return []
    missing = [h for h in expected.headings if h not in mine]
    added = [h for h in mine if h not in expected.headings]
    detail = (
        (f"missing {', '.join(repr(h) for h in missing[:3])}" if missing else "")
        + ("; " if missing and added else "")
        + (f"unexpected {', '.join(repr(h) for h in added[:3])}" if added else "")
    ) or "same headings in another order"
    return [f"{got.label}: headings differ from the source: {detail}"]


def _compare_floats(expected: Inventory, got: Inventory) -> list[str]:
    """Each figure drawn with its caption, each table with all its cells."""
    where = got.label
    out: list[str] = []
    got_figs = {f.number: f for f in got.figures}
    for fig in expected.figures:
        label = f"figure {fig.number} '{_short(fig.caption)}'"
        have = got_figs.get(fig.number)
        if have is None:
            out.append(f"{where}: {label} is missing (no caption 'Figure {fig.number}')")
        elif not have.drawn:
            out.append(f"{where}: {label} has a caption but no drawn image")
        elif not have.caption.startswith(fig.caption[:24]) and not fig.caption.startswith(have.caption[:24]):
            out.append(f"{where}: {label} has another caption: '{_short(have.caption)}'")
    if len(got.figures) > len(expected.figures):
        out.append(f"{where}: {len(got.figures)} figures, the source declares {len(expected.figures)}")
    got_tables = {t.number: t for t in got.tables}
    for table in expected.tables:
        label = f"table {table.number} '{_short(table.caption)}'"
        have_t = got_tables.get(table.number)
        if have_t is None:
            out.append(f"{where}: {label} is missing (no caption 'Table {table.number}')")
        elif have_t.cells != table.cells:
            out.append(f"{where}: {label} shows {have_t.cells} of its {table.cells} cells")
    return out


def _compare_citations(expected: Inventory, got: Inventory) -> list[str]:
    """The same citations per key, and the same entries in the reference list."""
    where = got.label
    out: list[str] = []
    if got.citations is not None and expected.citations is not None and got.citations != expected.citations:
        lost = sorted(k for k in expected.citations if got.citations.get(k, 0) < expected.citations[k])
        extra = sorted(k for k in got.citations if got.citations[k] > expected.citations.get(k, 0))
        parts = [f"{k} ({got.citations.get(k, 0)} of {expected.citations[k]})" for k in lost[:5]] + [
            f"{k} ({got.citations[k]}, expected {expected.citations.get(k, 0)})" for k in extra[:5]
        ]
        out.append(
            f"{where}: {sum(got.citations.values())} citations rendered, the source has "
            f"{sum(expected.citations.values())}: {', '.join(parts)}"
        )
    if got.references is not None and expected.references is not None:
        missing_refs = sorted(set(expected.references) - set(got.references))
        extra_refs = sorted(set(got.references) - set(expected.references))
        if missing_refs:
            n = len(missing_refs)
            out.append(
                f"{where}: reference list lacks {n} {'entry' if n == 1 else 'entries'}: {', '.join(missing_refs[:5])}"
            )
        if extra_refs:
            out.append(f"{where}: reference list has entries nobody cites: {', '.join(extra_refs[:5])}")
    return out


def compare_entry_index(expected: Inventory, outputs: Sequence[Inventory]) -> list[str]:
    """An annotated bibliography has one navigation item per entry, the same in every format."""
    if not expected.annotations:
        return []
    out = []
    indexes = {inv.label: inv.entry_index for inv in outputs if inv.label.endswith((".html", ".pdf"))}
    for label, index in indexes.items():
        kind = "a bookmark" if label.endswith(".pdf") else "an entry in its contents list"
        if index is None or len(index) != len(expected.annotations):
            want = len(expected.annotations)
            out.append(f"{label}: {len(index or [])} entries navigable, expected {kind} for each of {want}")
    found = [(label, index) for label, index in indexes.items() if index]
    for (label_a, a), (label_b, b) in itertools.pairwise(found):
        if a != b:
            first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            out.append(f"{label_b}: entry navigation differs from {label_a} at item {first + 1}")
    return out


@dataclass
class ParityReport:
    """Parity findings, the outputs compared, and what could not be compared."""

    findings: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def check_parity(
    build_dir: Path,
    documents: Sequence[str],
    browser: Browser | None,
    formats: Sequence[str] = ("html", "docx", "pdf"),
) -> ParityReport:
    """Compare the outputs (in ``formats``) of each document in ``build_dir`` with its assembled source."""
    report = ParityReport()
    for doc in documents:
        source = build_dir / "assembled" / f"{doc}.md"
        if not source.is_file():
            report.skipped.append(f"{display_path(source)}: missing (run the build first)")
            continue
        expected = ast_inventory(source)
        outputs: list[Inventory] = []
        html, docx, pdf = (
            build_dir / f"{doc}.{ext}" if ext in formats else Path("/nonexistent") for ext in ("html", "docx", "pdf")
        )
        if html.is_file() and browser is not None:
            outputs.append(html_inventory(browser, html))
        elif html.is_file():
            report.skipped.append(f"{display_path(html)}: not compared (no browser)")
        if docx.is_file():
            outputs.append(docx_inventory(docx))
        if pdf.is_file():
            outputs.append(pdf_inventory(pdf, expected))
        for inv in outputs:
            report.checked.append(inv.label)
            report.findings += compare(expected, inv)
        report.findings += compare_entry_index(expected, outputs)
    return report


def display_path(path: Path) -> str:
    """``build/…`` when the path is inside a build directory, else the path as given."""
    parts = path.parts
    if "build" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("build") :])
    return str(path)
