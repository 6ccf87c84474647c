"""Incremental builds: only what changed is re-rendered; a failed build changes nothing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from scholarly_build.building.build import aux_cache_dir
from scholarly_build.inputs.project import load_project

from .conftest import CliResult, copy_mini, quiet_build, tree_hashes

pytestmark = pytest.mark.integration

PAPER = ["paper.docx", "paper.html", "paper.tex+paper.pdf"]
BIBLIOGRAPHY = ["annotated-bibliography.html", "annotated-bibliography.tex+annotated-bibliography.pdf"]


@pytest.fixture(scope="module")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy of the mini fixture after one full build (never modified by the tests)."""
    root = copy_mini(tmp_path_factory.mktemp("incremental") / "mini")
    report = quiet_build(root)
    assert sorted(report.rendered) == sorted(PAPER + BIBLIOGRAPHY)
    assert report.figures_run == ["figure bars"]
    return root


@pytest.fixture
def project(built_once: Path, tmp_path: Path) -> Path:
    """A private copy of the built project, build/ state included."""
    return Path(shutil.copytree(built_once, tmp_path / "mini", symlinks=True))


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_second_build_renders_nothing(project: Path) -> None:
    """With no input changed, a second build renders nothing and runs no figure."""
    report = quiet_build(project)
    assert (report.rendered, sorted(report.skipped), report.figures_run) == ([], sorted(PAPER + BIBLIOGRAPHY), [])


def test_second_build_leaves_outputs_identical(project: Path) -> None:
    """A no-op build leaves every file in build/ byte-for-byte as it was."""
    before = tree_hashes(project / "build")
    quiet_build(project)
    assert tree_hashes(project / "build") == before


def test_section_edit_rerenders_only_the_paper(project: Path) -> None:
    """Editing a section re-renders the paper's outputs, not the annotated bibliography."""
    append(project / "manuscript/sections/02-body.md", "\n\nA new closing sentence.\n")
    report = quiet_build(project)
    assert (sorted(report.rendered), sorted(report.skipped), report.figures_run) == (PAPER, BIBLIOGRAPHY, [])
    assert "A new closing sentence." in (project / "build/paper.html").read_text()


def test_note_body_edit_rerenders_the_bibliography(project: Path) -> None:
    """Editing a note's annotation beyond its opening (a paragraph added) re-renders both bibliography outputs
    (HTML and TeX+PDF), not the paper (whose citation cards show only the opening)."""
    append(project / "bib/notes/gamma1999.md", "\nAn added sentence about Gamma.\n")
    report = quiet_build(project)
    assert (sorted(report.rendered), sorted(report.skipped)) == (BIBLIOGRAPHY, PAPER)
    assert "An added sentence about Gamma." in (project / "build/annotated-bibliography.html").read_text()


def test_figure_data_edit_reruns_the_figure(project: Path) -> None:
    """Editing the figure's data re-runs its script and re-renders the paper, not the bibliography."""
    before = (project / "build/figures/bars.png").read_bytes()
    append(project / "figures/data/bars.csv", "coal,40\n")
    report = quiet_build(project)
    assert (report.figures_run, sorted(report.rendered), sorted(report.skipped)) == (
        ["figure bars"], PAPER, BIBLIOGRAPHY)
    assert (project / "build/figures/bars.png").read_bytes() != before


def test_figure_rerun_with_the_same_picture_renders_nothing(project: Path) -> None:
    """A figure script edited without changing its picture re-runs; the paper that includes it is not re-rendered."""
    append(project / "figures/bars.py", "\n# a comment changes the script, not the picture\n")
    report = quiet_build(project)
    assert (report.figures_run, report.rendered, sorted(report.skipped)) == (
        ["figure bars"], [], sorted(PAPER + BIBLIOGRAPHY))


def test_deleted_output_is_rebuilt(project: Path) -> None:
    """An output removed from build/ is rendered again even though no input changed."""
    (project / "build/paper.html").unlink()
    report = quiet_build(project)
    assert report.rendered == ["paper.html"]
    assert (project / "build/paper.html").is_file()


