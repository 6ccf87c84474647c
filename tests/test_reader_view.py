"""The reader's view of the repository's own documents (issue 7).

The real project is built once into a temporary copy; its HTML is opened in
Debian's Chromium through Playwright (links clicked, network cut off, two
viewport widths, accessibility basics, axe-core when installed) and its PDFs are
read back with poppler and pypdf. A deliberately broken page shows that each
HTML check can fail.
"""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from rich.console import Console

from scholarly_build import cli
from scholarly_build.building.build import BuildOptions, build
from scholarly_build.building.reproducible import copy_project
from scholarly_build.core.pandoc import parse_markdown
from scholarly_build.rendering.render import PASSES_FILE
from scholarly_build.verification.readerview import (
    AXE_FAILING_IMPACTS,
    AXE_JS,
    CARD_JS,
    CITATION_SAMPLE,
    DOCUMENTS,
    MIN_CONTRAST,
    HtmlReport,
    PdfReport,
    browser_unavailable,
    check_html,
    check_pdf,
    chromium,
    cross_document_links,
    make_server,
    pdf_text,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / AXE_JS
NO_BROWSER = browser_unavailable()
pytestmark = pytest.mark.integration
needs_browser = pytest.mark.skipif(NO_BROWSER is not None, reason=f"HTML reader checks need Chromium: {NO_BROWSER}")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository copied to a temporary directory and built (every document and format)."""
    root = tmp_path_factory.mktemp("reader") / "project"
    copy_project(ROOT, root)
    build(root, BuildOptions(), Console(file=io.StringIO()))
    return root


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if NO_BROWSER is not None:
        pytest.skip(f"HTML reader checks need Chromium: {NO_BROWSER}")
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def html(project: Path, browser: Browser) -> dict[str, HtmlReport]:
    shots = project / "build" / "screenshots"
    return {
        doc: check_html(browser, project / "build" / f"{doc}.html", shots, axe_js=AXE if AXE.is_file() else None)
        for doc in DOCUMENTS
    }


@pytest.fixture(scope="module")
def pdf(project: Path) -> dict[str, PdfReport]:
    b = project / "build"
    return {
        doc: check_pdf(
            b / f"{doc}.pdf",
            source=b / "assembled" / f"{doc}.md",
            html_file=b / f"{doc}.html",
            log=b / ".work" / f"{doc}-latex" / f"{doc}.log",
            tex=b / f"{doc}.tex",
            screenshots=b / "screenshots",
        )
        for doc in DOCUMENTS
    }


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


# --- HTML in Chromium ----------------------------------------------------------------


@needs_browser
def test_citation_links_jump_to_their_entries(html: dict[str, HtmlReport]) -> None:
    """Every citation link has its entry in the DOM; a sample of clicks scrolls the entry into view."""
    paper = html["paper"]
    assert paper.citation_links > 300, f"expected the paper's 350-odd citation links, found {paper.citation_links}"
    assert paper.citation_targets >= 40, f"only {paper.citation_targets} distinct entries are cited"
    assert paper.missing_targets == [], f"links whose target id does not exist: {paper.missing_targets}"
    clicks = paper.clicks["citation"]
    assert len(clicks) == CITATION_SAMPLE, f"{len(clicks)} citation links were clicked"
    bad = [c for c in clicks if not c.ok]
    assert bad == [], f"citation clicks that did not bring the entry into view: {bad}"
    # Back-links (entry -> citation): pandoc writes none; any there are must work too.
    assert [c for r in html.values() for c in r.clicks["backlink"] if not c.ok] == []
    assert html["annotated-bibliography"].missing_targets == []


@needs_browser
def test_toc_and_cross_references_jump(html: dict[str, HtmlReport]) -> None:
    """Each table-of-contents entry and each figure/table reference jumps to its target."""
    paper = html["paper"]
    toc, refs = paper.clicks["toc"], paper.clicks["crossref"]
    sections = len(paper.headings) - 1  # all but the title
    assert len(toc) == sections, f"{len(toc)} TOC links for {sections} section headings"
    assert [c for c in toc if not c.ok] == []
    assert {c.href for c in refs} == {"#fig:timeline", "#fig:trade-energy", "#fig:coverage", "#tbl:comparison"}
    assert [c for c in refs if not c.ok] == []


@needs_browser
@pytest.mark.parametrize("doc", DOCUMENTS)
def test_works_offline_without_console_errors(html: dict[str, HtmlReport], doc: str) -> None:
    """The page requests nothing outside itself and logs no console error."""
    assert html[doc].external_requests == [], "requests outside the document"
    assert html[doc].console_errors == [], "console errors"


@needs_browser
def test_figures_load_with_alt_text(html: dict[str, HtmlReport]) -> None:
    """The paper's three figures are decoded (naturalWidth > 0) and have alt text."""
    images = html["paper"].images
    assert len(images) == 3, f"expected 3 figures, found {len(images)}"
    assert [i["src"] for i in images if not (i["complete"] and i["naturalWidth"] > 0)] == []
    assert all(i["src"].startswith("data:image/") for i in images), "figures must be embedded"
    assert [i["src"] for i in images if not (i["alt"] or "").strip()] == []


@needs_browser
@pytest.mark.parametrize("doc", DOCUMENTS)
def test_layout_has_no_horizontal_scroll(html: dict[str, HtmlReport], doc: str) -> None:
    """At 375 and 1280 px the body text never scrolls sideways; screenshots of both are written."""
    layouts = {lay.width: lay for lay in html[doc].layouts}
    assert sorted(layouts) == [375, 1280]
    for width, lay in layouts.items():
        assert lay.client_width == width
        assert lay.scroll_width <= lay.client_width + 1, (
            f"{doc} at {width} px: scrollWidth {lay.scroll_width}; sticking out: {lay.offenders}"
        )
        top = lay.screenshots[0]
        assert top.name == f"{doc}-{width}.png" and top.parent.name == "screenshots"
        assert _png_size(top)[0] == width
    if doc == "paper":
        names = {p.name for lay in layouts.values() for p in lay.screenshots}
        assert {"paper-375-table.png", "paper-375-figure.png", "paper-1280-refs.png"} <= names


@needs_browser
def test_annotations_are_grouped_under_their_entries(project: Path, html: dict[str, HtmlReport]) -> None:
    """Each annotation sits inside #ref-<key>, below the entry's text and within its width, paragraphs kept."""
    report = html["annotated-bibliography"]
    notes = sorted(p.stem for p in (ROOT / "bib" / "notes").glob("*.md"))
    assert report.entries == len(notes) and report.entries_without_annotation == []
    assert len(report.annotations) == 2 * len(notes), "one annotation per entry at each of the two widths"
    assert sorted({a.entry for a in report.annotations}) == [f"ref-{k}" for k in notes]
    bad = [a for a in report.annotations if not a.grouped]
    assert bad == [], f"annotations not visually under their entry: {bad[:3]}"
    # Entries use the text column (no indent stacked on the hanging indent), so annotations get its width.
    assert [(a.entry, a.width) for a in report.annotations if abs(a.entry_left - a.column_left) > 1] == []
    # Paragraph breaks survive (pandoc prints a csl-entry's paragraphs as bare text).
    ast = parse_markdown((project / "build" / "assembled" / "annotated-bibliography.md").read_text(encoding="utf-8"))
    (container,) = [b for b in ast["blocks"] if b["t"] == "Div" and "annotations" in b["c"][0][1]]
    blocks = {dict(d["c"][0][2])["key"]: len(d["c"][1]) for d in container["c"][1]}
    got = {a.entry.removeprefix("ref-"): a.paragraphs for a in report.annotations if a.width == 375}
    assert got == blocks
    assert max(blocks.values()) >= 3


@needs_browser
@pytest.mark.parametrize("doc", DOCUMENTS)
def test_accessibility_basics(html: dict[str, HtmlReport], doc: str) -> None:
    """lang, title, heading order, alt text, meaningful link text and WCAG AA contrast of text."""
    r = html[doc]
    assert r.lang.startswith("en"), f"html[lang] is {r.lang!r}"
    assert r.title.strip(), "empty <title>"
    assert r.headings and r.headings[0][0] == 1
    assert r.heading_jumps == []
    assert r.links_without_text == [] and r.vague_links == []
    measured = {c.selector: c for c in r.contrast}
    expected = {"paper": ("p", "a", "figcaption", "td"), "annotated-bibliography": ("p", ".annotation")}[doc]
    for selector in expected:
        assert measured[selector].elements > 0, f"no {selector} measured"
    low = [c for c in r.contrast if c.ratio < MIN_CONTRAST]
    assert low == [], f"contrast below {MIN_CONTRAST}:1"
    assert r.findings == [], "every HTML finding"


@needs_browser
@pytest.mark.skipif(not AXE.is_file(), reason="axe-core is not installed: run `npm ci`")
@pytest.mark.parametrize("doc", DOCUMENTS)
def test_axe_core_finds_no_serious_violation(html: dict[str, HtmlReport], doc: str) -> None:
    """axe-core (the version pinned in package.json), run offline at both widths: no serious or critical violation."""
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["axe-core"]
    assert html[doc].axe_version == pinned
    serious = [v for v in html[doc].axe_violations if v["impact"] in AXE_FAILING_IMPACTS]
    assert serious == []


@pytest.mark.skipif(not AXE.is_file(), reason="axe-core is not installed: run `npm ci`")
@pytest.mark.parametrize("doc", DOCUMENTS)
def test_axe_core_finds_no_violation_at_all(html: dict[str, HtmlReport], doc: str) -> None:
    """Not even moderate ones: the body sits in a <main> landmark (templates/html/template.html)."""
    assert [(v["impact"], v["id"]) for v in html[doc].axe_violations] == []


BROKEN = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title> </title>
<style>body { margin: 0; } .faint { color: #bbbbbb; } .wide { width: 2000px; }</style></head>
<body>
<h1>Top</h1><h3>Skips a level</h3>
<p class="faint">Faint text.</p>
<p><a href="#ref-nowhere">2020</a> <a href="#ref-here">1999</a> <a href="#fig:gone">Figure 9</a>
<a href="#ref-here"></a> <a href="#ref-here">click here</a></p>
<div class="wide">Wide.</div>
<img src="https://example.invalid/figure.png" alt="">
<script>console.error("boom from the page")</script>
<div id="refs"><div id="ref-here">Here, A. 1999. Title.</div>
<div class="annotation">Outside its entry.</div></div>
</body></html>
"""


@needs_browser
def test_broken_page_is_caught(browser: Browser, tmp_path: Path) -> None:
    """Each HTML check reports its problem on a deliberately broken page."""
    page = tmp_path / "broken.html"
    page.write_text(BROKEN, encoding="utf-8")
    report = check_html(browser, page, tmp_path / "shots")
    text = "\n".join(report.findings)
    expected = [
        "<html> has no lang attribute",
        "<title> is empty",
        "heading levels skip: h1 -> h3 at 'Skips a level'",
        "link '#ref-nowhere' points at no element",
        "citation link '#ref-nowhere': after a click",
        "crossref link '#fig:gone': after a click",
        "image 'https://example.invalid/figure.png' did not load",
        "image 'https://example.invalid/figure.png' has no alt text",
        "link with no text: #ref-here",
        "link text is not meaningful: 'click here'",
        "contrast of p is 1.",
        "at 375 px the page scrolls sideways",
        "at 1280 px the page scrolls sideways",
        "entry 'ref-here' has no annotation",
        "annotation in 'no entry' at 375 px is not grouped",
        "console error: boom from the page",
        "request outside the document (the page must work offline): https://example.invalid/figure.png",
    ]
    assert [e for e in expected if e not in text] == [], text
    assert all(f.startswith(f"{page}: ") for f in report.findings)
    assert (tmp_path / "shots" / "broken-375.png").is_file()


# --- PDF -------------------------------------------------------------------------------


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_pdf_fonts_are_embedded(pdf: dict[str, PdfReport], doc: str) -> None:
    """pdffonts lists the fonts and every one is embedded."""
    fonts = pdf[doc].fonts
    assert len(fonts) >= 2, f"pdffonts lists {fonts}"
    assert [name for name, embedded in fonts if not embedded] == []


def test_pdf_text_keeps_cyrillic_and_czech(project: Path, pdf: dict[str, PdfReport]) -> None:
    """Лукашэнка and Lukašenko, and every other non-ASCII word of the source, survive pdftotext."""
    paper = pdf["paper"]
    assert {"Лукашэнка", "Lukašenko"} <= set(paper.expected_words)
    assert paper.missing_words == []
    text = pdf_text(project / "build" / "paper.pdf")
    assert "Лукашэнка" in text and "Lukašenko" in text
    assert pdf["annotated-bibliography"].missing_words == []


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_pdf_metadata(project: Path, pdf: dict[str, PdfReport], doc: str) -> None:
    """Title (the HTML's title), Author and Subject are set."""
    info = pdf[doc].info
    title = re.search(r"<title>(.*?)</title>", (project / "build" / f"{doc}.html").read_text(encoding="utf-8"), re.S)
    assert title is not None
    assert info.get("Title") == re.sub(r"\s+", " ", title.group(1)).strip()
    assert info.get("Author") == "Scholarly Build Project"
    assert info.get("Subject", "").startswith("Belarus")


def test_pdf_bookmarks_follow_headings(pdf: dict[str, PdfReport]) -> None:
    """The paper's bookmarks are its section and subsection headings, in order and nested."""
    paper = pdf["paper"]
    assert paper.headings is not None and len(paper.headings) >= 40
    assert paper.outline == paper.headings
    assert paper.outline[0] == (1, "Introduction") and paper.outline[-1] == (1, "References")
    assert sum(level == 2 for level, _ in paper.outline) >= 25
    assert pdf["annotated-bibliography"].outline == pdf["annotated-bibliography"].headings == []


def test_pdf_internal_links_are_live(pdf: dict[str, PdfReport]) -> None:
    """Citations link to their entries and figure/table references to the float, all to existing destinations."""
    paper = pdf["paper"]
    assert paper.dangling_links == []
    cites = paper.links_to("cite.ref-")
    assert sum(paper.citations.values()) > 300
    assert len(cites) >= sum(paper.citations.values()), "every citation is at least one link annotation"
    assert {link.dest.removeprefix("cite.ref-") for link in cites} == set(paper.citations)
    assert sorted(paper.crossrefs) == ["fig:coverage", "fig:timeline", "fig:trade-energy", "tbl:comparison"]
    for label, (refs, dest) in paper.crossrefs.items():
        assert dest in paper.named_destinations, f"{label}: {dest}"
        assert sum(link.dest == dest for link in paper.internal_links) >= refs, label
    assert paper.findings == []


def test_a_cold_build_of_the_paper_takes_two_tex_passes(project: Path) -> None:
    """Each citation prints citeproc's text from the first pass, linked to its entry (the test above):
    pandoc's own \\citeproc printed "?" until the .aux was read back, which moved this paper's
    lines and pages once more and cost a third pass of a cold build."""
    assert (project / "build" / ".work" / "paper-latex" / PASSES_FILE).read_text().strip() == "2"


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_no_overfull_lines(pdf: dict[str, PdfReport], doc: str) -> None:
    """No Overfull \\hbox wider than 10 pt in the LaTeX log (text running into the margin)."""
    log = pdf[doc].log
    assert log is not None and "Output written on" in log.read_text(errors="replace"), f"not a complete log: {log}"
    assert pdf[doc].overfull == []
    assert pdf[doc].findings == []


def test_overfull_lines_are_reported(project: Path, tmp_path: Path) -> None:
    """An overfull line above the threshold in the log is a finding; one below is not."""
    log = tmp_path / "paper.log"
    log.write_text(
        "Overfull \\hbox (12.5pt too wide) in paragraph at lines 10--12\n"
        "Overfull \\hbox (3.1pt too wide) in paragraph at lines 20--21\n"
    )
    report = check_pdf(project / "build" / "paper.pdf", log=log)
    assert report.overfull == ["Overfull \\hbox (12.5pt too wide) in paragraph at lines 10--12"]
    assert len(report.findings) == 1 and "12.5pt too wide" in report.findings[0]


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_first_pdf_pages_rendered(pdf: dict[str, PdfReport], doc: str) -> None:
    """pdftoppm -r 80 writes pages 1 and 2 (A4: 662 px wide) to build/screenshots/."""
    shots = pdf[doc].screenshots
    assert [p.name for p in shots] == [f"{doc}-page-01.png", f"{doc}-page-02.png"]
    assert all(_png_size(p) == (662, 936) for p in shots)


# --- CLI -------------------------------------------------------------------------------


def test_reader_check_command(project: Path) -> None:
    """`reader-check` prints no finding and exits 0 on the real build (PDF only without Chromium)."""
    # A subprocess: Playwright's sync API cannot start while this module's browser runs.
    proc = subprocess.run(
        [sys.executable, "-m", "scholarly_build", "--root", str(project), "reader-check",
         *(["--only", "pdf"] if NO_BROWSER else [])],
        capture_output=True, text=True, timeout=600, check=False,
    )
    code, out = proc.returncode, proc.stdout
    assert code == 0, out + proc.stderr
    checked = "build/paper.pdf" if NO_BROWSER else "build/paper.html, build/annotated-bibliography.html"
    assert out.splitlines()[-1].startswith(f"0 finding(s) in {checked}"), out
    assert "build/annotated-bibliography.pdf" in out.splitlines()[-1]


def test_reader_check_fails_without_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing built: `reader-check` says what it could not check and exits 1."""
    (tmp_path / "build").mkdir()
    assert cli.main(["--root", str(tmp_path), "reader-check", "--only", "pdf"]) == 1
    out = capsys.readouterr().out
    assert "not checked: build/paper.pdf: missing (run the build first)" in out


def test_server_serves_build(project: Path) -> None:
    """make_server serves build/ on 127.0.0.1."""
    server = make_server(project / "build", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/paper.html", timeout=10) as response:
            assert response.status == 200
            assert response.read() == (project / "build" / "paper.html").read_bytes()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_serve_command(project: Path) -> None:
    """`serve --port 0` prints its URL, serves the HTML, and stops cleanly on Ctrl-C."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "scholarly_build", "--root", str(project), "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
        assert match, first
        url = f"http://127.0.0.1:{match.group(1)}/annotated-bibliography.html"
        with urllib.request.urlopen(url, timeout=10) as response:
            body: Any = response.read()
        assert body == (project / "build" / "annotated-bibliography.html").read_bytes()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0 and "stopped serving" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_without_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No build/: `serve` explains and exits 1."""
    assert cli.main(["--root", str(tmp_path), "serve"]) == 1
    assert "run `invoke build` first" in capsys.readouterr().err


@needs_browser
def test_every_format_carries_the_whole_document(project: Path, browser: Browser) -> None:
    """Parity: the real paper and bibliography lose nothing in HTML, DOCX or PDF (figures drawn included)."""
    from scholarly_build.verification.parity import ast_inventory, check_parity, pdf_inventory

    report = check_parity(project / "build", DOCUMENTS, browser)
    assert report.findings == []
    assert len(report.checked) == 5  # paper: HTML, DOCX, PDF; bibliography: HTML, PDF
    paper = ast_inventory(project / "build" / "assembled" / "paper.md")
    assert len(paper.figures) == 3 and len(paper.tables) == 1
    drawn = pdf_inventory(project / "build" / "paper.pdf", paper).figures
    assert [f.drawn for f in drawn] == [True, True, True]


# --- Linked reading: citation cards and links between the documents (issue 16) ---------


@contextmanager
def _offline_page(browser: Browser, path: Path, width: int) -> Iterator[tuple[Page, list[str]]]:
    """``path`` opened from file:// at ``width`` px; any request for another file is refused and listed."""
    url = path.resolve().as_uri()
    outside: list[str] = []

    def on_route(route: Any) -> None:
        if route.request.url.startswith("data:") or route.request.url.split("#")[0] == url:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context = browser.new_context(viewport={"width": width, "height": 812})
    try:
        context.route("**/*", on_route)
        page = context.new_page()
        page.goto(url, wait_until="load")
        yield page, outside
    finally:
        context.close()


def _note_opening(project: Path, key: str, words: int = 8) -> str:
    """The first words of a note's annotation, read from the note itself (markup dropped)."""
    body = (project / "bib" / "notes" / f"{key}.md").read_text().split("\n---\n", 1)[1]
    text = re.sub(r"[*_`]", "", body).replace("'", "’")
    return " ".join(text.split()[:words])


def _tab_to_citation(page: Page, limit: int = 400) -> str:
    """Press Tab from the top of the page until a citation link has focus; its href."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    for _ in range(limit):
        page.keyboard.press("Tab")
        href = page.evaluate(
            "() => { const a = document.activeElement;"
            " return a && a.closest('.citation') && a.matches('a[href^=\"#ref-\"]') ? a.getAttribute('href') : ''; }"
        )
        if href:
            return str(href)
    raise AssertionError(f"no citation link reached after {limit} Tab presses")


@needs_browser
def test_citation_card_opens_from_the_keyboard(project: Path, browser: Browser) -> None:
    """Tab to a citation: the card shows its reference and the opening of the note's annotation, Tab reaches
    its link to the full annotation, and Escape closes it and gives focus back to the citation."""
    with _offline_page(browser, project / "build" / "paper.html", 1280) as (page, outside):
        href = _tab_to_citation(page)
        key = href[len("#ref-") :]
        state = page.evaluate(CARD_JS)
        assert state["shown"], "no card when a citation has keyboard focus"
        assert _note_opening(project, key) in state["text"]
        entry = page.inner_text(f"#refs [id='ref-{key}']").split(".")[0]  # the entry's author, as formatted
        assert entry and entry in state["text"]
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.className") == "card-more"
        more = page.evaluate("() => document.activeElement.getAttribute('href')")
        assert more == f"annotated-bibliography.html{href}"
        page.keyboard.press("Escape")
        assert page.evaluate("() => document.getElementById('citation-card').hidden")
        assert page.evaluate("() => document.activeElement.getAttribute('href')") == href
        page.keyboard.press("Tab")  # on to the next link: a card opens again for the next citation, if it is one
        assert outside == []


@needs_browser
def test_citation_card_does_not_cover_the_text_at_375_px(project: Path, browser: Browser) -> None:
    """On a phone the card is a sheet at the bottom: the focused citation's line stays visible above it,
    even for a citation near the bottom of the screen, and the page does not scroll sideways."""
    with _offline_page(browser, project / "build" / "paper.html", 375) as (page, outside):
        links = page.query_selector_all('.citation a[href^="#ref-"]')
        assert len(links) > 20
        for link in (links[0], links[len(links) // 2], links[-1]):
            # The citation at the bottom edge of the screen, where a sheet would hide it.
            link.evaluate("a => window.scrollTo(0, a.getBoundingClientRect().top + window.scrollY - 800)")
            link.focus()
            state = page.evaluate(CARD_JS)
            assert state["shown"]
            left, top, right, bottom = state["card"]
            _c_left, c_top, _c_right, c_bottom = state["citation"]
            assert c_bottom <= top or c_top >= bottom, f"card {state['card']} covers citation {state['citation']}"
            assert 0 <= c_top and c_bottom <= 812, "the citation was scrolled out of view"
            assert left >= 0 and right <= 375 and bottom <= 812 + 1
            assert state["scrollWidth"] <= state["clientWidth"]
            page.keyboard.press("Escape")
        assert outside == []


_CARD_OPEN_JS = "() => { const c = document.getElementById('citation-card'); return !!c && !c.hidden; }"
_HOVERED_CARD_JS = """() => {
  const card = document.getElementById('citation-card');
  const shown = !!card && !card.hidden && card.getBoundingClientRect().height > 0;
  const r = shown ? card.getBoundingClientRect() : null;
  return {shown, text: shown ? card.innerText.replace(/\\s+/g, ' ').trim() : '',
          card: r ? [r.left, r.top, r.right, r.bottom] : null,
          focused: document.activeElement && document.activeElement.tagName};
}"""


@needs_browser
def test_citation_card_follows_the_mouse(project: Path, browser: Browser) -> None:
    """With a mouse only (no focus): hovering a citation shows its card beside it, without covering it; the
    pointer can travel into the card and click its link; leaving both closes the card."""
    with _offline_page(browser, project / "build" / "paper.html", 1280) as (page, outside):
        link = page.locator('.citation a[href^="#ref-"]').nth(3)
        link.scroll_into_view_if_needed()
        key = str(link.get_attribute("href"))[len("#ref-") :]
        page.mouse.move(5, 5)
        link.hover()
        page.wait_for_function(_CARD_OPEN_JS, timeout=2000)
        state = page.evaluate(_HOVERED_CARD_JS)
        assert state["focused"] == "BODY", "the card opened by focus, not by the mouse"
        assert _note_opening(project, key) in state["text"]
        cite = link.bounding_box()
        assert cite is not None
        left, top, right, bottom = state["card"]
        assert cite["y"] + cite["height"] <= top or cite["y"] >= bottom, "the card covers the hovered citation"
        # Across the gap between the citation and the card: the card stays open.
        more = page.locator("#citation-card a.card-more")
        more.hover()
        page.wait_for_timeout(500)  # past the 300 ms grace the card gives a pointer leaving the citation
        assert page.evaluate(_HOVERED_CARD_JS)["shown"], "the card closed while the pointer was on it"
        assert more.get_attribute("href") == f"annotated-bibliography.html#ref-{key}"
        # Away from both: it closes.
        page.mouse.move(left - 40 if left > 60 else right + 40, 5)
        page.wait_for_function("() => document.getElementById('citation-card').hidden", timeout=2000)
        assert outside == []


@needs_browser
def test_reader_check_opens_cards_at_both_widths(html: dict[str, HtmlReport]) -> None:
    """The reader check itself opens a card at 375 and 1280 px (and runs axe-core with it open)."""
    cards = html["paper"].cards
    assert [c.width for c in cards] == [375, 1280]
    assert all(c.findings == [] for c in cards)
    assert html["annotated-bibliography"].cards == []


@needs_browser
def test_reference_entries_link_to_their_annotations(project: Path, browser: Browser) -> None:
    """Each entry of the paper's reference list links to its own entry in the annotated bibliography, and
    following the link (file://) lands on that entry with its annotation."""
    build = project / "build"
    with _offline_page(browser, build / "paper.html", 1280) as (page, _outside):
        links = page.eval_on_selector_all(
            "#refs .csl-entry", "els => els.map(e => [e.id, (e.querySelector('a.annotation-link') || {}).href])"
        )
    notes = {p.stem for p in (project / "bib" / "notes").glob("*.md")}
    assert len(links) > 40
    for entry_id, href in links:
        key = entry_id[len("ref-") :]
        if key in notes:
            assert href == (build / "annotated-bibliography.html").as_uri() + f"#{entry_id}", entry_id
    key = links[len(links) // 2][0][len("ref-") :]
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto((build / "paper.html").as_uri())
        page.click(f"[id='ref-{key}'] a.annotation-link")
        page.wait_for_load_state("load")
        assert page.url.endswith(f"annotated-bibliography.html#ref-{key}")
        target = page.evaluate("() => { const e = document.getElementById(location.hash.slice(1)); "
                               "const r = e.getBoundingClientRect(); return [e.className, e.innerText, r.top]; }")
        assert "csl-entry" in target[0] and -2 <= target[2] < 812
        assert _note_opening(project, key) in " ".join(target[1].split())
    finally:
        context.close()


def _sections_citing(paper_html: Path) -> dict[str, list[str]]:
    """From the rendered paper: for each key, the top-level sections whose text holds a citation of it."""
    text = paper_html.read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}
    parts = re.split(r'<section id="([^"]+)" class="level1', text)
    for ident, body in zip(parts[1::2], parts[2::2], strict=True):
        for key in re.findall(r'<a href="#ref-([^"]+)" role="doc-biblioref"', body):
            if ident not in found.setdefault(key, []):
                found[key].append(ident)
    return found


@needs_browser
def test_annotations_list_where_the_paper_cites_them(project: Path, browser: Browser) -> None:
    """Each annotated entry lists the paper's sections that cite it, in order, each linked to that section of
    paper.html; the lists agree with the citations in the rendered paper, and the links resolve."""
    build = project / "build"
    expected = _sections_citing(build / "paper.html")
    with _offline_page(browser, build / "annotated-bibliography.html", 1280) as (page, _outside):
        listed = page.eval_on_selector_all(
            "#refs .csl-entry",
            "els => els.map(e => [e.id.slice(4), [...e.querySelectorAll('.cited-in a')].map(a => "
            "[a.getAttribute('href'), a.textContent.replace(/\\s+/g, ' ')])])",
        )
    assert sum(1 for _key, links in listed if links) > 40
    with _offline_page(browser, build / "paper.html", 1280) as (paper, _outside):
        titles = dict(paper.eval_on_selector_all(
            "section.level1", "els => els.map(s => [s.id, s.querySelector('h1').textContent.replace(/\\s+/g, ' ')])"
        ))
    for key, links in listed:
        assert [href for href, _title in links] == [f"paper.html#{i}" for i in expected.get(key, [])], key
        for href, title in links:
            assert titles[href.split("#", 1)[1]] == title
    assert cross_document_links(build) == []


@needs_browser
def test_documents_link_to_their_other_formats(project: Path, browser: Browser) -> None:
    """At the top of each HTML document: its PDF (the paper: and its DOCX) and the other document."""
    build = project / "build"
    wanted = {
        "paper": ["paper.pdf", "paper.docx", "annotated-bibliography.html"],
        "annotated-bibliography": ["annotated-bibliography.pdf", "paper.html"],
    }
    for doc, files in wanted.items():
        with _offline_page(browser, build / f"{doc}.html", 375) as (page, _outside):
            hrefs = page.eval_on_selector_all(
                "body > nav.other-formats a", "els => els.map(a => a.getAttribute('href'))"
            )
            top = page.eval_on_selector("body > nav.other-formats", "n => n.getBoundingClientRect().top")
        assert hrefs == files
        assert top < 100
        assert all((build / f).is_file() for f in hrefs)


@needs_browser
def test_entry_index_is_compact_at_375_px(project: Path, browser: Browser) -> None:
    """The annotated bibliography's list of 52 entries flows inline: far fewer rows than entries on a phone."""
    with _offline_page(browser, project / "build" / "annotated-bibliography.html", 375) as (page, _outside):
        rows = page.eval_on_selector_all(
            "#entry-index li", "els => new Set(els.map(e => Math.round(e.getBoundingClientRect().top))).size"
        )
        items = page.eval_on_selector_all("#entry-index li", "els => els.length")
    assert items == 52
    assert rows <= items // 2
