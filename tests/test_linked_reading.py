"""Linked reading (issue 16) on the small fixture: what the card data may hold, and which links a build makes.

The real project's cards and links are read in Chromium by tests/test_reader_view.py; here the
fixture is built with HTML only, with attacks in a note's first paragraph (the part a card shows),
as a partial build (the annotated bibliography alone), and twice in two places (byte-identical).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from scholarly_build.assembly.assemble import _literal, citing_sections
from scholarly_build.building.build import BuildOptions
from scholarly_build.core.pandoc import parse_markdown
from scholarly_build.verification.parity import check_parity
from scholarly_build.verification.readerview import (
    browser_unavailable,
    check_card,
    chromium,
    cross_document_links,
)

from .conftest import CliResult, copy_mini, quiet_build

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.integration
NO_BROWSER = browser_unavailable()
needs_browser = pytest.mark.skipif(NO_BROWSER is not None, reason=f"needs Chromium: {NO_BROWSER}")
HTML_ONLY = BuildOptions(formats=("html",))
ATTACK = (
    "CARDSTART `<script>alert(1)</script>`{=html} <script>alert(2)</script> <img src=x onerror=alert(3)> "
    "[click](javascript:alert(4)) [see @gamma1999, p. 3] *emphasis* {{ 7*7 }} CARDEND "
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if NO_BROWSER is not None:
        pytest.skip(f"needs Chromium: {NO_BROWSER}")
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture, HTML only, with attacks opening beta2016's annotation (what its card shows)."""
    root = copy_mini(tmp_path_factory.mktemp("cards") / "mini")
    note = root / "bib/notes/beta2016.md"
    front, body = note.read_text().split("\n---\n", 1)
    note.write_text(f"{front}\n---\n{ATTACK}{body}")
    quiet_build(root, HTML_ONLY)
    return root


def _card_html(paper: str) -> str:
    """The hidden card data: from its Div to the card script."""
    assert '<div id="citation-cards"' in paper, "paper.html has no card data"
    return '<div id="citation-cards"' + paper.split('<div id="citation-cards"', 1)[1].split("<script", 1)[0]


def test_card_data_is_the_notes_text_only(attacked: Path) -> None:
    """A note's opening reaches the card as text: no element, attribute, link or citation comes from it,
    and the only script in the page is the build's own card script."""
    paper = (attacked / "build/paper.html").read_text(encoding="utf-8")
    cards = _card_html(paper)
    beta = re.search(r'data-key="beta2016">\n(.*?)\n</div>', cards, flags=re.S)
    assert beta is not None
    text = " ".join(beta.group(1).split())
    assert re.search(r"CARDSTART .*&lt;script&gt;alert\(2\)&lt;/script&gt;.* CARDEND", text)
    assert "{{ 7*7 }}" in text and "emphasis" in text
    inner = cards.split(">", 1)[1]
    assert re.findall(r"<(?!/?div\b)[a-z]+", inner) == []  # only the data Divs: no <a>, <em>, <span class=citation>
    assert "onerror=" not in inner.replace("onerror=alert", "")
    card_script = (attacked / "templates/html/cards.js").read_text(encoding="utf-8")
    assert re.findall(r"<script\b[^>]*>(.*?)</script>", paper, flags=re.S) == ["\n" + card_script]


@needs_browser
def test_card_data_adds_no_citation(attacked: Path, browser: Browser) -> None:
    """The citation in beta2016's opening is not one of the paper's: parity of the HTML with the assembled
    paper still holds (same citations per key, same reference list)."""
    report = check_parity(attacked / "build", ["paper"], browser, ("html",))
    assert report.checked == ["build/paper.html"]
    assert report.findings == []


def test_partial_build_links_only_to_what_it_writes(tmp_path: Path) -> None:
    """Built alone, the annotated bibliography names the citing sections without linking to a paper that is
    not there and offers no other format; built with the paper, it links to it."""
    root = copy_mini(tmp_path / "mini")
    quiet_build(root, BuildOptions(documents=("bibliography",), formats=("html",)))
    alone = (root / "build/annotated-bibliography.html").read_text(encoding="utf-8")
    assert not (root / "build/paper.html").exists()
    assert 'class="cited-in"' in alone
    assert re.findall(r'href="[^"#]*paper\.', alone) == []
    assert '<nav class="other-formats"' not in alone
    assert cross_document_links(root / "build") == []
    quiet_build(root, HTML_ONLY)
    both = (root / "build/annotated-bibliography.html").read_text(encoding="utf-8")
    assert re.findall(r'<a href="paper\.html#[^"]+"', both)
    paper = (root / "build/paper.html").read_text(encoding="utf-8")
    assert 'href="annotated-bibliography.html#ref-beta2016"' in paper
    assert "paper.pdf" not in paper and "paper.docx" not in paper  # not built: not linked
    assert cross_document_links(root / "build") == []