def failing_build(project: Path, run_cli: Callable[..., CliResult]) -> tuple[CliResult, dict[str, str], dict[str, str]]:
    before = tree_hashes(project / "build")
    result = run_cli("--root", str(project), "build")
    return result, before, tree_hashes(project / "build")


def test_undefined_citation_fails_with_location(project: Path, run_cli: Callable[..., CliResult]) -> None:
    """An undefined citation stops the build: exit 1, `path:line:col:` on stderr, no traceback."""
    append(project / "manuscript/sections/02-body.md", "\n\nSee [@nosuch2000].\n")
    (code, _, stderr), _, _ = failing_build(project, run_cli)
    assert code == 1
    assert ("manuscript/sections/02-body.md:8:6: error undefined-citation: citation key 'nosuch2000' is not in "
            "any .bib file") in stderr
    assert "Traceback" not in stderr
    assert "previous outputs in build/ are unchanged" in stderr


def test_undefined_citation_leaves_outputs_unchanged(project: Path, run_cli: Callable[..., CliResult]) -> None:
    """After a build stopped by an undefined citation every file in build/ is byte-for-byte unchanged."""
    append(project / "manuscript/sections/02-body.md", "\n\nSee [@nosuch2000].\n")
    (code, _, _), before, after = failing_build(project, run_cli)
    assert code == 1
    assert after == before


def test_broken_note_yaml_fails_with_location(project: Path, run_cli: Callable[..., CliResult]) -> None:
    """A tab in a note's front matter stops the build at the note's line, without a traceback."""
    note = project / "bib/notes/gamma1999.md"
    note.write_text(note.read_text().replace("  alpha2018:\n", "\talpha2018:\n"))
    (code, _, stderr), _, _ = failing_build(project, run_cli)
    assert code == 1
    assert ("bib/notes/gamma1999.md:9: error note-schema: malformed YAML front matter: a tab character is used "
            "for indentation (YAML allows only spaces)") in stderr
    assert "Traceback" not in stderr


def test_broken_note_yaml_leaves_outputs_unchanged(project: Path, run_cli: Callable[..., CliResult]) -> None:
    """After a build stopped by broken YAML every file in build/ is byte-for-byte unchanged."""
    note = project / "bib/notes/gamma1999.md"
    note.write_text(note.read_text().replace("  alpha2018:\n", "\talpha2018:\n"))
    (code, _, _), before, after = failing_build(project, run_cli)
    assert code == 1
    assert after == before


def test_failing_figure_script_reports_its_output(project: Path, run_cli: Callable[..., CliResult]) -> None:
    """A crashing figure script fails the build with the script's own error; every visible output is kept."""
    append(project / "figures/bars.py", "\nraise SystemExit('figure exploded')\n")
    (code, _, stderr), before, after = failing_build(project, run_cli)
    assert code == 1
    assert ("figures/bars.py: error figure: the figure script failed (exit 1); its output:\n"
            "    figure exploded") in stderr
    visible = {k: v for k, v in before.items() if not any(part.startswith(".") for part in Path(k).parts)}
    assert {k: after.get(k) for k in visible} == visible


def test_builds_in_two_directories_are_identical(built_once: Path, built_mini: Path) -> None:
    """Two independent full builds of the fixture (different directories) give byte-identical outputs."""
    names = ["paper.pdf", "paper.html", "paper.tex", "paper.docx",
             "annotated-bibliography.pdf", "annotated-bibliography.html", "annotated-bibliography.tex"]
    first = {n: v for n, v in tree_hashes(built_once / "build").items() if n in names}
    second = {n: v for n, v in tree_hashes(built_mini / "build").items() if n in names}
    assert sorted(first) == sorted(names)
    assert first == second


