"""The reader's view: the built HTML in a real browser and the PDF as a reader gets it.

HTML is opened in Debian's Chromium driven by Playwright (never a browser that
Playwright downloads): links are clicked, the network is cut off, the layout is
measured at a phone and a desktop width, and accessibility basics are checked
(optionally with axe-core from ``node_modules``). The PDF is read back with
poppler and pypdf: embedded fonts, extractable text, metadata, bookmarks, live
internal links, and the LaTeX log's overfull lines.

Every check returns a report whose ``findings`` are human-readable strings
(``build/paper.html: …``); an empty list means the reader sees nothing wrong.
Screenshots go to ``build/screenshots/``.
"""

from __future__ import annotations

import html
import html.parser
import io
import os
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from scholarly_build.rendering.render import overfull_boxes
from scholarly_build.verification.parity import ParityReport, check_parity, display_path, pdf_bookmarks

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# Debian's Chromium; SCHOLARLY_BUILD_CHROMIUM names another Chromium-based browser
# (e.g. /usr/bin/google-chrome on a GitHub runner, where Ubuntu ships Chromium only as a snap).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ENV = "SCHOLARLY_BUILD_CHROMIUM"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
DOCUMENTS = ("paper", "annotated-bibliography")
WIDTHS = (375, 1280)
VIEWPORT_HEIGHT = {375: 812, 1280: 900}
MIN_CONTRAST = 4.5
CONTRAST_SELECTORS = ("p", "a", "figcaption", ".annotation", "li", "td", "th", "caption", "blockquote")
VAGUE_LINK_TEXT = re.compile(r"^(click here|here|link|this link|more|read more|this)$", re.IGNORECASE)
OVERFULL_THRESHOLD_PT = 10.0
AXE_JS = Path("node_modules") / "axe-core" / "axe.min.js"
JS_DIR = Path(__file__).parent / "js"
AXE_FAILING_IMPACTS = ("serious", "critical")
CLICK_TIMEOUT_MS = 3000
CITATION_SAMPLE = 8  # citation links clicked per document (all targets are checked in the DOM)
# Besides the top of each page, a screenshot with each of these at the top of the viewport.
VIEWS = (("figure", "figure"), ("table", "table"), ("refs", "#refs"))


# ---------------------------------------------------------------------------
# HTML in Chromium


@dataclass
class Layout:
    """The page at one viewport width: its scroll and client widths, what sticks out, its screenshots."""

    width: int
    scroll_width: int
    client_width: int
    offenders: list[str]  # elements sticking out of the page (outside any scroll box)
    screenshots: list[Path] = field(default_factory=list)  # the top of the page first


@dataclass
class Contrast:
    """The lowest text contrast among the elements of one selector."""

    selector: str
    elements: int  # elements with text that were measured
    ratio: float  # the lowest ratio among them
    example: str  # the element, its colour and background where the ratio is lowest


@dataclass
class Annotation:
    """Where one annotation sits relative to its entry, at one width."""

    entry: str  # id of the enclosing entry ("" when outside any #ref- element)
    width: int
    text_bottom: float  # bottom of the entry's own text
    top: float
    left: float
    right: float
    entry_left: float
    entry_right: float
    entry_text: str
    paragraphs: int  # <p> elements, or paragraph-break markers + 1
    column_left: float  # left edge of the body's text column

    @property
    def grouped(self) -> bool:
        """Below its entry's own text and within its entry's column."""
        return (
            bool(self.entry)
            and bool(self.entry_text)
            and self.top >= self.text_bottom - 1
            and self.left >= self.entry_left - 1
            and self.right <= self.entry_right + 1
        )


@dataclass
class Click:
    """A link clicked in the page, and where its target ended up."""

    href: str
    hash_after: str
    top: float  # target's bounding box in the viewport after the click
    bottom: float
    viewport_height: int

    @property
    def ok(self) -> bool:
        """The hash changed to the link's and the target is in the viewport."""
        return self.hash_after == self.href and self.bottom > 0 and self.top < self.viewport_height


@dataclass
class CardCheck:
    """The citation card of one citation, opened from the keyboard at one viewport width."""

    width: int
    key: str
    shown: bool  # visible after the citation got focus
    shows_opening: bool  # the card's text holds the opening words of the work's annotation
    more_link: str  # the card's link to the full annotation ('' when none)
    covers_citation: bool  # the card overlaps the focused citation
    scroll_width: int
    client_width: int
    closed_by_escape: bool

    @property
    def findings(self) -> list[str]:
        """What is wrong with the card, for a reader."""
        at = f"citation card of {self.key!r} at {self.width} px"
        out = []
        if not self.shown:
            return [f"{at}: not shown when the citation has keyboard focus"]
        if not self.shows_opening:
            out.append(f"{at}: does not show the opening of the annotation")
        if self.covers_citation:
            out.append(f"{at}: covers the citation being read")
        if self.scroll_width > self.client_width + 1:
            out.append(f"{at}: the page scrolls sideways while it is open ({self.scroll_width} > {self.client_width})")
        if not self.closed_by_escape:
            out.append(f"{at}: Escape does not close it")
        return out


