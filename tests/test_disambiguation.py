"""The faster copy of the style renders exactly what the project's style renders (pandoc is the oracle)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scholarly_build.core import pandoc
from scholarly_build.inputs.csl import resolve_csl
from scholarly_build.rendering.disambiguation import ambiguous_families, equivalent_style

ROOT = Path(__file__).resolve().parents[1]
CORPUS = [*sorted((ROOT / "tests" / "corpus").glob("*/*.bib")), ROOT / "bib" / "references.bib"]
STYLE = resolve_csl("chicago-author-date", ROOT)  # the engine's default, which asks for primary-name


def _render(bib: Path, style: Path, tmp: Path) -> str:
    """Every entry cited (nocite) and one visible cite of each, as HTML through pandoc's citeproc."""
    csl_json = pandoc.run(["--from", "biblatex", "--to", "csljson"], stdin=bib.read_text()).stdout
    keys = [e["id"] for e in json.loads(csl_json)]
    body = "\n\n".join(f"See [@{k}] and @{k}." for k in keys)
    doc = tmp / "doc.md"
    doc.write_text(f"---\nnocite: '@*'\n---\n\n{body}\n", encoding="utf-8")
    return pandoc.run([str(doc), "--citeproc", "--bibliography", str(bib), "--csl", str(style), "-t", "html"]).stdout


@pytest.mark.parametrize("bib", CORPUS, ids=lambda p: p.parent.name)
def test_the_derived_style_renders_every_real_bibliography_alike(bib: Path, tmp_path: Path) -> None:
    """Where the build would use the copy (no ambiguous family), both styles give the same HTML, byte for byte."""
    try:
        derived = equivalent_style(STYLE, [bib], tmp_path / "build")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8 (the check reports it)")
    if derived == STYLE:
        return  # ambiguous family names: the build keeps the project's style, nothing to compare
    assert "by-cite" in derived.read_text() and derived.name == STYLE.name
    assert _render(bib, derived, tmp_path) == _render(bib, STYLE, tmp_path)


def test_both_paths_are_exercised_by_the_corpus(tmp_path: Path) -> None:
    """The comparison above is not vacuous: some real files get the copy, some keep the style."""
    kept = sum(equivalent_style(STYLE, [b], tmp_path / b.parent.name) == STYLE for b in CORPUS[:12])
    assert 0 < kept < 12


def test_a_shared_family_name_keeps_the_projects_style(tmp_path: Path) -> None:
    """Two people named Smith: global name disambiguation may add given names, so the style is kept."""
    bib = tmp_path / "refs.bib"
    bib.write_text(
        "@book{a, author = {Smith, John}, title = {One}, date = {2001}, publisher = {P}}\n"
        "@book{b, author = {Smith, Jane}, title = {Two}, date = {2001}, publisher = {P}}\n"
    )
    assert ambiguous_families([{"family": "Smith", "given": "John"}, {"family": "smith", "given": "Jane"}]) == {"smith"}
    assert equivalent_style(STYLE, [bib], tmp_path / "build") == STYLE
    bib.write_text(bib.read_text().replace("Smith, Jane", "Smith, John"))  # the same person twice: year suffixes
    derived = equivalent_style(STYLE, [bib], tmp_path / "build")
    assert derived != STYLE
    html = _render(bib, derived, tmp_path)
    assert html == _render(bib, STYLE, tmp_path) and "2001a" in html
