"""A rebuild after a one-note edit splices that entry into the annotated bibliography (rendering/entries.py).

Every case edits this repository's own notes in a copy, rebuilds, and compares the
HTML and LaTeX (and once the PDF) with a forced full build of the same inputs: they
must be byte-identical, whether the entry was spliced or the job fell back to a full
render. Each case also says which of the two it expects, so a splice that never
happens fails too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scholarly_build.building.build import BuildOptions, BuildReport
from scholarly_build.building.reproducible import copy_project
from scholarly_build.rendering import entries

from .conftest import quiet_build

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.integration
BIB_ONLY = BuildOptions(documents=("bibliography",), formats=("html", "latex"))
HTML, TEX = "annotated-bibliography.html", "annotated-bibliography.tex"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository's project, its annotated bibliography built once (HTML and LaTeX)."""
    root = tmp_path_factory.mktemp("splice") / "project"
    copy_project(ROOT, root)
    quiet_build(root, BIB_ONLY)
    return root


def _outputs(root: Path, names: tuple[str, ...] = (HTML, TEX)) -> dict[str, bytes]:
    return {name: (root / "build" / name).read_bytes() for name in names}


def _rebuild_and_compare(root: Path, options: BuildOptions = BIB_ONLY) -> BuildReport:
    """Rebuild incrementally, then in full: the two must write the same bytes. The incremental report."""
    report = quiet_build(root, options)
    names = (HTML, TEX, "annotated-bibliography.pdf") if "pdf" in options.formats else (HTML, TEX)
    incremental = _outputs(root, names)
    quiet_build(root, BuildOptions(documents=options.documents, formats=options.formats, force=True))
    full = _outputs(root, names)
    for name in names:
        assert incremental[name] == full[name], f"{name}: the incremental build differs from a full build"
    return report


def _edit(root: Path, key: str, change: str, where: str = "end") -> None:
    note = root / "bib" / "notes" / f"{key}.md"
    text = note.read_text(encoding="utf-8")
    if where == "end":
        text = text.rstrip("\n") + "\n\n" + change + "\n"
    else:  # replace the first occurrence of ``where`` in the body
        head, body = text.split("\n---\n", 1)
        assert where in body
        text = head + "\n---\n" + body.replace(where, change, 1)
    note.write_text(text, encoding="utf-8")


def _keys(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "bib" / "notes").glob("*.md"))


@pytest.mark.parametrize("position", [0, 25, -1])
def test_an_appended_paragraph_is_spliced_into_both_formats(project: Path, position: int) -> None:
    """First, middle and last entry: HTML and LaTeX spliced, and identical to a full render."""
    key = _keys(project)[position]
    _edit(project, key, f"A paragraph added to {key} in a test.")
    report = _rebuild_and_compare(project)
    assert report.spliced == {HTML: key, TEX: key}
    assert f"added to {key} in a test" in (project / "build" / TEX).read_text()


def test_the_same_note_edited_again_renders_one_lone_entry_per_job(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second edit of a note reuses the first edit's lone rendering as "as it was": one pandoc per job."""
    key = _keys(project)[20]
    _edit(project, key, "A first edit of two.")
    assert quiet_build(project, BIB_ONLY).spliced == {HTML: key, TEX: key}
    lone = entries._lone
    calls: list[str] = []
    monkeypatch.setattr(entries, "_lone", lambda *args: calls.append(args[-1]) or lone(*args))
    _edit(project, key, "A second edit of two.")
    report = _rebuild_and_compare(project)
    assert report.spliced == {HTML: key, TEX: key}
    assert calls == ["now", "now"]


def test_a_word_changed_inside_a_paragraph_is_spliced(project: Path) -> None:
    """A change in the middle of the annotation's first paragraph (its words rewrap)."""
    key = "zhovtis2007kazakhstan"
    _edit(project, key, "assesses, at some length, outside", where="assesses outside")
    report = _rebuild_and_compare(project)
    assert report.spliced == {HTML: key, TEX: key}


def test_a_footnote_is_spliced_only_where_it_stays_inside_the_entry(project: Path) -> None:
    """LaTeX keeps a footnote in place; HTML lists it at the end of the page, outside the entry: full render."""
    key = _keys(project)[3]
    _edit(project, key, "A sentence with a note.^[The footnote of a test.]")
    report = _rebuild_and_compare(project)
    assert report.spliced == {TEX: key}
    assert "The footnote of a test." in (project / "build" / HTML).read_text()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("Compare [@angotti1981political, 12].", "a citation: its form depends on the others"),
        ("A span with an id: [text]{#an-id-of-a-test}.", "an identifier"),
    ],
)
def test_what_depends_on_the_rest_of_the_document_is_rendered_in_full(
    project: Path, change: str, reason: str
) -> None:
    """A citation or an identifier in the new annotation: no splice in either format."""
    key = _keys(project)[7]
    _edit(project, key, change)
    report = _rebuild_and_compare(project)
    assert report.spliced == {}, reason