def test_linked_html_is_byte_identical_across_builds(tmp_path: Path) -> None:
    """Card data and links come out in the same order from two builds in different places."""
    outputs = []
    for name in ("one", "two"):
        root = copy_mini(tmp_path / name / "mini")
        quiet_build(root, HTML_ONLY)
        outputs.append({f: (root / "build" / f).read_bytes() for f in ("paper.html", "annotated-bibliography.html")})
    assert b"citation-cards" in outputs[0]["paper.html"]
    assert outputs[0] == outputs[1]


def test_cross_document_links_finds_dead_links(tmp_path: Path) -> None:
    """A link to a missing file, or to an element the other document lacks, is a finding."""
    build = tmp_path / "build"
    build.mkdir()
    (build / "paper.html").write_text(
        '<a href="annotated-bibliography.html#ref-here">ok</a> <a href="annotated-bibliography.html#ref-gone">x</a>'
        ' <a href="paper.pdf">PDF</a> <a href="https://example.org/">out</a> <a href="#local">in</a>'
    )
    (build / "annotated-bibliography.html").write_text('<div id="ref-here"></div><a href="paper.html">paper</a>')
    assert cross_document_links(build) == [
        "build/paper.html: link to annotated-bibliography.html#ref-gone: annotated-bibliography.html has no "
        "element with id 'ref-gone'",
        "build/paper.html: link to paper.pdf: paper.pdf is not in the build",
    ]


@needs_browser
def test_card_check_fails_without_the_card_script(attacked: Path, browser: Browser, tmp_path: Path) -> None:
    """The reader check's card test fails on a page whose card script is missing."""
    paper = (attacked / "build/paper.html").read_text(encoding="utf-8")
    broken = tmp_path / "paper.html"
    broken.write_text(re.sub(r"<script\b.*?</script>", "", paper, flags=re.S), encoding="utf-8")
    for path, shown in ((attacked / "build/paper.html", True), (broken, False)):
        context = browser.new_context(viewport={"width": 375, "height": 812})
        try:
            page = context.new_page()
            page.goto(path.as_uri())
            card = check_card(page, 375)
        finally:
            context.close()
        assert card is not None and card.shown is shown
        assert (card.findings == []) is shown


def test_citing_sections_follow_the_assembled_paper() -> None:
    """Each cited key gets the top-level sections citing it, once each, in reading order; citations before
    any heading are left out; the title is kept as text, and printed back as literal Markdown."""
    markdown = (
        "Before any heading [@a].\n\n# One {#sec:one}\n\nText [@a; @b].\n\n## Sub\n\nMore [@a].\n\n"
        "# Two *[x](y)* `<b>` {#sec:two}\n\nText [@b] and [-@a].\n"
    )
    sections = citing_sections(parse_markdown(markdown))
    assert {k: [s.ident for s in v] for k, v in sections.items()} == {
        "a": ["sec:one", "sec:two"],
        "b": ["sec:one", "sec:two"],
    }
    assert sections["b"][1].title == "Two x <b>"
    assert _literal("Two x <b> [@c]") == "Two x \\<b\\> \\[\\@c\\]"


def test_note_opening_edit_rerenders_the_paper_html_for_its_card(tmp_path: Path) -> None:
    """The paper's cards show each note's opening: editing it re-renders paper.html (the new words in its
    card) and --explain names the note; editing the note's later paragraphs leaves the paper alone."""
    root = copy_mini(tmp_path / "mini")
    quiet_build(root, HTML_ONLY)
    note = root / "bib/notes/gamma1999.md"
    note.write_text(note.read_text().replace("Gamma's review sorts", "Gamma's survey sorts"))
    report = quiet_build(root, BuildOptions(formats=("html",), explain=True))
    assert sorted(report.rendered) == ["annotated-bibliography.html", "paper.html"]
    assert "Gamma’s survey sorts" in _card_html((root / "build/paper.html").read_text(encoding="utf-8"))
    note.write_text(note.read_text() + "\nA later paragraph.\n")
    assert sorted(quiet_build(root, HTML_ONLY).rendered) == ["annotated-bibliography.html"]


def test_explain_names_the_note_for_the_paper(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    """`build --explain` says paper.html is rebuilt because the note changed (its card)."""
    root = copy_mini(tmp_path / "mini")
    quiet_build(root, HTML_ONLY)
    note = root / "bib/notes/gamma1999.md"
    note.write_text(note.read_text().replace("Gamma's review sorts", "Gamma's survey sorts"))
    code, _, err = run_cli("--root", str(root), "build", "--formats", "html", "--explain", "--no-provision")
    assert code == 0, err
    assert "paper.html is rebuilt: bib/notes/gamma1999.md changed" in err