@dataclass
class HtmlReport:
    """What a reader meets in one HTML document (Chromium); ``findings`` says what is wrong."""

    path: Path
    lang: str = ""
    title: str = ""
    headings: list[tuple[int, str]] = field(default_factory=list)
    citation_links: int = 0
    citation_targets: int = 0  # distinct #ref- targets
    missing_targets: list[str] = field(default_factory=list)  # in-page hrefs with no element
    internal_links: int = 0
    clicks: dict[str, list[Click]] = field(default_factory=dict)  # citation / toc / crossref / backlink
    images: list[dict[str, Any]] = field(default_factory=list)
    links_without_text: list[str] = field(default_factory=list)
    vague_links: list[str] = field(default_factory=list)
    contrast: list[Contrast] = field(default_factory=list)
    layouts: list[Layout] = field(default_factory=list)
    entries: int = 0  # #ref- elements in #refs
    entries_without_annotation: list[str] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    axe_version: str = ""
    axe_violations: list[dict[str, Any]] = field(default_factory=list)
    cards: list[CardCheck] = field(default_factory=list)  # a citation card per width (paper.html)

    @property
    def heading_jumps(self) -> list[str]:
        """Each place where a heading level is skipped going down."""
        jumps, previous = [], 0
        for level, text in self.headings:
            if level > previous + 1:
                jumps.append(f"h{previous or '-'} -> h{level} at {text!r}")
            previous = level
        return jumps

    @property
    def findings(self) -> list[str]:
        """Every problem, as ``build/FILE: …`` lines."""
        where = display_path(self.path)
        out: list[str] = []
        if not self.lang:
            out.append("<html> has no lang attribute")
        if not self.title.strip():
            out.append("<title> is empty")
        out += [f"heading levels skip: {j}" for j in self.heading_jumps]
        out += [f"link {h!r} points at no element" for h in self.missing_targets]
        for kind, clicks in self.clicks.items():
            for c in clicks:
                if not c.ok:
                    out.append(
                        f"{kind} link {c.href!r}: after a click the location hash is {c.hash_after!r} and the "
                        f"target is at y={c.top:.0f}..{c.bottom:.0f} (viewport height {c.viewport_height})"
                    )
        for img in self.images:
            if not img["complete"] or img["naturalWidth"] <= 0:
                out.append(f"image {img['src']!r} did not load (naturalWidth {img['naturalWidth']})")
            if not (img["alt"] or "").strip():
                out.append(f"image {img['src']!r} has no alt text")
        out += [f"link with no text: {h}" for h in self.links_without_text]
        out += [f"link text is not meaningful: {t}" for t in self.vague_links]
        for con in self.contrast:
            if con.ratio < MIN_CONTRAST:
                out.append(f"contrast of {con.selector} is {con.ratio:.2f}:1 (< {MIN_CONTRAST}:1): {con.example}")
        for lay in self.layouts:
            if lay.scroll_width > lay.client_width + 1:
                out.append(
                    f"at {lay.width} px the page scrolls sideways (scrollWidth {lay.scroll_width} > "
                    f"clientWidth {lay.client_width}); sticking out: {', '.join(lay.offenders) or 'unknown'}"
                )
        out += [f"entry {e!r} has no annotation" for e in self.entries_without_annotation]
        for a in self.annotations:
            if not a.grouped:
                out.append(
                    f"annotation in {a.entry or 'no entry'!r} at {a.width} px is not grouped under its entry: "
                    f"top {a.top:.0f} vs entry text bottom {a.text_bottom:.0f}, x {a.left:.0f}..{a.right:.0f} "
                    f"vs entry {a.entry_left:.0f}..{a.entry_right:.0f}"
                )
        out += [f"console error: {e}" for e in self.console_errors]
        out += [f"request outside the document (the page must work offline): {u}" for u in self.external_requests]
        for v in self.axe_violations:
            if v["impact"] in AXE_FAILING_IMPACTS:
                out.append(
                    f"axe-core {v['impact']} {v['id']} at {v['width']} px: {v['help']} "
                    f"({v['nodes']} element(s), e.g. {', '.join(v['targets'])})"
                )
        out += [f for card in self.cards for f in card.findings]
        return [f"{where}: {line}" for line in out]


def _js(name: str) -> str:
    """A JavaScript function evaluated in the page, from ``js/`` (shipped as package data)."""
    return (JS_DIR / name).read_text(encoding="utf-8")


def chromium_path() -> Path:
    """The Chromium to drive: ``SCHOLARLY_BUILD_CHROMIUM`` or Debian's."""
    return Path(os.environ.get(CHROMIUM_ENV) or CHROMIUM)