def test_a_heading_another_annotation_has_renders_in_full(project: Path) -> None:
    """Identifiers are unique across the document: the second "Background" becomes ``background-1``, which
    the entry rendered alone would not know (and in HTML the table of contents changes too)."""
    first, second = _keys(project)[8:10]
    _edit(project, first, "## Background\n\nA paragraph under a heading.")
    assert _rebuild_and_compare(project).spliced == {}
    _edit(project, second, "## Background\n\nAnother paragraph under the same heading.")
    assert _rebuild_and_compare(project).spliced == {}
    assert "background-1" in (project / "build" / TEX).read_text()


def test_the_first_formula_renders_the_latex_in_full(project: Path) -> None:
    """Math changes the LaTeX preamble (unicode-math), outside the entry: LaTeX renders in full, HTML splices."""
    assert "unicode-math" not in (project / "build" / TEX).read_text()
    key = _keys(project)[13]
    _edit(project, key, "An equation in a test: $E = mc^2$.")
    report = _rebuild_and_compare(project)
    assert report.spliced == {HTML: key}
    assert "unicode-math" in (project / "build" / TEX).read_text()


def test_a_cross_reference_to_another_annotation_renders_in_full(project: Path) -> None:
    """``@fig:x`` is numbered from the whole document; alone, the entry would print "??"."""
    first, second = _keys(project)[15:17]
    _edit(project, first, "![A figure of a test.](of-a-test.png){#fig:of-a-test}")
    _rebuild_and_compare(project)
    _edit(project, second, "As @fig:of-a-test shows.")
    assert _rebuild_and_compare(project).spliced == {}
    assert '<a href="#fig:of-a-test">Figure 1</a>' in (project / "build" / HTML).read_text()


def test_two_notes_edited_render_in_full(project: Path) -> None:
    """Only a single changed entry is spliced."""
    first, second = _keys(project)[10:12]
    _edit(project, first, "One of two edits.")
    _edit(project, second, "The other of two edits.")
    assert _rebuild_and_compare(project).spliced == {}


def test_an_entry_formatted_by_its_neighbours_renders_in_full(project: Path) -> None:
    """With a second Zhovtis 2007 the style writes 2007a and 2007b, which an entry alone would not show."""
    bib = project / "bib" / "references.bib"
    text = bib.read_text(encoding="utf-8")
    block = re.search(r"@misc\{zhovtis2007kazakhstan,.*?\n\}\n", text, re.S)
    assert block is not None
    bib.write_text(text + "\n" + block.group(0).replace("zhovtis2007kazakhstan", "zhovtis2007second"), "utf-8")
    note = (project / "bib" / "notes" / "zhovtis2007kazakhstan.md").read_text(encoding="utf-8")
    (project / "bib" / "notes" / "zhovtis2007second.md").write_text(
        note.replace("key: zhovtis2007kazakhstan", "key: zhovtis2007second"), encoding="utf-8"
    )
    assert _rebuild_and_compare(project).spliced == {}  # a new entry: everything renders
    assert "2007a" in (project / "build" / HTML).read_text()
    _edit(project, "zhovtis2007kazakhstan", "An edit beside a namesake.")
    assert _rebuild_and_compare(project).spliced == {}


def test_the_pdf_of_a_spliced_build_is_byte_identical(project: Path) -> None:
    """With the PDF: the spliced LaTeX goes through latexmk (one pass) to the same bytes as a full build."""
    with_pdf = BuildOptions(documents=("bibliography",), formats=("html", "latex", "pdf"))
    quiet_build(project, with_pdf)
    key = _keys(project)[1]  # not a Zhovtis: the test above gave that entry a namesake
    _edit(project, key, "An edit that reaches the PDF.")
    report = _rebuild_and_compare(project, with_pdf)
    assert report.spliced.get("annotated-bibliography.tex+annotated-bibliography.pdf") == key
    assert report.tex_passes.get("annotated-bibliography.tex+annotated-bibliography.pdf") == 1


def test_a_tampered_kept_rendering_is_not_trusted(project: Path) -> None:
    """The kept rendering lives outside the project; if it does not match its job's context it is ignored."""
    key = _keys(project)[5]
    _edit(project, key, "Before the record is altered.")
    report = quiet_build(project, BIB_ONLY)
    job = next(j for j in report.jobs if j.name == HTML)
    assert job.aux_dir is not None
    kept = job.aux_dir / entries.KEPT
    kept.write_text(kept.read_text().replace(job.context, "0" * 64))
    _edit(project, key, "After the record is altered.")
    assert _rebuild_and_compare(project).spliced.get(HTML) is None


def test_annotation_blocks_and_the_changed_key() -> None:
    """Blocks are found by their fences; a change outside the blocks or in two of them names no key."""
    doc = (
        "# Refs\n\n::: {.annotation key=\"a\"}\nA text.\n\n::: {.provenance}\nP.\n:::\n:::\n"
        "::: {.annotation key=\"b\"}\nB text.\n:::\n\nAfter.\n"
    )
    assert [k for k, _s, _e in entries.annotation_blocks(doc)] == ["a", "b"]
    assert entries.changed_key(doc, doc.replace("B text.", "B, edited.")) == "b"
    assert entries.changed_key(doc, doc.replace("After.", "Later.")) is None
    assert entries.changed_key(doc, doc.replace("A text.", "A2.").replace("B text.", "B2.")) is None
    assert entries.changed_key(doc, doc) is None