def test_edit_and_revert_gives_the_bytes_of_a_cold_build(project: Path, built_once: Path) -> None:
    """TeX's kept auxiliary files save passes but never change the output: edit, rebuild, revert, rebuild."""
    note = project / "bib/notes/gamma1999.md"
    original = note.read_text()
    note.write_text(original + "\nAn added sentence about Gamma.\n")  # a paragraph of its own: the card's opening stays
    first = quiet_build(project)
    aux = aux_cache_dir(load_project(project), "annotated-bibliography-latex-citeproc")
    assert (aux / "annotated-bibliography.aux").is_file()  # kept outside the project, for the next run
    assert (aux / "annotated-bibliography.fdb_latexmk").is_file()
    note.write_text(original)
    report = quiet_build(project)
    assert sorted(report.rendered) == BIBLIOGRAPHY
    # This copy's first build had no auxiliary files (two passes or more); the revert needs one.
    pdf_job = BIBLIOGRAPHY[1]
    assert first.tex_passes[pdf_job] >= 2 and report.tex_passes[pdf_job] == 1, (first.tex_passes, report.tex_passes)
    outputs = [name for name in tree_hashes(built_once / "build") if "/" not in name and not name.startswith(".")]
    assert outputs
    assert {n: tree_hashes(project / "build")[n] for n in outputs} == {
        n: tree_hashes(built_once / "build")[n] for n in outputs
    }


def test_only_latex_auxiliary_files_are_restored(tmp_path: Path) -> None:
    """From the aux cache only `<doc>.aux`-type regular files reach the work folder: no config file, no link."""
    import dataclasses

    from scholarly_build.rendering import render

    aux, work = tmp_path / "aux", tmp_path / "work"
    aux.mkdir()
    work.mkdir()
    (aux / "paper.aux").write_text("\\relax\n")
    (aux / "latexmkrc").write_text("system('touch pwned');\n")
    (aux / "biber.conf").write_text("<config/>\n")
    (aux / "paper.bbl").write_text("stale\n")
    (tmp_path / "secret").write_text("secret\n")
    (aux / "paper.toc").symlink_to(tmp_path / "secret")
    job = render.RenderJob(
        name="paper.tex+paper.pdf", fmt="latex", markdown=tmp_path / "p.md", metadata=tmp_path / "m.yaml",
        outputs=(tmp_path / "paper.tex", tmp_path / "paper.pdf"), work_dir=work, defaults_dir=tmp_path,
        bibliography=(), csl=tmp_path / "s.csl", figures=(), pdf_engine="xelatex", fonts={}, env={}, digest="0" * 64,
        aux_dir=aux,
    )
    render._restore_aux(job)
    assert sorted(p.name for p in work.iterdir()) == ["paper.aux"]
    render._restore_aux(dataclasses.replace(job, aux_dir=None))  # no cache: nothing, no error
    assert build_is_never_the_aux_cache(tmp_path)


def build_is_never_the_aux_cache(root: Path) -> bool:
    """The aux cache of any project lies outside it (a pull request can commit build/)."""
    mini = copy_mini(root / "mini")
    return not aux_cache_dir(load_project(mini), "paper-latex-citeproc").resolve().is_relative_to(mini.resolve())


def test_kept_records_of_projects_gone_quiet_are_pruned_and_clean_removes_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., CliResult]
) -> None:
    """The user cache does not grow without bound: a build removes the kept TeX records of
    projects unused for KEEP_DAYS (a temporary copy, a deleted clone), keeps recent ones and
    anything it did not create, and `clean` removes the project's own."""
    import os
    import time

    from scholarly_build.building import auxcache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    base = auxcache.cache_base()
    old_time = time.time() - (auxcache.KEEP_DAYS + 1) * 86400
    stale, recent = base / ("a" * 24), base / ("b" * 24)
    foreign = base / "not-ours"
    for folder in (stale, recent, foreign):
        (folder / "paper-latex-citeproc").mkdir(parents=True)
        (folder / "paper-latex-citeproc" / "paper.aux").write_text("\\relax\n")
    os.utime(stale, (old_time, old_time))
    os.utime(foreign, (old_time, old_time))
    project = copy_mini(tmp_path / "mini")
    quiet_build(project)
    mine = auxcache.project_dir(project.resolve())
    assert (mine / "paper-latex-citeproc" / "paper.aux").is_file()
    assert not stale.exists() and recent.is_dir() and foreign.is_dir()
    os.utime(mine, (old_time, old_time))
    quiet_build(project)  # a build marks its own records as used: the next one's prune keeps them
    assert mine.stat().st_mtime > old_time + 86400
    code, out, _ = run_cli("--root", str(project), "clean")
    assert code == 0 and "removed the TeX records kept for this project" in out, out
    assert not mine.exists() and recent.is_dir()