def browser_unavailable() -> str | None:
    """Why the HTML checks cannot run here, or None when they can."""
    if not chromium_path().is_file():
        return f"{chromium_path()} is missing (Debian: apt-get install chromium; or set {CHROMIUM_ENV})"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -c constraints.txt -e '.[dev]')"
    return None


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, with no background traffic."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium_path()), args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


_CONTRAST_JS = _js("contrast.js")

_LAYOUT_JS = _js("layout.js")

_ANNOTATIONS_JS = _js("annotations.js")

_STATIC_JS = _js("static.js")

_TARGET_JS = _js("target.js")

_AXE_RUN_JS = _js("axe-run.js")


_SCROLL_TO_JS = _js("scroll-to.js")

CARD_JS = _js("card.js")  # the focused citation's card, as a reader sees it
# A citation link that has a card: the first one, focused as a keyboard user reaches it.
_FOCUS_CARD_CITATION_JS = """() => {
  const keys = new Set([...document.querySelectorAll('#citation-cards .card-opening')].map(e => e.dataset.key));
  const link = [...document.querySelectorAll('.citation a[href^="#ref-"]')]
    .find(a => keys.has(decodeURIComponent(a.getAttribute('href').slice(5))));
  if (link) link.focus();
  return !!link;
}"""


def _sample(n: int, k: int) -> list[int]:
    """``k`` indices spread over ``range(n)``, first and last included."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def _click(page: Page, selector: str, index: int, href: str) -> Click:
    page.evaluate("window.scrollTo(0, 0)")
    # A link a reader cannot click (hidden, empty, covered) times out: that is a finding.
    page.locator(selector).nth(index).click(timeout=CLICK_TIMEOUT_MS)
    page.wait_for_function("(h) => decodeURIComponent(location.hash) === h", arg=href, timeout=CLICK_TIMEOUT_MS)
    got = cast(dict[str, Any], page.evaluate(_TARGET_JS, href))
    return Click(href, str(got["hash"]), float(got["top"]), float(got["bottom"]), int(got["height"]))


def _click_all(page: Page, selector: str, sample: int | None = None) -> list[Click]:
    hrefs = cast(list[str], page.eval_on_selector_all(selector, "els => els.map(e => e.getAttribute('href'))"))
    indices = list(range(len(hrefs))) if sample is None else _sample(len(hrefs), sample)
    clicks = []
    for i in indices:
        try:
            clicks.append(_click(page, selector, i, hrefs[i]))
        except Exception as exc:  # noqa: BLE001 - a failed click is a finding, not a crash
            clicks.append(Click(hrefs[i], f"no jump ({type(exc).__name__})", -1e9, -1e9, 0))
    return clicks


def _screenshots(page: Page, directory: Path, stem: str, full_page: bool) -> list[Path]:
    """``STEM.png`` (the top of the page, or all of it) and ``STEM-VIEW.png`` for each of :data:`VIEWS`."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"{stem}-*.png"):
        old.unlink()
    shots = [directory / f"{stem}.png"]
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots[0]), full_page=full_page)
    for name, selector in VIEWS:
        if page.evaluate(_SCROLL_TO_JS, selector):
            shots.append(directory / f"{stem}-{name}.png")
            page.screenshot(path=str(shots[-1]))
    page.evaluate("window.scrollTo(0, 0)")
    return shots


def check_html(
    browser: Browser,
    path: Path,
    screenshots: Path | None = None,
    *,
    axe_js: Path | None = None,
    widths: Sequence[int] = WIDTHS,
    full_page: bool = False,
) -> HtmlReport:
    """Open ``path`` offline in ``browser`` and check what a reader meets; write screenshots."""
    path = path.resolve()
    url = path.as_uri()
    report = HtmlReport(path)
    external: list[str] = []

    def allowed(request_url: str) -> bool:
        return request_url.startswith(("data:", "about:", "blob:")) or request_url.split("#")[0] == url

    def on_route(route: Any) -> None:
        if allowed(route.request.url):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    context = browser.new_context(viewport={"width": widths[-1], "height": VIEWPORT_HEIGHT.get(widths[-1], 900)})
    try:
        context.route("**/*", on_route)
        page = context.new_page()
        page.on("console", lambda m: report.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: report.console_errors.append(str(e)))
        page.on("request", lambda r: None if allowed(r.url) else external.append(r.url))
        page.goto(url, wait_until="load")
        _static_checks(page, report)
        for width in sorted(widths):
            _width_checks(page, report, width, screenshots, axe_js, full_page)
        page.close()
    finally:
        context.close()
    report.external_requests = sorted(set(external))
    return report


