"""notes: YAML front matter validated against docs/note-schema.md, with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from scholarly_build.core.problems import Problems
from scholarly_build.inputs.notes import Claim, Quotation, Use, load_note, load_notes, split_front_matter
from scholarly_build.inputs.project import Project, load_project

from .conftest import MINI

BASE = """\
---
key: gamma1999
metadata: complete
themes: [regime]
summary: "S."
uses: {}
---
Body text.
"""


@pytest.fixture(scope="module")
def project() -> Project:
    """The mini fixture's settings: works alpha2018, beta2016; themes regime, russia."""
    return load_project(MINI)


def load(tmp_path: Path, project: Project, text: str, name: str = "gamma1999"):
    path = tmp_path / "notes" / f"{name}.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    problems = Problems(tmp_path)
    note = load_note(path, project, problems)
    return note, [p.format().split("\n")[0] for p in problems]


F = "notes/gamma1999.md"

# (id, note text, file stem, expected problem lines, whether a Note is still returned)
CASES = [
    ("tab-indent", BASE.replace("uses: {}", "uses:\n\talpha2018: []"), "gamma1999",
     [f"{F}:7: error note-schema: malformed YAML front matter: "
      "a tab character is used for indentation (YAML allows only spaces)"], False),
    ("duplicate-key", BASE.replace("uses: {}", "uses: {}\nsummary: again"), "gamma1999",
     [f"{F}:7: error note-schema: malformed YAML front matter: duplicate key 'summary'"], False),
    ("not-a-mapping", "---\n- a\n- b\n---\nBody.\n", "gamma1999",
     [f"{F}:2: error note-schema: front matter must be a mapping of fields"], False),
    ("no-front-matter", "Just a body.\n", "gamma1999",
     [f"{F}:1: error note-schema: note has no YAML front matter between two `---` lines"], False),
    ("unclosed-front-matter", "---\nkey: gamma1999\nBody.\n", "gamma1999",
     [f"{F}:1: error note-schema: note has no YAML front matter between two `---` lines"], False),
    ("empty-file", "", "gamma1999",
     [f"{F}:1: error note-schema: note is empty"], False),
    ("unknown-field", BASE.replace("uses: {}", "uses: {}\npages: 3"), "gamma1999",
     [f"{F}:7: error note-schema: unknown field 'pages'"], True),
    ("missing-required", BASE.replace('summary: "S."\n', ""), "gamma1999",
     [f"{F}:2: error note-schema: missing required field 'summary'"], False),
    ("wrong-type", BASE.replace("themes: [regime]", "themes: regime"), "gamma1999",
     [f"{F}:4: error note-schema: field 'themes' must be a list of theme ids, not str"], False),
    ("bool-is-not-a-string", BASE.replace('summary: "S."', "summary: yes"), "gamma1999",
     [f"{F}:5: error note-schema: field 'summary' must be a string, not bool"], False),
    ("bool-is-not-a-year", BASE.replace("uses: {}", "uses: {}\nyear: true"), "gamma1999",
     [f"{F}:7: error note-schema: field 'year' must be a year, not bool"], False),
    ("bad-metadata", BASE.replace("metadata: complete", "metadata: guessed"), "gamma1999",
     [f"{F}:3: error note-schema: metadata must be one of complete, reconstructed, from-source-text, "
      "not 'guessed'"], True),
    ("bad-locator", BASE.replace("uses: {}", 'uses:\n  alpha2018:\n    - locator: "page 3"\n      how: "x"'),
     "gamma1999", [f"{F}:8: error note-schema: bad locator 'page 3'"], True),
    ("claim-bad-locator", BASE.replace("uses: {}", 'uses: {}\nclaims:\n  - claim: c\n    locator: "3"'),
     "gamma1999", [f"{F}:9: error note-schema: bad locator '3'"], True),
    ("use-missing-how", BASE.replace("uses: {}", 'uses:\n  alpha2018:\n    - locator: "p. 3"'), "gamma1999",
     [f"{F}:8: error note-schema: use is missing 'how'"], True),
    ("claim-unknown-field",
     BASE.replace("uses: {}", 'uses: {}\nclaims:\n  - claim: c\n    locator: "p. 1"\n    page: 3'), "gamma1999",
     [f"{F}:10: error note-schema: unknown field 'page' in claim"], True),
    ("claim-locator-not-string", BASE.replace("uses: {}", "uses: {}\nclaims:\n  - claim: c\n    locator: 12"),
     "gamma1999", [f"{F}:9: error note-schema: claim field 'locator' must be a string"], True),
    ("key-file-mismatch", BASE, "other",
     ["notes/other.md:2: error note-schema: key 'gamma1999' does not match the file name 'other.md'"], True),
    ("unknown-theme", BASE.replace("themes: [regime]", "themes:\n  - regime\n  - bogus"), "gamma1999",
     [f"{F}:6: error unknown-theme: theme 'bogus' is not declared in manuscript/paper.yaml"], True),
    ("unknown-claim-theme",
     BASE.replace("uses: {}", 'uses: {}\nclaims:\n  - claim: c\n    locator: "p. 1"\n    theme: nope'), "gamma1999",
     [f"{F}:10: error unknown-theme: claim theme 'nope' is not declared in manuscript/paper.yaml"], True),
    ("quote-without-locator",
     BASE.replace("uses: {}", 'uses: {}\nquotations:\n  - text: "q"\n    via: alpha2018'), "gamma1999",
     [f"{F}:8: error quote-without-locator: quotation has neither `locator` nor `via_locator`"], True),
    ("uses-names-a-non-work",
     BASE.replace("uses: {}", 'uses:\n  gamma1999:\n    - locator: "p. 3"\n      how: "x"'), "gamma1999",
     [f"{F}:7: error note-schema: `uses` names 'gamma1999', which is not a compared work"], True),
    ("via-names-a-non-work",
     BASE.replace("uses: {}", 'uses: {}\nquotations:\n  - text: "q"\n    via: gamma1999\n    via_locator: "p. 3"'),
     "gamma1999", [f"{F}:9: error note-schema: `via` names 'gamma1999', which is not a compared work"], True),
]


