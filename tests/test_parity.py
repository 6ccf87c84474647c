"""Format parity (issue 10): the check catches each kind of loss in one format.

The mini project is built twice: as it is (no finding), and with its Lua filters
altered in a temporary copy so that each format silently drops something the
others keep. The parity check must name each loss, and only those.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from scholarly_build.verification.parity import (
    ast_inventory,
    check_parity,
    compare,
    docx_inventory,
    norm,
    pdf_inventory,
)
from scholarly_build.verification.readerview import DOCUMENTS, browser_unavailable, chromium

from .conftest import copy_mini, quiet_build

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.integration
NO_BROWSER = browser_unavailable()

# Each alteration makes one format lose one thing; the finding it must produce.
LOSSES = {
    # The bug of issue 10: the allow-list knew only the PNG name, so the second
    # LaTeX pass replaced the renamed figure by a placeholder.
    "safety.lua": [
        ("    if is_latex then allowed[latex_name(name)] = true end\n", ""),
        (
            "return { { Meta = Meta }, filter }",
            "if FORMAT == 'docx' then filter.Table = function() return {} end end\n"
            "if FORMAT:match('html') then\n"
            "  filter.Header = function(h) if pandoc.utils.stringify(h) == 'Body' then return {} end return h end\n"
            "  filter.Cite = function(c) if c.citations[1].id == 'gamma1999' then return {} end end\n"
            "end\n"
            "return { { Meta = Meta }, filter }",
        ),
    ],
    "annotations.lua": [
        (
            "if is_entry(div) then\n          -- pandoc's LaTeX writer",
            "if is_entry(div) and div.identifier ~= 'ref-beta2016' then\n          -- pandoc's LaTeX writer",
        ),
        (
            "if key and annotations[key] then",
            "if key and annotations[key] and not (FORMAT:match('latex') and key == 'beta2016') then",
        ),
    ],
}
EXPECTED = [
    r"^build/annotated-bibliography\.pdf: 2 entries navigable, expected a bookmark for each of 3$",
    r"^build/annotated-bibliography\.html: 2 entries navigable, expected an entry in its contents list for each of 3$",
    r"^build/annotated-bibliography\.pdf: entry navigation differs from build/annotated-bibliography\.html at item 2$",
    r"^build/paper\.pdf: figure 1 'Shares reported by Beta, in per…' has a caption but no drawn image$",
    r"^build/paper\.pdf: an image placeholder in the text",
    r"^build/paper\.docx: table 1 'Positions of the two works by th…' is missing",
    # The citations in the lost table's cells are lost with it.
    r"^build/paper\.docx: 6 citations rendered, the source has 8: alpha2018 \(2 of 3\), beta2016 \(2 of 3\)$",
    r"^build/paper\.html: headings differ from the source: missing 'Body'$",
    # The group [@gamma1999, p. 133; @alpha2018, …] goes whole, and gamma1999's entry with it.
    r"^build/paper\.html: 5 citations rendered, the source has 8: alpha2018 \(2 of 3\), gamma1999 \(0 of 2\)$",
    r"^build/(paper|annotated-bibliography)\.html: reference list lacks 1 entry: gamma1999$",
    r"^build/annotated-bibliography\.html: the annotation of gamma1999 \('Gamma's review.*'\) is not under its entry$",
    r"^build/annotated-bibliography\.pdf: the annotation of beta2016 \('This is.*'\) is not under its entry$",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if NO_BROWSER is not None:
        pytest.skip(f"the HTML inventory needs Chromium: {NO_BROWSER}")
    with chromium() as b:
        yield b


def _build(root: Path, alter: dict[str, list[tuple[str, str]]]) -> Path:
    copy_mini(root)
    for name, edits in alter.items():
        path = root / "templates" / "pandoc" / "filters" / name
        text = path.read_text(encoding="utf-8")
        for old, new in edits:
            assert old in text, f"{name} no longer contains {old!r}: update the test's alteration"
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")
    report = quiet_build(root)
    assert len(report.rendered) == 5, report
    return root / "build"


@pytest.fixture(scope="module")
def intact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("parity") / "intact", {})


@pytest.fixture(scope="module")
def lossy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("parity") / "lossy", LOSSES)


def test_intact_build_has_no_finding(intact: Path, browser: Browser) -> None:
    """Control: the unaltered mini project loses nothing in any format."""
    report = check_parity(intact, DOCUMENTS, browser)
    assert report.findings == []
    paper = ["build/paper.html", "build/paper.docx", "build/paper.pdf"]
    bibliography = ["build/annotated-bibliography.html", "build/annotated-bibliography.pdf"]
    assert sorted(report.checked) == sorted([*paper, *bibliography])


def test_each_loss_is_named(lossy: Path, browser: Browser) -> None:
    """A figure, a table, a heading, a citation and an annotation lost in one format each are all reported."""
    findings = check_parity(lossy, DOCUMENTS, browser).findings
    for pattern in EXPECTED:
        assert any(re.search(pattern, f) for f in findings), f"no finding matches {pattern}:\n" + "\n".join(findings)
    unexplained = [f for f in findings if not any(re.search(p, f) for p in EXPECTED)]
    assert unexplained == []


def test_inventories_read_the_outputs(intact: Path) -> None:
    """What the inventories read is the document itself: the figure's drawing, the table's cells."""
    expected = ast_inventory(intact / "assembled" / "paper.md")
    assert [f.caption for f in expected.figures] == ["Shares reported by Beta, in per cent."]
    assert expected.tables[0].cells > 4
    docx = docx_inventory(intact / "paper.docx")
    assert docx.figures[0].drawn and docx.tables[0].cells == expected.tables[0].cells
    pdf = pdf_inventory(intact / "paper.pdf", expected)
    assert pdf.figures[0].drawn and pdf.tables[0].cells == expected.tables[0].cells
    assert pdf.citations == expected.citations == docx.citations


def test_compare_reports_placeholders_and_extra_figures(intact: Path) -> None:
    """Unresolved cross-references and undefined citations in the text are findings."""
    expected = ast_inventory(intact / "assembled" / "paper.md")
    got = docx_inventory(intact / "paper.docx")
    got.text += " see Figure ?? and (nosuchkey?)"
    findings = compare(expected, got)
    assert any("unresolved reference '??'" in f for f in findings)
    assert any("undefined citation '(key?)'" in f for f in findings)


def test_bibliography_entries_are_navigable(intact: Path, browser: Browser) -> None:
    """The annotated bibliography PDF has a bookmark per entry, and its HTML the same list of links."""
    from scholarly_build.verification.parity import html_inventory

    expected = ast_inventory(intact / "assembled" / "annotated-bibliography.md")
    pdf = pdf_inventory(intact / "annotated-bibliography.pdf", expected)
    html = html_inventory(browser, intact / "annotated-bibliography.html")
    assert pdf.entry_index == html.entry_index == ["Alpha 2018", "Beta 2016", "Gamma 1999"]
    assert pdf.headings == expected.headings  # entry bookmarks are not taken for headings


def test_norm_unifies_typography() -> None:
    assert norm("Belarus’s “trade” –\ninterde-\npendence") == 'Belarus\'s "trade" - interdependence'