def _static_checks(page: Page, report: HtmlReport) -> None:
    """What does not depend on the width: language, headings, links, images, contrast, clicks."""
    static = cast(dict[str, Any], page.evaluate(_STATIC_JS))
    report.lang, report.title = static["lang"], static["title"]
    report.headings = [(int(level), str(text)) for level, text in static["headings"]]
    report.internal_links, report.missing_targets = int(static["internal"]), list(static["missing"])
    report.images = list(static["images"])
    report.entries, report.entries_without_annotation = int(static["entries"]), list(static["withoutAnnotation"])
    if not any(True for _ in page.query_selector_all(".annotation")):
        report.entries_without_annotation = []  # a plain reference list: nothing to annotate
    for link in static["links"]:
        if not link["text"]:
            report.links_without_text.append(str(link["href"])[:80])
        elif VAGUE_LINK_TEXT.match(link["text"]):
            report.vague_links.append(f"{link['text']!r} -> {str(link['href'])[:80]}")
    citations = cast(list[str], page.eval_on_selector_all('a[href^="#ref-"]', "els => els.map(e => e.hash)"))
    report.citation_links, report.citation_targets = len(citations), len(set(citations))
    report.contrast = [
        Contrast(str(c["selector"]), int(c["elements"]), float(c["ratio"]), str(c["example"]))
        for c in page.evaluate(_CONTRAST_JS, list(CONTRAST_SELECTORS))
    ]
    report.clicks["citation"] = _click_all(page, 'a[href^="#ref-"]', CITATION_SAMPLE)
    report.clicks["toc"] = _click_all(page, 'nav#TOC a[href^="#"]')
    report.clicks["crossref"] = _click_all(page, 'a[href^="#fig:"], a[href^="#tbl:"]')
    report.clicks["backlink"] = _click_all(
        page, 'a[role="doc-backlink"], a.footnote-back, a[href^="#citation-"]', CITATION_SAMPLE
    )


def _width_checks(
    page: Page, report: HtmlReport, width: int, screenshots: Path | None, axe_js: Path | None, full_page: bool
) -> None:
    """At one viewport width: sideways scroll, annotations' placement, screenshots, axe-core, the card."""
    page.set_viewport_size({"width": width, "height": VIEWPORT_HEIGHT.get(width, 900)})
    page.evaluate("window.scrollTo(0, 0)")
    raw = cast(dict[str, Any], page.evaluate(_LAYOUT_JS))
    layout = Layout(width, int(raw["scrollWidth"]), int(raw["clientWidth"]), list(raw["offenders"]))
    for a in cast(list[dict[str, Any]], page.evaluate(_ANNOTATIONS_JS)):
        report.annotations.append(
            Annotation(
                entry=str(a["entry"]),
                width=width,
                text_bottom=float(a["textBottom"]),
                top=float(a["top"]),
                left=float(a["left"]),
                right=float(a["right"]),
                entry_left=float(a["entryLeft"]),
                entry_right=float(a["entryRight"]),
                entry_text=str(a["entryText"]),
                paragraphs=int(a["paragraphs"]),
                column_left=float(a["columnLeft"]),
            )
        )
    if screenshots is not None:
        layout.screenshots = _screenshots(page, screenshots, f"{report.path.stem}-{width}", full_page)
    axe = axe_js is not None and axe_js.is_file()
    if axe and axe_js is not None:
        if not report.axe_version:
            page.add_script_tag(path=str(axe_js))
            report.axe_version = str(page.evaluate("axe.version"))
        for v in cast(list[dict[str, Any]], page.evaluate(_AXE_RUN_JS)):
            report.axe_violations.append({**v, "width": width})
    card = check_card(page, width, report.axe_violations if axe else None)
    if card is not None:
        report.cards.append(card)
    report.layouts.append(layout)


def check_card(page: Page, width: int, axe_violations: list[dict[str, Any]] | None = None) -> CardCheck | None:
    """Focus the first citation that has a card, read the card, press Escape; None without cards.

    With ``axe_violations`` (axe-core loaded in the page), axe also runs while the card is open.
    """
    if page.query_selector("#citation-cards") is None or not page.evaluate(_FOCUS_CARD_CITATION_JS):
        return None
    state = cast(dict[str, Any], page.evaluate(CARD_JS))
    if axe_violations is not None and state["shown"]:
        for v in cast(list[dict[str, Any]], page.evaluate(_AXE_RUN_JS)):
            axe_violations.append({**v, "width": width, "id": f"{v['id']} (card open)"})
    page.keyboard.press("Escape")
    closed = bool(page.evaluate("() => { const c = document.getElementById('citation-card'); return !c || c.hidden; }"))
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    opening = " ".join(str(state["opening"]).split()[:8])
    return CardCheck(
        width=width,
        key=str(state["key"]),
        shown=bool(state["shown"]),
        shows_opening=bool(opening) and opening in str(state["text"]),
        more_link=str(state["more"]),
        covers_citation=bool(state["card"]) and _overlap(state["card"], state["citation"]),
        scroll_width=int(state["scrollWidth"]),
        client_width=int(state["clientWidth"]),
        closed_by_escape=closed,
    )


def _overlap(a: Sequence[float], b: Sequence[float] | None) -> bool:
    """Whether two boxes (left, top, right, bottom) intersect by more than a pixel."""
    if b is None:
        return False
    return min(a[2], b[2]) - max(a[0], b[0]) > 1 and min(a[3], b[3]) - max(a[1], b[1]) > 1


