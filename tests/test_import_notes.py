"""`new-note KEY` prefilled from the entry, and `import-notes FILE.bib` for Zotero and JabRef exports (issue 18).

The Better BibTeX (Zotero) export is written by hand in that tool's form (tests/fixtures/exports/SOURCE.md);
the JabRef export is a real one, tests/corpus/tl-jabref-ier/ier-ex.bib (JabRef 2.3.1, LPPL).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from scholarly_build.core.problems import Problems
from scholarly_build.inputs.notes import load_note
from scholarly_build.inputs.project import load_project

REPO = Path(__file__).resolve().parents[1]
ZOTERO = REPO / "tests/fixtures/exports/zotero-better-bibtex.bib"
JABREF = REPO / "tests/corpus/tl-jabref-ier/ier-ex.bib"
Run = Callable[..., tuple[int, str, str]]


def use_bib(root: Path, bib: Path) -> None:
    """Make ``bib`` the project's bibliography (as a user adds an export to the project)."""
    shutil.copyfile(bib, root / "bib/references.bib")


def test_new_note_starts_from_the_zotero_annotation(project_copy: Path, run_cli: Run) -> None:
    """author and year from the entry; the `annotation` field quoted below a marker to rewrite."""
    use_bib(project_copy, ZOTERO)
    code, out, err = run_cli("--root", str(project_copy), "new-note", "mill1859liberty")
    assert (code, out, err) == (0, "wrote bib/notes/mill1859liberty.md\n", "")
    text = (project_copy / "bib/notes/mill1859liberty.md").read_text()
    assert "author: Mill, John Stuart\nyear: 1859\n" in text
    assert text.split("---\n")[2] == (
        "TODO: the annotation, 80-200 words in your own words: what the work is, what it argues, and how the "
        "compared works use it. A starting point, from the entry's `annotation` field (rewrite it: it is not yet "
        "your annotation):\n\n> Read for the harm principle in chapter 1; compare with Hobbes on the liberty of "
        "subjects.\n"
    )
    problems = Problems(project_copy)
    note = load_note(project_copy / "bib/notes/mill1859liberty.md", load_project(project_copy), problems)
    assert note is not None and [p.code for p in problems] == []


def test_new_note_falls_back_to_the_abstract_and_never_overwrites(project_copy: Path, run_cli: Run) -> None:
    """Without `annotation`/`annote`, the `abstract` is the starting point; a second run leaves the note alone."""
    use_bib(project_copy, ZOTERO)
    run_cli("--root", str(project_copy), "new-note", "hardin1968tragedy")
    path = project_copy / "bib/notes/hardin1968tragedy.md"
    assert "from the entry's `abstract` field" in path.read_text()
    assert "> The population problem has no technical solution" in path.read_text()
    path.write_text(path.read_text() + "my own words\n")
    before = path.read_text()
    code, _, err = run_cli("--root", str(project_copy), "new-note", "hardin1968tragedy")
    assert code == 1 and "never overwrites" in err
    assert path.read_text() == before


def test_import_notes_from_zotero(project_copy: Path, run_cli: Run) -> None:
    """Every entry without a note gets one; existing notes are skipped and untouched."""
    use_bib(project_copy, ZOTERO)
    (project_copy / "bib/notes/mill1859liberty.md").write_text("mine\n")
    code, out, err = run_cli("--root", str(project_copy), "import-notes", str(ZOTERO))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "created bib/notes/hardin1968tragedy.md",
        "created bib/notes/hobbes1651leviathan.md",
        "skipped mill1859liberty: the note exists",
        "2 note(s) created, 1 skipped",
    ]
    assert (project_copy / "bib/notes/mill1859liberty.md").read_text() == "mine\n"
    assert "year: 1968" in (project_copy / "bib/notes/hardin1968tragedy.md").read_text()


def test_import_notes_from_jabref_twice(project_copy: Path, run_cli: Run) -> None:
    """A real JabRef export: one note per entry, each loading cleanly; a second run creates nothing."""
    use_bib(project_copy, JABREF)
    for stale in (project_copy / "bib/notes").glob("*.md"):
        stale.unlink()
    code, out, err = run_cli("--root", str(project_copy), "import-notes", str(JABREF))
    assert (code, err) == (0, "")
    # 9 entries; the 4 @comment blocks are JabRef's metadata.
    assert out.splitlines()[-1] == "9 note(s) created, 0 skipped"
    project = load_project(project_copy)
    for path in sorted((project_copy / "bib/notes").glob("*.md")):
        problems = Problems(project_copy)
        assert load_note(path, project, problems) is not None
        assert [p.code for p in problems] == [], path.name
    arrow = (project_copy / "bib/notes/arrow63.md").read_text()
    assert "author: Arrow, K. J.\nyear: 1963\n" in arrow
    code, out, _ = run_cli("--root", str(project_copy), "import-notes", str(JABREF))
    assert (code, out.splitlines()[-1]) == (0, "0 note(s) created, 9 skipped")


def test_import_notes_names_a_missing_file(project_copy: Path, run_cli: Run) -> None:
    code, out, err = run_cli("--root", str(project_copy), "import-notes", "nosuch.bib")
    assert (code, out) == (1, "")
    assert err == "nosuch.bib: error import-notes: no such file\n    hint: name a .bib export\n"


def test_new_note_for_an_undated_entry_is_a_valid_note(project_copy: Path, run_cli: Run) -> None:
    """An entry without a year gets ``year: n.d.`` (as the reference list prints it), not an invalid empty year."""
    bib = project_copy / "bib/references.bib"
    entry = "\n@misc{undated2024x,\n  author = {Roe, Jane},\n  title = {An undated leaflet},\n}\n"
    bib.write_text(bib.read_text() + entry)
    code, _, err = run_cli("--root", str(project_copy), "new-note", "undated2024x")
    assert code == 0, err
    text = (project_copy / "bib/notes/undated2024x.md").read_text()
    assert "year: n.d.\n" in text
    problems = Problems(project_copy)
    note = load_note(project_copy / "bib/notes/undated2024x.md", load_project(project_copy), problems)
    assert note is not None and [p.code for p in problems] == []
