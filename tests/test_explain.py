"""`build --explain`: each output about to be rendered is printed with the declared input that changed."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from scholarly_build.building import graph
from scholarly_build.building.build import BuildOptions, build
from scholarly_build.inputs.project import load_project
from scholarly_build.rendering.render import digest_of

from .conftest import CliResult, copy_mini, quiet_build

pytestmark = pytest.mark.integration

HTML = BuildOptions(formats=("html",))


@pytest.fixture(scope="module")
def built_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini fixture after one HTML build (never modified by the tests)."""
    root = copy_mini(tmp_path_factory.mktemp("explain") / "mini")
    report = quiet_build(root, HTML)
    assert sorted(report.rendered) == ["annotated-bibliography.html", "paper.html"]
    return root


@pytest.fixture
def project(built_html: Path, tmp_path: Path) -> Path:
    """A private copy of the built project, build/ state included."""
    return Path(shutil.copytree(built_html, tmp_path / "mini", symlinks=True))


def explain(root: Path, **changes: object) -> tuple[list[str], list[str]]:
    """Build with --explain; (the explanation's lines, what was rendered)."""
    out = io.StringIO()
    options = BuildOptions(formats=("html",), explain=True, **changes)  # type: ignore[arg-type]
    report = build(root, options, Console(file=out, width=400))
    lines = [line for line in out.getvalue().splitlines() if "is rebuilt:" in line or "nothing to rebuild" in line]
    return lines, sorted(report.rendered)


def test_note_edit_explains_the_bibliography(project: Path) -> None:
    """A note changed beyond its opening (a paragraph added): the annotated bibliography is rebuilt because of
    that note, and nothing else is (the paper's citation cards show only the opening)."""
    note = project / "bib/notes/gamma1999.md"
    note.write_text(note.read_text() + "\nAn added sentence about Gamma.\n")
    lines, rendered = explain(project)
    assert rendered == ["annotated-bibliography.html"]
    assert len(lines) == 1
    assert lines[0].startswith("annotated-bibliography.html is rebuilt:")
    assert "bib/notes/gamma1999.md changed" in lines[0]


def test_no_change_has_nothing_to_rebuild(project: Path) -> None:
    """No input changed: --explain says so and nothing is rendered."""
    lines, rendered = explain(project)
    assert (lines, rendered) == (["nothing to rebuild: every output is up to date"], [])


def test_setting_change_is_named(project: Path) -> None:
    """A changed setting is named: crossref prefixes feed every output."""
    settings = project / "manuscript/paper.yaml"
    text = settings.read_text()
    settings.write_text(text + '\ncrossref_prefixes: ["fig:", "tbl:", "eq:", "sec:", "lst:"]\n')
    lines, rendered = explain(project)
    assert rendered == ["annotated-bibliography.html", "paper.html"]
    assert all("crossref_prefixes (setting) changed" in line for line in lines), lines


def test_force_and_missing_output(project: Path) -> None:
    """--force is the reason under --force; a deleted output names itself."""
    lines, _ = explain(project, force=True)
    assert lines == ["paper.html is rebuilt: --force", "annotated-bibliography.html is rebuilt: --force"]
    (project / "build/paper.html").unlink()
    lines, rendered = explain(project)
    assert rendered == ["paper.html"]
    assert lines == ["paper.html is rebuilt: build/paper.html is missing or was changed after the build"]


def test_first_build_has_no_previous_build(tmp_path: Path) -> None:
    """Before any build, every output is explained by 'no previous build'."""
    root = copy_mini(tmp_path / "mini")
    lines, _ = explain(root)
    assert lines == [
        "paper.html is rebuilt: no previous build",
        "annotated-bibliography.html is rebuilt: no previous build",
    ]


def test_cli_flag(project: Path, run_cli: Callable[..., CliResult]) -> None:
    """`build --explain` on the command line prints the explanation and builds."""
    note = project / "bib/notes/alpha2018.md"
    note.write_text(note.read_text() + "\nMore on Alpha.\n")
    code, _, err = run_cli("--root", str(project), "build", "--formats", "html", "--explain", "--no-provision")
    assert code == 0, err
    assert "annotated-bibliography.html is rebuilt: bib/notes/alpha2018.md changed" in err
    assert "1 rendered" in err


def context(root: Path, citations: str = "citeproc") -> graph.BuildContext:
    """A build context for the mini fixture without running a build (no figures)."""
    project = load_project(root)
    csl = root / "style.csl"
    csl.write_text("<style/>")
    return graph.BuildContext(
        project=project,
        documents={"paper": ("# Paper", "title: P"), graph.ANNOTATED: ("# Bib", "title: B")},
        csl=csl,
        resources="r",
        figures=(),
        epoch=1704067200,
        formats=("html", "latex", "pdf", "docx"),
        tex_ok=True,
        citations=citations,
        biblatex_bib=None,
    )


def test_the_table_answers_what_paper_pdf_depends_on(tmp_path: Path) -> None:
    """paper.pdf's declared inputs: the assembled paper, resources, style, bibliography, figures, settings."""
    outputs = {o.label: o for o in graph.declare_outputs(context(copy_mini(tmp_path / "mini")))}
    assert sorted(outputs) == [
        "annotated-bibliography.html",
        "annotated-bibliography.tex+annotated-bibliography.pdf",
        "paper.docx",
        "paper.html",
        "paper.tex+paper.pdf",
    ]
    names = [i.name for i in outputs["paper.tex+paper.pdf"].inputs]
    assert names == [
        "build/assembled/paper.md",
        "build/assembled/paper.meta.yaml",
        "templates/ (pandoc resources)",
        "style.csl",
        "bibliography",
        "figures",
        "pandoc version",
        "pdf_engine (setting)",
        "fonts (setting)",
        "crossref_prefixes (setting)",
        "SOURCE_DATE_EPOCH",
        "format",
        "citations (setting or --citations)",
        "LaTeX variables",
        "output names",
    ]


def test_the_key_is_the_digest_of_the_declared_inputs_in_order(tmp_path: Path) -> None:
    """The key the state records is unchanged by the refactor: base digest, then the format's parts."""
    output = next(o for o in graph.declare_outputs(context(copy_mini(tmp_path / "mini"))) if o.label == "paper.html")
    base = digest_of(*(p for i in output.shared for p in i.parts))
    assert output.key == digest_of(base, "html", "citeproc", "paper.html")