# ---------------------------------------------------------------------------
# PDF with poppler and pypdf


@dataclass
class PdfLink:
    """A link annotation of a PDF page."""

    page: int
    dest: str  # named destination ("cite.ref-key", "figure.caption.3", …), or the URI


@dataclass
class PdfReport:
    """What a reader meets in one PDF (poppler, pypdf); ``findings`` says what is wrong."""

    path: Path
    fonts: list[tuple[str, bool]] = field(default_factory=list)  # (name, embedded)
    info: dict[str, str] = field(default_factory=dict)
    pages: int = 0
    expected_words: list[str] = field(default_factory=list)  # non-ASCII words of the source
    missing_words: list[str] = field(default_factory=list)  # … that extraction lost
    outline: list[tuple[int, str]] = field(default_factory=list)  # (level, title), levels 1..2
    headings: list[tuple[int, str]] | None = None  # the HTML's section headings, when known
    internal_links: list[PdfLink] = field(default_factory=list)
    uri_links: list[PdfLink] = field(default_factory=list)
    named_destinations: set[str] = field(default_factory=set)
    citations: dict[str, int] = field(default_factory=dict)  # key -> \\citeproc commands in the .tex
    crossrefs: dict[str, tuple[int, str]] = field(default_factory=dict)  # fig:/tbl: label -> (references, dest)
    overfull: list[str] = field(default_factory=list)
    log: Path | None = None
    screenshots: list[Path] = field(default_factory=list)

    @property
    def dangling_links(self) -> list[PdfLink]:
        """Internal links whose destination does not exist."""
        return [link for link in self.internal_links if link.dest not in self.named_destinations]

    def links_to(self, prefix: str) -> list[PdfLink]:
        """Internal links to destinations starting with ``prefix``."""
        return [link for link in self.internal_links if link.dest.startswith(prefix)]

    @property
    def findings(self) -> list[str]:
        """Every problem, as ``build/FILE: …`` lines."""
        out: list[str] = []
        if not self.fonts:
            out.append("pdffonts lists no font")
        out += [f"font {name} is not embedded" for name, embedded in self.fonts if not embedded]
        for key in ("Title", "Author", "Subject"):
            if not self.info.get(key, "").strip():
                out.append(f"metadata {key} is not set")
        out += [f"text {w!r} from the source does not survive pdftotext extraction" for w in self.missing_words]
        if self.headings is not None:
            want = [(level, _plain(t)) for level, t in self.headings]
            got = [(level, _plain(t)) for level, t in self.outline]
            if want != got:
                diff = next(
                    (
                        f"#{i + 1}: heading {w} vs bookmark {g}"
                        for i, (w, g) in enumerate(zip(want, got, strict=False))
                        if w != g
                    ),
                    f"{len(want)} headings vs {len(got)} bookmarks",
                )
                out.append(f"bookmarks do not follow the headings ({diff})")
        out += [f"link on page {link.page} goes to a missing destination {link.dest!r}" for link in self.dangling_links]
        cite_links = self.links_to("cite.ref-")
        if sum(self.citations.values()) > len(cite_links):
            out.append(
                f"only {len(cite_links)} citation link(s) for {sum(self.citations.values())} citation(s) in the source"
            )
        linked = {link.dest.removeprefix("cite.ref-") for link in cite_links}
        out += [f"citations of {key!r} are not links to its entry" for key in sorted(set(self.citations) - linked)]
        for label, (refs, dest) in sorted(self.crossrefs.items()):
            live = sum(1 for link in self.internal_links if link.dest == dest)
            if live < refs:
                out.append(f"{refs} reference(s) to {label!r} but {live} link(s) to its destination {dest!r}")
        if self.log is not None and not self.log.is_file():
            out.append(f"no LaTeX log at {display_path(self.log)}")
        out += [f"{line} (see {display_path(self.log) if self.log else 'the LaTeX log'})" for line in self.overfull]
        return [f"{display_path(self.path)}: {line}" for line in out]


def _plain(text: str) -> str:
    table: dict[str, str | int | None] = {"’": "'", "‘": "'", "“": '"', "”": '"', "\u00ad": None}
    text = text.translate(str.maketrans(table))
    return re.sub(r"\s+", " ", text).strip()


def _run(cmd: Sequence[str]) -> str:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=True, timeout=120).stdout


def pdf_fonts(pdf: Path) -> list[tuple[str, bool]]:
    """``pdffonts``: each font's name and whether it is embedded."""
    fonts = []
    for line in _run(["pdffonts", str(pdf)]).splitlines()[2:]:
        cols = line.split()
        if len(cols) >= 6:
            fonts.append((cols[0], cols[-5] == "yes"))
    return fonts


def pdf_info(pdf: Path) -> dict[str, str]:
    """``pdfinfo``'s fields (Title, Author, …)."""
    info = {}
    for line in _run(["pdfinfo", "-enc", "UTF-8", str(pdf)]).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def pdf_text(pdf: Path) -> str:
    """The PDF's text, from ``pdftotext``."""
    return _run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"])