@pytest.mark.parametrize(("text", "name", "expected", "loads"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_schema_violation_is_located(tmp_path: Path, project: Project, text: str, name: str,
                                     expected: list[str], loads: bool) -> None:
    """Each schema violation gives exactly one problem, with its code and the offending line."""
    _, problems = load(tmp_path, project, text, name)
    assert problems == expected


@pytest.mark.parametrize(("text", "name", "expected", "loads"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_unusable_notes_are_dropped(tmp_path: Path, project: Project, text: str, name: str,
                                    expected: list[str], loads: bool) -> None:
    """Notes whose structure is unusable return None; lesser faults still return the note."""
    note, _ = load(tmp_path, project, text, name)
    assert (note is not None) == loads


UNCLOSED = BASE.replace('summary: "S."', 'summary: "S.')


def test_unclosed_quote_is_reported_on_its_line(tmp_path: Path, project: Project) -> None:
    """An unclosed quote is one `note-schema` error at the line whose quote never closes; the note is dropped."""
    note, problems = load(tmp_path, project, UNCLOSED)
    assert note is None
    assert problems == [f"{F}:5: error note-schema: malformed YAML front matter: "
      "a quoted value starts on this line and is not closed"]


def test_valid_note_loads_with_uses_and_quotations(tmp_path: Path, project: Project) -> None:
    """The fixture's gamma1999 note loads with its uses, quotations and lines."""
    note, problems = load(tmp_path, project, (MINI / "bib/notes/gamma1999.md").read_text())
    assert problems == []
    assert note is not None
    assert (note.key, note.metadata, note.themes, note.author, note.year) == (
        "gamma1999", "complete", ["regime"], "Gamma, Gail", "1999")
    assert note.uses == [Use("alpha2018", "sec. Regimes", "Supplies the personalist category.", 10)]
    assert note.quotations == [Quotation("informal and often quite unstable personal networks", "p. 133",
                                         "alpha2018", "sec. Regimes", 13)]
    assert (note.body_line, note.body.endswith("ANNOTATION-gamma1999")) == (18, True)


def test_valid_note_loads_with_claims(tmp_path: Path, project: Project) -> None:
    """The fixture's alpha2018 note loads its claim with theme, stance and line."""
    note, problems = load(tmp_path, project, (MINI / "bib/notes/alpha2018.md").read_text(), "alpha2018")
    assert problems == []
    assert note is not None
    assert note.claims == [Claim("The regime is personalist.", "sec. Regimes", "regime",
                                 "Personalist regime (alpha2018)", 8)]
    assert note.uses_by("alpha2018") == []


def test_note_lines_are_file_lines(tmp_path: Path, project: Project) -> None:
    """`Note.lines` maps each field to its line in the file (front matter starts on line 2)."""
    note, _ = load(tmp_path, project, BASE)
    assert note is not None
    assert note.lines == {"key": 2, "metadata": 3, "themes": 4, "summary": 5, "uses": 6}


def test_annotation_word_count(tmp_path: Path, project: Project) -> None:
    """The annotation's word count counts the body only."""
    note, _ = load(tmp_path, project, BASE.replace("Body text.", "One two three, four-five."))
    assert note is not None
    assert note.annotation_words == 5


def test_crlf_note_loads(tmp_path: Path, project: Project) -> None:
    """A note saved with CRLF line endings loads like the LF one."""
    note, problems = load(tmp_path, project, BASE.replace("\n", "\r\n"))
    assert (problems, note is not None, note and note.body_line) == ([], True, 8)


def test_split_front_matter_accepts_dots_terminator() -> None:
    """A front matter block may end with `...` as in YAML."""
    assert split_front_matter("---\na: 1\n...\nbody\n") == ("a: 1\n", "body\n", 4)


def test_load_notes_keys_by_file_stem(project_copy: Path) -> None:
    """load_notes returns every note of a project keyed by file name."""
    project = load_project(project_copy)
    problems = Problems(project.root)
    notes = load_notes(project, problems)
    assert (sorted(notes), list(problems)) == (["alpha2018", "beta2016", "gamma1999"], [])


def _symlinked_note(project_copy: Path, tmp_path: Path) -> tuple[dict[str, object], list[str]]:
    outside = tmp_path / "outside.md"
    outside.write_text(BASE.replace("gamma1999", "delta2000"))
    (project_copy / "bib/notes/delta2000.md").symlink_to(outside)
    project = load_project(project_copy)
    problems = Problems(project.root)
    notes = load_notes(project, problems)
    return dict(notes), [p.format().split("\n")[0] for p in problems]


def test_note_symlinked_outside_project_is_refused(project_copy: Path, tmp_path: Path) -> None:
    """A note that is a symlink to a file outside the project is `unsafe-path`, named by its own path, not loaded."""
    notes, problems = _symlinked_note(project_copy, tmp_path)
    assert sorted(notes) == ["alpha2018", "beta2016", "gamma1999"]
    assert problems == [
        "bib/notes/delta2000.md:1: error unsafe-path: note is a symlink that points outside the project"]


def test_provenance_is_kept_apart_from_the_annotation(tmp_path: Path, project: Project) -> None:
    """`provenance` is optional, stripped, and not counted as annotation words."""
    text = BASE.replace("uses: {}\n", "uses: {}\nprovenance: >-\n  Title from the\n  catalogue.\n")
    note, problems = load(tmp_path, project, text)
    assert (problems, note and note.provenance, note and note.annotation_words) == (
        [],
        "Title from the catalogue.",
        2,
    )
    bare, _ = load(tmp_path, project, BASE)
    assert bare is not None and bare.provenance is None


def test_provenance_must_be_a_string(tmp_path: Path, project: Project) -> None:
    """A non-string `provenance` is a schema error on its line."""
    _, problems = load(tmp_path, project, BASE.replace("uses: {}\n", "uses: {}\nprovenance: [a, b]\n"))
    assert any("note-schema" in p and "provenance" in p for p in problems), problems
