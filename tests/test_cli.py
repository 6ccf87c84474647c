"""The command line: exit codes, human/JSON/GitHub output, standalone check, new-note, settings errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from scholarly_build.core.problems import Problems
from scholarly_build.inputs.notes import load_note
from scholarly_build.inputs.project import load_project

from .conftest import CliResult, write_tree

Run = Callable[..., CliResult]

BIB = """\
@book{smith2000,
  author = {Smith, John},
  title = {A Book},
  year = {2000},
}

@book{jones2001,
  author = {Jones, Jane},
  title = {Another Book},
  year = {2001},
}
"""


def test_check_on_mini_fixture_passes(project_copy: Path, run_cli: Run) -> None:
    """`check` on the mini fixture exits 0 and prints a clean summary."""
    code, out, err = run_cli("--root", str(project_copy), "check")
    assert (code, out, err) == (0, "0 error(s), 0 warning(s) in 7 file(s); 3 entries, 5 citations checked\n", "")


def test_check_json_contract_on_clean_project(project_copy: Path, run_cli: Run) -> None:
    """`--format json` prints {problems: [], summary: {errors, warnings, files, entries, citations}}."""
    code, out, _ = run_cli("--root", str(project_copy), "check", "--format", "json")
    assert code == 0
    assert json.loads(out) == {"problems": [],
                               "summary": {"errors": 0, "warnings": 0, "files": 7, "entries": 3, "citations": 5}}


def standalone(tmp_path: Path, manuscript: str = "# Paper\n\nAs @smith2000 argues [@smyth2000, p. 4].\n") -> Path:
    """A plain pandoc Markdown project: one .md and one .bib, no paper.yaml."""
    return write_tree(tmp_path / "plain", {"paper.md": manuscript, "refs.bib": BIB})


def check_plain(root: Path, run_cli: Run, *extra: str, env: dict[str, str] | None = None) -> CliResult:
    return run_cli("--root", str(root), "check", "--manuscript", str(root / "paper.md"),
                   "--bib", str(root / "refs.bib"), *extra, env=env)


def test_standalone_check_reports_located_problems(tmp_path: Path, run_cli: Run) -> None:
    """`check --manuscript X --bib Y` works without paper.yaml and prints `path:line:col:` problems."""
    code, out, err = check_plain(standalone(tmp_path), run_cli)
    assert code == 1
    assert out == (
        "paper.md:3:23: error undefined-citation: citation key 'smyth2000' is not in any .bib file\n"
        "    hint: did you mean 'smith2000'?\n"
        "refs.bib:7: warning unused-entry: entry 'jones2001' is never cited nor listed in the annotated bibliography\n"
        "    hint: cite it, write its note, or remove it\n"
        "1 error(s), 1 warning(s) in 2 file(s); 2 entries, 2 citations checked\n")
    assert err == ""


def test_json_problem_objects_follow_the_contract(tmp_path: Path, run_cli: Run) -> None:
    """Each JSON problem has exactly code, severity, file, line, column, key and message."""
    code, out, _ = check_plain(standalone(tmp_path), run_cli, "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert set(data) == {"problems", "summary"}
    assert data["summary"] == {"errors": 1, "warnings": 1, "files": 2, "entries": 2, "citations": 2}
    assert data["problems"] == [
        {"code": "undefined-citation", "severity": "error", "file": "paper.md", "line": 3, "column": 23,
         "key": "smyth2000",
         "message": "citation key 'smyth2000' is not in any .bib file (hint: did you mean 'smith2000'?)"},
        {"code": "unused-entry", "severity": "warning", "file": "refs.bib", "line": 7, "column": None,
         "key": "jones2001",
         "message": "entry 'jones2001' is never cited nor listed in the annotated bibliography "
                    "(hint: cite it, write its note, or remove it)"},
    ]


def test_warnings_alone_exit_zero(tmp_path: Path, run_cli: Run) -> None:
    """Warnings without errors exit 0 by default."""
    code, out, _ = check_plain(standalone(tmp_path, "See @smith2000.\n"), run_cli)
    assert (code, out.splitlines()[-1]) == (0, "0 error(s), 1 warning(s) in 2 file(s); 2 entries, 1 citations checked")


def test_strict_turns_warnings_into_failure(tmp_path: Path, run_cli: Run) -> None:
    """`--strict` makes a warnings-only check exit 1."""
    code, _, _ = check_plain(standalone(tmp_path, "See @smith2000.\n"), run_cli, "--strict")
    assert code == 1


def test_github_actions_annotations(tmp_path: Path, run_cli: Run) -> None:
    """With GITHUB_ACTIONS=true each problem is also printed as a workflow command."""
    code, out, _ = check_plain(standalone(tmp_path), run_cli, env={"GITHUB_ACTIONS": "true"})
    assert code == 1
    assert [line for line in out.splitlines() if line.startswith("::")] == [
        "::error file=paper.md,line=3,col=23,title=undefined-citation::citation key 'smyth2000' is not in any "
        ".bib file",
        "::warning file=refs.bib,line=7,title=unused-entry::entry 'jones2001' is never cited nor listed in the "
        "annotated bibliography",
    ]


def test_json_stays_parseable_under_github_actions(tmp_path: Path, run_cli: Run) -> None:
    """`--format json` keeps stdout a single JSON document even in GitHub Actions."""
    code, out, _ = check_plain(standalone(tmp_path), run_cli, "--format", "json", env={"GITHUB_ACTIONS": "true"})
    assert code == 1
    assert json.loads(out)["summary"]["errors"] == 1


def test_no_annotations_outside_github_actions(tmp_path: Path, run_cli: Run) -> None:
    """Without GITHUB_ACTIONS no `::error` lines are printed."""
    _, out, _ = check_plain(standalone(tmp_path), run_cli)
    assert "::error" not in out


def test_manuscript_without_bib_is_a_usage_error(tmp_path: Path, run_cli: Run) -> None:
    """`--manuscript` without `--bib` exits 1 with a usage message."""
    root = standalone(tmp_path)
    code, _, err = run_cli("--root", str(root), "check", "--manuscript", str(root / "paper.md"))
    assert (code, err) == (1, "error usage: --manuscript needs at least one --bib\n")


def test_bad_bib_exits_one_without_traceback(project_copy: Path, run_cli: Run) -> None:
    """A broken .bib makes `check` exit 1 with located problems and no traceback."""
    bib = project_copy / "bib/references.bib"
    bib.write_text(bib.read_text().replace("title        = {What Do We Know?},", "title        = {What Do We Know?,"))
    code, out, err = run_cli("--root", str(project_copy), "check")
    assert code == 1
    assert ("bib/references.bib:21:3: error bib-syntax: entry 'gamma1999' (line 19) is not closed before the next "
            "entry; the braces of field 'title' may be unbalanced") in out
    assert "Traceback" not in out + err


def test_bad_bib_build_exits_one_without_traceback(project_copy: Path, run_cli: Run) -> None:
    """The same broken .bib stops `build` with exit 1 and no traceback."""
    bib = project_copy / "bib/references.bib"
    bib.write_text(bib.read_text().replace("title        = {What Do We Know?},", "title        = {What Do We Know?,"))
    code, _, err = run_cli("--root", str(project_copy), "build")
    assert code == 1
    assert "bib/references.bib:21:3: error bib-syntax:" in err
    assert "Traceback" not in err


def test_missing_settings_file(tmp_path: Path, run_cli: Run) -> None:
    """`check` outside a project says the settings file is missing, exit 1."""
    code, _, err = run_cli("--root", str(tmp_path), "check")
    assert (code, err) == (1, "manuscript/paper.yaml: error settings: the settings file is missing\n"
                              "    hint: run from the project root, or pass --root\n")


def test_broken_settings_yaml_is_located(project_copy: Path, run_cli: Run) -> None:
    """A malformed paper.yaml is reported at its line."""
    settings = project_copy / "manuscript/paper.yaml"
    settings.write_text(settings.read_text().replace('lang: en-GB\n', 'lang: en-GB\nlang: fr\n'))
    code, _, err = run_cli("--root", str(project_copy), "check")
    assert (code, err) == (1, "manuscript/paper.yaml:6: error settings: duplicate key 'lang'\n")


def add_entry(root: Path) -> None:
    with (root / "bib/references.bib").open("a") as fh:
        fh.write("\n@book{delta2020,\n  author = {Delta, Dan and Echo, Eve},\n  title = {Delta},\n"
                 "  date = {2020-05},\n}\n")


def test_new_note_scaffolds_a_valid_note(project_copy: Path, run_cli: Run) -> None:
    """`new-note KEY` writes bib/notes/KEY.md, which loads without schema problems."""
    add_entry(project_copy)
    code, out, _ = run_cli("--root", str(project_copy), "new-note", "delta2020")
    assert (code, out) == (0, "wrote bib/notes/delta2020.md\n")
    project = load_project(project_copy)
    problems = Problems(project.root)
    note = load_note(project_copy / "bib/notes/delta2020.md", project, problems)
    assert list(problems) == []
    assert note is not None
    assert (note.key, note.author, note.year, note.themes, note.uses) == (
        "delta2020", "Delta, Dan; Echo, Eve", "2020", ["regime"], [])


def test_new_note_passes_the_checks(project_copy: Path, run_cli: Run) -> None:
    """A scaffolded note agrees with its entry: `check` stays free of problems."""
    add_entry(project_copy)
    run_cli("--root", str(project_copy), "new-note", "delta2020")
    code, out, _ = run_cli("--root", str(project_copy), "check")
    assert (code, out) == (0, "0 error(s), 0 warning(s) in 8 file(s); 4 entries, 5 citations checked\n")


def test_new_note_refuses_to_overwrite(project_copy: Path, run_cli: Run) -> None:
    """`new-note` on an existing note exits 1 and leaves it alone."""
    before = (project_copy / "bib/notes/gamma1999.md").read_text()
    code, _, err = run_cli("--root", str(project_copy), "new-note", "gamma1999")
    assert (code, err) == (1, "bib/notes/gamma1999.md: error new-note: the note exists; "
                              "new-note never overwrites a note\n"
                              "    hint: edit it, or delete it first to start again from the entry\n")
    assert (project_copy / "bib/notes/gamma1999.md").read_text() == before


def test_new_note_for_unknown_key(project_copy: Path, run_cli: Run) -> None:
    """`new-note` for a key that is not in the .bib exits 1 and writes nothing."""
    code, _, err = run_cli("--root", str(project_copy), "new-note", "nosuch")
    assert (code, err) == (1, "error new-note: 'nosuch' is not in bib/references.bib\n    hint: add the entry first\n")
    assert not (project_copy / "bib/notes/nosuch.md").exists()


def set_csl(root: Path, name: str) -> None:
    settings = root / "manuscript/paper.yaml"
    settings.write_text(settings.read_text().replace("csl: chicago-author-date", f"csl: {name}"))


@pytest.mark.integration
def test_unknown_csl_style_suggests_names(project_copy: Path, run_cli: Run) -> None:
    """An unknown CSL style name fails the build with a clear message and close names."""
    set_csl(project_copy, "chicago-author-dat")
    code, _, err = run_cli("--root", str(project_copy), "build", "--no-provision")
    assert code == 1
    assert "error settings: unknown CSL style 'chicago-author-dat'" in err
    assert "hint: did you mean chicago-author-date," in err
    assert "Traceback" not in err
    assert not (project_copy / "build/paper.html").exists()


@pytest.mark.integration
def test_unknown_csl_style_names_its_line(project_copy: Path, run_cli: Run) -> None:
    """The unknown CSL style is reported at the `csl:` line of paper.yaml."""
    set_csl(project_copy, "chicago-author-dat")
    _, _, err = run_cli("--root", str(project_copy), "build", "--no-provision")
    assert "manuscript/paper.yaml:8: error settings: unknown CSL style 'chicago-author-dat'" in err


def test_new_note_for_corporate_author_passes_strict_check(project_copy: Path, run_cli: Run) -> None:
    """A note scaffolded for a corporate (brace-protected) author passes `check --strict`."""
    with (project_copy / "bib/references.bib").open("a") as fh:
        fh.write("\n@report{bank2020,\n  author = {{World Bank}},\n  title = {Report},\n  type = {Report},\n"
                 "  institution = {World Bank},\n  date = {2020},\n}\n")
    run_cli("--root", str(project_copy), "new-note", "bank2020")
    code, out, _ = run_cli("--root", str(project_copy), "check", "--strict")
    assert (code, out.splitlines()[-1]) == (0, "0 error(s), 0 warning(s) in 8 file(s); 4 entries, 5 citations checked")


def test_clean_removes_build(project_copy: Path, run_cli: Run) -> None:
    """`clean` removes build/."""
    (project_copy / "build").mkdir()
    (project_copy / "build/paper.html").write_text("old")
    code, out, _ = run_cli("--root", str(project_copy), "clean")
    assert (code, out, (project_copy / "build").exists()) == (0, "removed build/\n", False)


@pytest.mark.integration
def test_without_tex_the_html_is_built_and_the_packages_are_named(project_copy: Path) -> None:
    """No TeX on PATH (and no provisioning): HTML, DOCX and .tex are built, exit 1 names the apt packages."""
    import subprocess
    import sys

    bindir = project_copy / "bin-without-tex"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    argv = [str(bindir / "python"), "-m", "scholarly_build", "--root", str(project_copy), "build", "--no-provision"]
    env = {"PATH": str(bindir), "HOME": str(project_copy)}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "sudo apt-get install texlive-xetex" in proc.stderr
    build = project_copy / "build"
    assert (build / "paper.html").is_file() and (build / "paper.docx").is_file() and (build / "paper.tex").is_file()
    assert not (build / "paper.pdf").exists()