def non_ascii_words(markdown: str) -> list[str]:
    """Words with letters beyond ASCII (Cyrillic, Czech, …) that a PDF must keep as text."""
    return sorted({w for w in re.findall(r"\w+", markdown) if not w.isascii() and w.isalpha()})


def missing_from_text(words: Sequence[str], text: str) -> list[str]:
    """Words absent from ``text``, allowing for line breaks and hyphenation at line ends."""
    flat = re.sub(r"\s+", " ", text.replace("\u00ad", ""))
    joined = re.sub(r"\s+", " ", re.sub(r"(\w)-\s*\n\s*(\w)", r"\1\2", text.replace("\u00ad", "")))
    return [w for w in words if w not in flat and w not in joined]


def pdf_outline(pdf: Path, depth: int = 2) -> list[tuple[int, str]]:
    """The PDF's heading bookmarks as (level, title), down to ``depth``.

    The annotated bibliography's bookmark per entry (destination ``entry-…``) is
    navigation, not a heading, and is left out (parity.py checks those).
    """
    from pypdf import PdfReader

    return [
        (b.level, b.title)
        for b in pdf_bookmarks(PdfReader(pdf).outline)
        if b.level <= depth and not b.dest.startswith("entry-")
    ]


def pdf_links(pdf: Path) -> tuple[list[PdfLink], list[PdfLink], set[str]]:
    """(internal GoTo/Dest links, URI links, named destinations) read with pypdf."""
    from pypdf import PdfReader
    from pypdf.generic import ArrayObject

    reader = PdfReader(pdf)
    internal, uris = [], []
    for number, page in enumerate(reader.pages, start=1):
        for ref in page.get("/Annots") or []:
            annot = ref.get_object()
            if annot.get("/Subtype") != "/Link":
                continue
            action = annot.get("/A")
            dest = annot.get("/Dest")
            if action is not None and action.get("/S") == "/URI":
                uris.append(PdfLink(number, str(action.get("/URI"))))
                continue
            if dest is None and action is not None and action.get("/S") == "/GoTo":
                dest = action.get("/D")
            if dest is None:
                continue
            # An explicit destination (an array naming a page) is live by construction.
            name = "<explicit>" if isinstance(dest, ArrayObject) else str(dest)
            internal.append(PdfLink(number, name))
    names = set(reader.named_destinations) | {"<explicit>"}
    return internal, uris, names


class _Headings(html.parser.HTMLParser):
    """Section headings (h1/h2 inside <section>) of a pandoc HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[int, str]] = []
        self._level = 0
        self._text: list[str] = []
        self._sections = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._sections += 1
        elif tag in ("h1", "h2") and self._sections:
            self._level, self._text = int(tag[1]), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._sections -= 1
        elif tag in ("h1", "h2") and self._level:
            self.headings.append((self._level, "".join(self._text)))
            self._level = 0

    def handle_data(self, data: str) -> None:
        if self._level:
            self._text.append(data)


def html_headings(html_file: Path) -> list[tuple[int, str]]:
    """(level, text) of every heading of an HTML file, in order."""
    parser = _Headings()
    parser.feed(html_file.read_text(encoding="utf-8"))
    return [(level, _plain(text)) for level, text in parser.headings]


def tex_citations(tex: str) -> dict[str, int]:
    """Citation keys in pandoc's LaTeX (``\\citeproc{ref-KEY}``) and how often each is cited."""
    counts: dict[str, int] = {}
    for key in re.findall(r"\\citeproc\{ref-([^}]+)\}", tex):
        counts[key] = counts.get(key, 0) + 1
    return counts


def tex_crossrefs(tex: str, aux: str, prefixes: Sequence[str] = ("fig:", "tbl:")) -> dict[str, tuple[int, str]]:
    """Figure and table labels referenced in the .tex: label -> (references, PDF destination from the .aux)."""
    newlabel = re.compile(r"\\newlabel\{([^}]+)\}\{\{.*\}\{([^{}]*)\}\{[^{}]*\}\}\s*$", re.M)
    dests = {m.group(1): m.group(2) for m in newlabel.finditer(aux)}
    refs: dict[str, int] = {}
    for label in re.findall(r"\\(?:hyperref\[([^\]]+)\]|(?:auto|c|C)?ref\{([^}]+)\})", tex):
        name = label[0] or label[1]
        if name.startswith(tuple(prefixes)):
            refs[name] = refs.get(name, 0) + 1
    return {name: (n, dests.get(name, f"<{name} missing from the .aux>")) for name, n in refs.items()}


def pdf_screenshots(pdf: Path, screenshots: Path, first: int = 1, last: int = 2, dpi: int = 80) -> list[Path]:
    """The first pages as PNG (``<stem>-page-1.png`` …)."""
    screenshots.mkdir(parents=True, exist_ok=True)
    prefix = screenshots / f"{pdf.stem}-page"
    for old in screenshots.glob(f"{pdf.stem}-page-*.png"):
        old.unlink()
    _run(["pdftoppm", "-r", str(dpi), "-f", str(first), "-l", str(last), "-png", str(pdf), str(prefix)])
    return sorted(screenshots.glob(f"{pdf.stem}-page-*.png"))


