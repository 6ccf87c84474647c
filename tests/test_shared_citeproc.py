"""A document's formats share one citeproc step, and every output is the byte it would be rendered alone.

The oracle is the build itself with sharing switched off: each render then runs pandoc
from the Markdown on its own, as before, and as the bench's floor does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scholarly_build.building import build as build_mod
from scholarly_build.building.build import BuildOptions
from scholarly_build.building.reproducible import copy_project
from scholarly_build.rendering import sharedast
from tests.conftest import REPO, quiet_build

OUTPUTS = ("paper.html", "paper.docx", "paper.tex", "paper.pdf", "annotated-bibliography.html",
           "annotated-bibliography.tex", "annotated-bibliography.pdf")


def _count_steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each shared citeproc step that runs (the document's name)."""
    ran: list[str] = []
    real = sharedast.citeproc_ast

    def counted(job, folder, allowed, make):  # type: ignore[no-untyped-def]
        def counted_make(work: Path) -> str:
            ran.append(job.markdown.stem)
            return make(work)

        return real(job, folder, allowed, counted_make)

    monkeypatch.setattr(sharedast, "citeproc_ast", counted)
    return ran


def _outputs(root: Path) -> dict[str, bytes]:
    return {name: (root / "build" / name).read_bytes() for name in OUTPUTS}


@pytest.mark.parametrize("project", ["mini", "repository"])
def test_shared_and_alone_renders_are_byte_identical(
    project: str, project_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every output of the mini fixture and of this repository's paper, rendered both ways."""
    root = project_copy
    if project == "repository":
        root = tmp_path / "repo"
        copy_project(REPO, root)
    sharedast.reset()
    ran = _count_steps(monkeypatch)
    quiet_build(root, BuildOptions(force=True))
    shared = _outputs(root)
    assert sorted(ran) == ["annotated-bibliography", "paper"], "each document's citeproc step runs once"
    monkeypatch.setattr(build_mod, "_share_citeproc", lambda project, method: False)
    quiet_build(root, BuildOptions(force=True))
    assert sorted(ran) == ["annotated-bibliography", "paper"], "switched off, no step is shared"
    alone = _outputs(root)
    for name in OUTPUTS:
        assert shared[name] == alone[name], name


def test_a_project_with_its_own_filter_renders_each_format_alone(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A changed crossref.lua may not know the shared step's two runs: nothing is shared, the build works."""
    crossref = project_copy / "templates" / "pandoc" / "filters" / "crossref.lua"
    crossref.write_text("-- the project's own copy\n" + crossref.read_text())
    ran = _count_steps(monkeypatch)
    report = quiet_build(project_copy, BuildOptions(formats=("html", "docx")))
    assert ran == []
    assert sorted(report.rendered) == ["annotated-bibliography.html", "paper.docx", "paper.html"]
    assert "Figure 1" in (project_copy / "build" / "paper.html").read_text()


def test_a_json_file_left_in_build_is_never_read(project_copy: Path) -> None:
    """A committed build/ may hold a planted document.json where the step writes: it is made again, not read."""
    sharedast.reset()
    quiet_build(project_copy, BuildOptions(formats=("html", "docx")))
    [planted] = (project_copy / "build" / ".work").glob("paper-shared/*/document.json")
    doc = json.loads(planted.read_text())
    doc["blocks"].append({"t": "RawBlock", "c": ["html", "<script>alert('planted')</script>"]})
    planted.write_text(json.dumps(doc))
    quiet_build(project_copy, BuildOptions(formats=("html", "docx"), force=True))  # this process knows its bytes
    assert "planted" not in (project_copy / "build" / "paper.html").read_text()
    planted.write_text(json.dumps(doc))
    sharedast.reset()  # as a new build process starts
    quiet_build(project_copy, BuildOptions(formats=("html", "docx"), force=True))
    assert "planted" not in (project_copy / "build" / "paper.html").read_text()


def test_the_step_folders_do_not_pile_up(project_copy: Path) -> None:
    """Each edit of a section makes a new step; the folders of steps no longer remembered are removed."""
    sharedast.reset()
    section = project_copy / "manuscript" / "sections" / "02-body.md"
    for n in range(12):
        section.write_text(section.read_text() + f"\nEdit {n}.\n")
        quiet_build(project_copy, BuildOptions(formats=("html", "docx")))
    folders = list((project_copy / "build" / ".work" / "paper-shared").iterdir())
    assert 1 <= len(folders) <= sharedast._KEEP


def test_one_format_alone_shares_nothing(project_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With one output per document to render, a shared step would only add a pandoc process."""
    ran = _count_steps(monkeypatch)
    report = quiet_build(project_copy, BuildOptions(formats=("html",)))
    assert (ran, sorted(report.rendered)) == ([], ["annotated-bibliography.html", "paper.html"])
