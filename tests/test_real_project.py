"""The repository's own paper and annotated bibliography, built and read back."""

from __future__ import annotations

import io
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from scholarly_build.building.build import BuildOptions, build
from scholarly_build.building.pipeline import check_project
from scholarly_build.building.reproducible import copy_project, verify
from scholarly_build.core.problems import Problems
from scholarly_build.inputs.notes import split_front_matter
from scholarly_build.inputs.project import load_project

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.integration


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = dict(attrs)
        if d.get("id"):
            self.ids.add(str(d["id"]))
        if tag == "a" and (d.get("href") or "").startswith("#"):
            self.hrefs.append(str(d["href"])[1:])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("real") / "project"
    copy_project(ROOT, root)
    build(root, BuildOptions(), Console(file=io.StringIO()))
    return root / "build"


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00ad", "")).strip()


def test_repository_checks_clean() -> None:
    """`invoke check` on this repository reports no error and no warning.

    Where ../shared/seeds is absent (a clone without the source texts), the only
    findings allowed are the warnings that say so (tests/test_sources.py checks the rest).
    """
    project = load_project(ROOT)
    problems = Problems(ROOT)
    seeds_dir = Path(os.environ.get("SCHOLARLY_BUILD_SEEDS") or ROOT.parent / "shared" / "seeds")
    seeds = seeds_dir.is_dir()
    check_project(project, problems, str(seeds_dir) if seeds else None)
    assert [p.format() for p in problems if seeds or p.code != "missing-source"] == []


def test_every_entry_is_annotated_in_the_pdf(built: Path) -> None:
    """Each note's annotation opening appears in the annotated bibliography PDF."""
    text = _squash(_pdf_text(built / "annotated-bibliography.pdf"))
    missing = []
    for note in sorted((ROOT / "bib" / "notes").glob("*.md")):
        parts = split_front_matter(note.read_text(encoding="utf-8"))
        assert parts is not None
        words = re.findall(r"[A-Za-z]{4,}", parts[1])[:4]
        if not all(w in text for w in words):
            missing.append(note.stem)
    assert missing == []


def test_paper_pdf_has_references_cyrillic_and_no_unresolved_citations(built: Path) -> None:
    """The paper's PDF has a formatted reference list and no `???` or `(key?)` markers."""
    text = _pdf_text(built / "paper.pdf")
    assert "References" in text
    assert "Jorbenadze, Luka. 2018." in _squash(text)
    assert "???" not in text and "⁇" not in text
    assert not re.search(r"\([a-z]+\d{4}[a-z]*\?\)", text)
    assert "Лукашэнка" in text and "Lukašenko" in text
    assert "Лукашэнка" in _pdf_text(built / "annotated-bibliography.pdf")


@pytest.mark.parametrize("name", ["paper.html", "annotated-bibliography.html"])
def test_every_html_link_resolves(built: Path, name: str) -> None:
    """Every in-page link (citations, cross-references, TOC) points at an existing id."""
    parser = _Anchors()
    parser.feed((built / name).read_text(encoding="utf-8"))
    assert sorted(set(parser.hrefs) - parser.ids) == []
    if name == "paper.html":
        assert sum(h.startswith("ref-") for h in parser.hrefs) > 100, "citations should link to their entries"
        assert {"fig:timeline", "fig:trade-energy", "fig:coverage", "tbl:comparison"} <= set(parser.hrefs)


def test_reproducible_across_directories() -> None:
    """Two clean builds of this repository in different directories are byte-identical."""
    hashes, diffs = verify(ROOT, Console(file=io.StringIO()))
    assert len(hashes) == 7
    assert diffs == []


def test_docx_has_figures_references_and_resolved_citations(built: Path) -> None:
    """The DOCX for submission embeds the three figures and the formatted references."""
    import zipfile

    from scholarly_build.core.pandoc import run

    with zipfile.ZipFile(built / "paper.docx") as docx:
        media = [n for n in docx.namelist() if n.startswith("word/media/")]
    assert len(media) == 3
    text = _squash(run(["--from", "docx", "--to", "plain", str(built / "paper.docx")]).stdout)
    assert "Jorbenadze, Luka. 2018." in text
    assert "Table 1" in text and "Figure 3" in text
    assert not re.search(r"\([a-z]+\d{4}[a-z]*\?\)", text)


def test_biblatex_path_builds_with_annotations(tmp_path: Path) -> None:
    """`--citations biblatex`: the .tex uses biblatex + biber and the PDF prints the annotations."""
    root = tmp_path / "project"
    copy_project(ROOT, root)
    build(root, BuildOptions(citations="biblatex", formats=("latex", "pdf")), Console(file=io.StringIO()))
    tex = (root / "build" / "annotated-bibliography.tex").read_text(encoding="utf-8")
    assert "{biblatex}" in tex and r"\printbibliography" in tex
    bib = (root / "build" / "biblatex" / "references-annotated.bib").read_text(encoding="utf-8")
    assert bib.count("annotation = {") == 52
    text = _squash(_pdf_text(root / "build" / "annotated-bibliography.pdf"))
    parts = split_front_matter((ROOT / "bib" / "notes" / "geddes1999what.md").read_text(encoding="utf-8"))
    assert parts is not None
    assert " ".join(re.findall(r"[A-Za-z]+", parts[1])[:6]) in " ".join(re.findall(r"[A-Za-z]+", text))
    assert r"\autocite" in (root / "build" / "paper.tex").read_text(encoding="utf-8")