def check_pdf(
    pdf: Path,
    *,
    source: Path | None = None,
    html_file: Path | None = None,
    log: Path | None = None,
    tex: Path | None = None,
    screenshots: Path | None = None,
    threshold_pt: float = OVERFULL_THRESHOLD_PT,
) -> PdfReport:
    """Read ``pdf`` back as a reader's tools would.

    ``source``: the assembled Markdown, whose non-ASCII words must be extractable;
    ``html_file``: the HTML rendering, whose section headings the bookmarks must follow;
    ``log``: the LaTeX log, searched for Overfull \\hbox wider than ``threshold_pt``;
    ``tex``: the LaTeX source, whose citations and figure/table references (with the
    ``.aux`` beside ``log``) must be live links in the PDF.
    """
    report = PdfReport(pdf)
    report.fonts = pdf_fonts(pdf)
    report.info = pdf_info(pdf)
    report.pages = int(report.info.get("Pages", "0") or 0)
    if source is not None and source.is_file():
        report.expected_words = non_ascii_words(source.read_text(encoding="utf-8"))
        report.missing_words = missing_from_text(report.expected_words, pdf_text(pdf))
    report.outline = [(level, _plain(t)) for level, t in pdf_outline(pdf)]
    if html_file is not None and html_file.is_file():
        report.headings = html_headings(html_file)
    report.internal_links, report.uri_links, report.named_destinations = pdf_links(pdf)
    if log is not None:
        report.log = log
        report.overfull = overfull_boxes(log, threshold_pt)
    if tex is not None and tex.is_file():
        latex = tex.read_text(encoding="utf-8")
        report.citations = tex_citations(latex)
        aux = log.with_suffix(".aux") if log is not None else tex.with_suffix(".aux")
        report.crossrefs = tex_crossrefs(latex, aux.read_text(errors="replace") if aux.is_file() else "")
    if screenshots is not None:
        report.screenshots = pdf_screenshots(pdf, screenshots)
    return report


# ---------------------------------------------------------------------------
# Both documents


class _Anchors(html.parser.HTMLParser):
    """Every ``id`` and every ``<a href>`` of an HTML file."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "a" and values.get("href"):
            self.hrefs.append(str(values["href"]))


def _anchors(path: Path) -> _Anchors:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def cross_document_links(build_dir: Path, documents: Sequence[str] = DOCUMENTS) -> list[str]:
    """Findings for the relative links between the outputs in ``build_dir``.

    Every link from one document's HTML to another file of the build (the other
    document, a PDF, the DOCX) must name a file that is there and, when it names an
    element of an HTML file (``annotated-bibliography.html#ref-KEY``), that element.
    """
    out: list[str] = []
    parsed: dict[str, _Anchors] = {}

    def anchors(name: str) -> _Anchors:
        if name not in parsed:
            parsed[name] = _anchors(build_dir / name)
        return parsed[name]

    for doc in documents:
        source = build_dir / f"{doc}.html"
        if not source.is_file():
            continue
        for href in sorted(set(anchors(source.name).hrefs)):
            name, _, fragment = href.partition("#")
            if not name or re.match(r"^[A-Za-z][\w+.-]*:", name) or name.startswith("/"):
                continue  # in-page, absolute or another scheme: not a link between the outputs
            where = f"{display_path(source)}: link to {href}"
            if "/" in name or not (build_dir / name).is_file():
                out.append(f"{where}: {name} is not in the build")
            elif fragment and name.endswith(".html") and urllib.parse.unquote(fragment) not in anchors(name).ids:
                out.append(f"{where}: {name} has no element with id {fragment!r}")
    return out


@dataclass
class ReaderReport:
    """Everything ``reader-check`` found in both documents, and what it could not check."""

    html: list[HtmlReport] = field(default_factory=list)
    pdf: list[PdfReport] = field(default_factory=list)
    parity: ParityReport = field(default_factory=ParityReport)  # every format carries the whole document
    links: list[str] = field(default_factory=list)  # findings on the links between the outputs
    skipped: list[str] = field(default_factory=list)  # what could not be checked, and why

    @property
    def findings(self) -> list[str]:
        """Every finding, HTML first."""
        return (
            [f for r in self.html for f in r.findings]
            + [f for r in self.pdf for f in r.findings]
            + self.parity.findings
            + self.links
        )


def reader_check(
    root: Path,
    *,
    html: bool = True,
    pdf: bool = True,
    threshold_pt: float = OVERFULL_THRESHOLD_PT,
    axe_js: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> ReaderReport:
    """Check the documents in ``root/build`` and write ``root/build/screenshots``.

    A document whose output is missing is a finding: run the build first.
    """
    build_dir = root / "build"
    report = ReaderReport()
    if axe_js is None and (root / AXE_JS).is_file():
        axe_js = root / AXE_JS
    report.skipped += [
        f"{display_path(build_dir / f'{d}.{ext}')}: missing (run the build first)"
        for d in DOCUMENTS
        for ext, wanted in (("html", html), ("pdf", pdf))
        if wanted and not (build_dir / f"{d}.{ext}").is_file()
    ]
    if html:
        _check_all_html(build_dir, report, axe_js, pdf, progress)
        report.links = cross_document_links(build_dir)
    if pdf and tools_missing():
        report.skipped.append(
            f"PDF not checked: {', '.join(tools_missing())} missing (Debian: apt-get install poppler-utils)"
        )
    elif pdf:
        _check_all_pdf(build_dir, report, threshold_pt, progress)
    if pdf and not html and not tools_missing():
        progress("comparing the PDF and DOCX with the assembled source (parity)")
        report.parity = check_parity(build_dir, DOCUMENTS, None, ("docx", "pdf"))
    return report


def _check_all_html(
    build_dir: Path, report: ReaderReport, axe_js: Path | None, pdf: bool, progress: Callable[[str], None]
) -> None:
    """Both HTML documents in Chromium, then parity of every format (the HTML read in the same browser)."""
    reason = browser_unavailable()
    if reason:
        report.skipped.append(f"HTML not checked: {reason}")
        return
    with chromium() as browser:
        for doc in DOCUMENTS:
            path = build_dir / f"{doc}.html"
            if path.is_file():
                progress(f"checking {display_path(path)} in Chromium")
                report.html.append(check_html(browser, path, build_dir / "screenshots", axe_js=axe_js))
        formats = ("html", "docx", "pdf") if pdf and not tools_missing() else ("html",)
        progress(f"comparing {', '.join(formats)} with the assembled source (parity)")
        report.parity = check_parity(build_dir, DOCUMENTS, browser, formats)


def _check_all_pdf(build_dir: Path, report: ReaderReport, threshold_pt: float, progress: Callable[[str], None]) -> None:
    """Both PDFs with poppler and pypdf."""
    for doc in DOCUMENTS:
        path = build_dir / f"{doc}.pdf"
        if path.is_file():
            progress(f"checking {display_path(path)}")
            report.pdf.append(
                check_pdf(
                    path,
                    source=build_dir / "assembled" / f"{doc}.md",
                    html_file=build_dir / f"{doc}.html",
                    log=latest_latex_log(build_dir, doc),
                    tex=build_dir / f"{doc}.tex",
                    screenshots=build_dir / "screenshots",
                    threshold_pt=threshold_pt,
                )
            )


# ---------------------------------------------------------------------------
# Serving build/ to look at it in a browser


def latest_latex_log(build_dir: Path, doc: str) -> Path:
    """The TeX log of the PDF in build/: one work directory per citation method, the newest wins."""
    logs = [build_dir / ".work" / name / f"{doc}.log" for name in (f"{doc}-latex", f"{doc}-latex-biblatex")]
    found = [p for p in logs if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else logs[0]


def make_server(directory: Path, port: int = 8000, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """An HTTP server for ``directory`` on ``host:port`` (port 0: any free port).

    Only what lies inside ``directory`` is served: a symlink leading out of it (build/ may
    come from a pull request) and hidden files and folders (`.work`, `.cache`, `.lock`)
    answer 404 and are not listed.
    """
    root = directory.resolve()

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def _allowed(self, fs_path: str) -> bool:
            path = Path(fs_path)
            try:
                rel = path.relative_to(root)
            except ValueError:
                return False
            if any(part.startswith(".") for part in rel.parts):
                return False
            real = Path(os.path.realpath(path))
            return real == root or root in real.parents

        def send_head(self) -> Any:
            if not self._allowed(self.translate_path(self.path)):
                self.send_error(404, "File not found")
                return None
            return super().send_head()

        def list_directory(self, path: str | os.PathLike[str]) -> Any:
            """The visible entries that stay inside build/ (links leading out are left out)."""
            try:
                names = sorted(os.listdir(path), key=str.lower)
            except OSError:
                self.send_error(404, "No permission to list directory")
                return None
            items = []
            for name in names:
                full = os.path.join(path, name)
                if name.startswith(".") or not self._allowed(full):
                    continue
                shown = name + ("/" if os.path.isdir(full) else "")
                items.append(f'<li><a href="{urllib.parse.quote(shown)}">{html.escape(shown)}</a></li>')
            body = (
                '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>build/</title></head>'
                f"<body><ul>{''.join(items)}</ul></body></html>\n"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return io.BytesIO(body)

    return ThreadingHTTPServer((host, port), Handler)


def tools_missing() -> list[str]:
    """poppler tools the PDF checks need and do not find."""
    return [t for t in ("pdffonts", "pdfinfo", "pdftotext", "pdftoppm") if shutil.which(t) is None]
