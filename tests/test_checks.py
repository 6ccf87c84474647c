"""checks: one small project per problem code, asserting code, file, line and message.

Every case starts from the clean project below (no problems at all) and changes one
thing; the test asserts the complete list of problems, so spurious ones fail too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scholarly_build.building.pipeline import check_project, load_and_check
from scholarly_build.checks import rules as checks
from scholarly_build.core.problems import Problem, Problems
from scholarly_build.inputs.bibliography import load_bibliography
from scholarly_build.inputs.project import load_project

from .conftest import write_tree

SETTINGS = """\
title: "Checks"
works:
  - key: alpha2018
    label: "Alpha (2018)"
themes:
  - id: regime
    label: "Regime type"
sections:
  - intro.md
annotation_min_words: 5
annotation_max_words: 40
"""

BIB = """\
@book{alpha2018,
  author    = {Alpha, Ann},
  title     = {Regimes Compared},
  publisher = {Institute},
  date      = {2018},
}

@article{gamma1999,
  author       = {Gamma, Gail},
  title        = {What Do We Know?},
  journaltitle = {Annual Review of Examples},
  pages        = {115--144},
  date         = {1999},
}
"""

INTRO = "# Intro\n\nAlpha argues [@alpha2018, sec. 2] and Gamma agrees [@gamma1999, p. 120].\n"
BODY = "A short annotation of more than five words here."


def note(key: str, extra: str = "", body: str = BODY) -> str:
    return f'---\nkey: {key}\nmetadata: complete\nthemes: [regime]\nsummary: "S."\nuses: {{}}\n{extra}---\n{body}\n'


GAMMA_NOTE = note("gamma1999", 'author: "Gamma, Gail"\nyear: 1999\n')
# Line numbers in GAMMA_NOTE: 2 key, 7 author, 8 year, 10 body.

BASE = {
    "manuscript/paper.yaml": SETTINGS,
    "manuscript/sections/intro.md": INTRO,
    "bib/references.bib": BIB,
    "bib/notes/alpha2018.md": note("alpha2018"),
    "bib/notes/gamma1999.md": GAMMA_NOTE,
}

REFS = "bib/references.bib"
INTRO_MD = "manuscript/sections/intro.md"
GAMMA = "bib/notes/gamma1999.md"

Edit = str | tuple[str, str] | None  # new text | (old, new) replacement ("" old: append) | None: delete


def make(root: Path, edits: dict[str, Edit]) -> Path:
    files: dict[str, str | bytes] = dict(BASE)
    for rel, edit in edits.items():
        if edit is None:
            files.pop(rel)
        elif isinstance(edit, tuple):
            old, new = edit
            text = str(files[rel])
            assert old in text, f"{old!r} not in {rel}"
            files[rel] = text + new if old == "" else text.replace(old, new, 1)
        else:
            files[rel] = edit
    return write_tree(root, files)


def run_checks(root: Path) -> list[Problem]:
    problems = Problems(root)
    check_project(load_project(root), problems)
    return list(problems)


def test_base_project_is_clean(tmp_path: Path) -> None:
    """The starting project has no problem at all (so every case isolates one change)."""
    assert run_checks(make(tmp_path, {})) == []


# (id, edits, [(code, file, line, substring of the formatted problem)])
CASES: list[tuple[str, dict[str, Edit], list[tuple[str, str, int, str]]]] = [
    ("undefined-citation", {INTRO_MD: ("[@gamma1999, p. 120]", "[@gama1999, p. 120]")},
     [("undefined-citation", INTRO_MD, 3, "3:53: error undefined-citation: citation key 'gama1999' is not in any "
       ".bib file\n    hint: did you mean 'gamma1999'?")]),
    ("unused-entry",
     {REFS: ("", "\n@book{delta2000,\n  author = {Delta, Dan},\n  title = {D},\n  date = {2000},\n}\n")},
     [("missing-note", REFS, 16, "error missing-note: entry 'delta2000' has no note"),
      ("unused-entry", REFS, 16,
       "warning unused-entry: entry 'delta2000' is never cited nor listed in the annotated bibliography")]),
    ("missing-note", {GAMMA: None},
     [("missing-note", REFS, 8, "entry 'gamma1999' has no note\n    hint: run `invoke new-note gamma1999`")]),
    ("orphan-note", {"bib/notes/gama1999.md": note("gama1999")},
     [("orphan-note", "bib/notes/gama1999.md", 1,
       "error orphan-note: note 'gama1999' has no entry in the bibliography\n    hint: did you mean 'gamma1999'?")]),
    ("empty-annotation", {GAMMA: (BODY, "")},
     [("empty-annotation", GAMMA, 10, "error empty-annotation: the annotation of 'gamma1999' is empty")]),
    ("short-annotation", {GAMMA: (BODY, "Too short.")},
     [("empty-annotation", GAMMA, 10,
       "the annotation of 'gamma1999' is too short (2 words; at least 5)")]),
    ("long-annotation", {GAMMA: (BODY, " ".join(["word"] * 41))},
     [("long-annotation", GAMMA, 10,
       "warning long-annotation: the annotation of 'gamma1999' has 41 words (at most 40)")]),
    ("duplicate-key",
     {REFS: ("", "\n@book{ALPHA2018,\n  author = {Alpha, Ann},\n  title = {Other},\n  date = {2019},\n}\n")},
     [("duplicate-key", REFS, 16,
       "key 'ALPHA2018' is defined twice (first as 'alpha2018' at line 1); BibTeX compares keys case-insensitively")]),
    ("duplicate-work-doi",
     {REFS: BIB.replace("  date      = {2018},\n", "  date      = {2018},\n  doi = {10.1000/xyz},\n")
      .replace("  date         = {1999},\n", "  date         = {1999},\n  doi = {10.1000/XYZ},\n")},
     [("duplicate-work", REFS, 15, "warning duplicate-work: 'gamma1999' has the same DOI as 'alpha2018' (line 1)")]),
    ("duplicate-work-title-year-author",
     {REFS: ("", "\n@book{alpha2018b,\n  author = {Alpha, A.},\n  title = {Regimes compared!},\n  date = {2018},\n}\n"),
      "bib/notes/alpha2018b.md": note("alpha2018b")},
     [("duplicate-work", REFS, 16, "warning duplicate-work: 'alpha2018b' looks like the same work as 'alpha2018' "
       "(line 1): same title, year and first author")]),
    ("bib-syntax", {REFS: ("", "\n@book{broken,\n  title = {Open {brace},\n}\n")},
     [("bib-syntax", REFS, 17, "17:3: error bib-syntax: entry 'broken' (line 16) is not closed before the next "
       "entry; the braces of field 'title' may be unbalanced")]),
    ("duplicate-field", {REFS: ("  pages        = {115--144},\n", "  pages        = {115--144},\n  pages = {1--2},\n")},
     [("duplicate-field", REFS, 13, "error duplicate-field: field 'pages' is given twice in entry 'gamma1999'")]),
    ("undefined-macro", {REFS: ("publisher = {Institute}", "publisher = inst")},
     [("undefined-macro", REFS, 4, "error undefined-macro: @string macro 'inst' is used but never defined")]),
    ("missing-field", {REFS: ("  journaltitle = {Annual Review of Examples},\n", "")},
     [("missing-field", REFS, 8, "warning missing-field: @article 'gamma1999' lacks `journaltitle` or `journal`")]),
    ("missing-field-online-without-url",
     {REFS: ("", "\n@online{web2024,\n  title = {A page},\n  urldate = {2024-01-01},\n}\n"),
      "bib/notes/web2024.md": note("web2024")},
     [("missing-field", REFS, 16, "warning missing-field: @online 'web2024' lacks `url` or `doi` or `eprint`")]),
    ("bad-year", {REFS: ("  date      = {2018},", "  year      = {c. 2018},")},
     [("bad-year", REFS, 5, "warning bad-year: year 'c. 2018' is not a four-digit year")]),
    ("bad-date", {REFS: ("  date      = {2018},", "  date      = {2018/13},")},
     [("bad-year", REFS, 5, "warning bad-year: date '2018/13' is not an ISO date")]),
    ("bad-pages", {REFS: ("{115--144}", "{pp. 115 to 144}")},
     [("bad-pages", REFS, 12, "warning bad-pages: pages 'pp. 115 to 144' should read like 12--34")]),
    ("bad-doi", {REFS: ("  date      = {2018},\n", "  date      = {2018},\n  doi = {abc},\n")},
     [("bad-doi", REFS, 6, "warning bad-doi: DOI 'abc' does not start with `10.`")]),
    ("bad-doi-resolver-prefix",
     {REFS: ("  date      = {2018},\n", "  date      = {2018},\n  doi = {https://doi.org/10.1000/xyz},\n")},
     [("bad-doi", REFS, 6, "DOI 'https://doi.org/10.1000/xyz' should be given without a resolver prefix\n"
       "    hint: write doi = {10.1000/xyz}")]),
    ("bad-url", {REFS: ("  date      = {2018},\n", "  date      = {2018},\n  url = {www.example.org},\n")},
     [("bad-url", REFS, 6, "warning bad-url: URL 'www.example.org' is not an absolute http(s) address")]),
    ("locator-out-of-range-manuscript", {INTRO_MD: ("p. 120", "pp. 140-150")},
     [("locator-out-of-range", INTRO_MD, 3,
       "error locator-out-of-range: page 140-150 lies outside 'gamma1999''s pages 115--144")]),
    ("locator-out-of-range-note-claim",
     {GAMMA: ("year: 1999\n", 'year: 1999\nclaims:\n  - claim: "Something."\n    locator: "p. 200"\n')},
     [("locator-out-of-range", GAMMA, 10,
       "error locator-out-of-range: page 200 lies outside 'gamma1999''s pages 115--144")]),
    ("quote-without-locator-manuscript",
     {INTRO_MD: ("Gamma agrees [@gamma1999, p. 120]", "Gamma says “it is so, and it always was” [@gamma1999]")},
     [("quote-without-locator", INTRO_MD, 3,
       "warning quote-without-locator: a quoted passage is cited to 'gamma1999' without a locator")]),
    ("quote-without-locator-note",
     {GAMMA: ("year: 1999\n", 'year: 1999\nquotations:\n  - text: "It is so."\n')},
     [("quote-without-locator", GAMMA, 10,
       "error quote-without-locator: quotation has neither `locator` nor `via_locator`")]),
    ("note-schema", {GAMMA: ('summary: "S."', "summary: [not, a, string]")},
     # the unusable note is dropped, so its entry has no note either
     [("note-schema", GAMMA, 5, "error note-schema: field 'summary' must be a string, not list"),
      ("missing-note", REFS, 8, "error missing-note: entry 'gamma1999' has no note")]),
    ("unknown-theme", {GAMMA: ("themes: [regime]", "themes: [regime, economy]")},
     [("unknown-theme", GAMMA, 4, "error unknown-theme: theme 'economy' is not declared in manuscript/paper.yaml")]),
    ("note-entry-mismatch-year", {GAMMA: ("year: 1999", "year: 1998")},
     [("note-entry-mismatch", GAMMA, 8, "warning note-entry-mismatch: note says year 1998, the .bib entry says 1999")]),
    ("note-entry-mismatch-author", {GAMMA: ('author: "Gamma, Gail"', 'author: "Gama, Gail"')},
     [("note-entry-mismatch", GAMMA, 7,
       "warning note-entry-mismatch: note names author(s) 'Gama, Gail', the .bib entry has 'Gamma'")]),
    ("unknown-type", {REFS: ("@book{alpha2018,", "@weird{alpha2018,")},
     [("unknown-type", REFS, 1, "warning unknown-type: unknown entry type @weird for 'alpha2018'")]),
]


@pytest.mark.parametrize(("edits", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_problem_code_is_reported(tmp_path: Path, edits: dict[str, Edit],
                                  expected: list[tuple[str, str, int, str]]) -> None:
    """The change gives exactly the expected problems, each with code, file, line and message."""
    found = run_checks(make(tmp_path, edits))
    assert [(p.code, p.file, p.line) for p in found] == [e[:3] for e in expected]
    for problem, (*_, text) in zip(found, expected, strict=True):
        assert text in problem.format()


# --- entries that must NOT produce problems ----------------------------------------

CLEAN = [
    ("crossref-inherits-booktitle-and-date",
     {REFS: ("", "\n@book{parent2000,\n  author = {Parent, Pat},\n  title = {Parent Book},\n  date = {2000},\n}\n"
                 "\n@inbook{child2000,\n  author = {Child, Chris},\n  title = {Chapter},\n"
                 "  crossref = {parent2000},\n}\n"),
      "bib/notes/parent2000.md": note("parent2000"), "bib/notes/child2000.md": note("child2000")}),
    ("online-with-urldate-only",
     {REFS: ("", "\n@online{web2024,\n  title = {A page},\n  url = {https://example.org/},\n"
                 "  urldate = {2024-01-01},\n}\n"),
      "bib/notes/web2024.md": note("web2024")}),
    ("valid-isbn-13", {REFS: ("  date      = {2018},\n", "  date      = {2018},\n  isbn = {978-0-306-40615-7},\n")}),
    ("valid-isbn-10", {REFS: ("  date      = {2018},\n", "  date      = {2018},\n  isbn = {0-306-40615-2},\n")}),
    ("valid-doi-and-url",
     {REFS: ("  date      = {2018},\n", "  date      = {2018},\n  doi = {10.1000/xyz},\n  url = {https://example.org/a},\n")}),
    ("quotation-located-in-note",
     {GAMMA: ("year: 1999\n", 'year: 1999\nquotations:\n  - text: "It is so."\n    locator: "p. 120"\n')}),
    ("crossref-citation-is-not-checked", {INTRO_MD: ("", "\nSee @fig:none and @tbl:none.\n")}),
]


@pytest.mark.parametrize("edits", [c[1] for c in CLEAN], ids=[c[0] for c in CLEAN])
def test_no_problem(tmp_path: Path, edits: dict[str, Edit]) -> None:
    """Correct data gives no problem."""
    assert run_checks(make(tmp_path, edits)) == []


def test_crossref_without_parent_still_lacks_fields(tmp_path: Path) -> None:
    """Without a crossref parent an @inbook lacks `booktitle` and a date (the control for inheritance)."""
    found = run_checks(make(tmp_path, {
        REFS: ("", "\n@inbook{child2000,\n  author = {Child, Chris},\n  title = {Chapter},\n}\n"),
        "bib/notes/child2000.md": note("child2000")}))
    assert [p.message for p in found] == ["@inbook 'child2000' lacks `booktitle`",
                                          "@inbook 'child2000' lacks `date` or `year`"]


def test_invalid_isbn_13_check_digit(tmp_path: Path) -> None:
    """978-0-306-40615-8 has a wrong check digit: `bad-isbn` at the isbn line."""
    found = run_checks(make(tmp_path, {REFS: ("  date      = {2018},\n",
                                             "  date      = {2018},\n  isbn = {978-0-306-40615-8},\n")}))
    assert [(p.code, p.line, p.message) for p in found] == [
        ("bad-isbn", 6, "ISBN '978-0-306-40615-8' has a wrong check digit or length")]


@pytest.mark.parametrize(
    ("isbn", "valid"),
    [("978-0-306-40615-7", True), ("978-0-306-40615-8", False), ("0-306-40615-2", True), ("0-306-40615-3", False),
     ("0-8044-2957-X", True), ("978-0-306-4061", False), ("9780306406157", True)],
)
def test_isbn_check_digits(isbn: str, valid: bool) -> None:
    """ISBN-10 (mod 11, X = 10) and ISBN-13 (weights 1, 3) check digits."""
    assert checks.isbn_valid(isbn) is valid


def test_standalone_check_reports_unused_entry(tmp_path: Path) -> None:
    """Without notes (standalone check) an uncited entry is only `unused-entry`."""
    write_tree(tmp_path, {"refs.bib": BIB, "paper.md": "See @alpha2018.\n"})
    problems = Problems(tmp_path)
    inputs = load_and_check(bib_paths=[tmp_path / "refs.bib"], manuscripts=[tmp_path / "paper.md"], notes_dir=None,
                            project=None, problems=problems, cache_dir=None)
    assert [p.format().split("\n")[0] for p in problems] == [
        "refs.bib:8: warning unused-entry: entry 'gamma1999' is never cited nor listed in the annotated bibliography"]
    assert [c.key for c in inputs.citations] == ["alpha2018"]


def test_brace_protected_author_matches_itself(tmp_path: Path) -> None:
    """A note naming the corporate author exactly as the .bib does is not a mismatch."""
    found = run_checks(make(tmp_path, {
        REFS: ("author       = {Gamma, Gail}", "author       = {{World Bank}}"),
        GAMMA: ('author: "Gamma, Gail"', 'author: "{World Bank}"')}))
    assert found == []


def test_check_entries_on_bibliography_alone(tmp_path: Path) -> None:
    """check_entries works on a loaded bibliography without notes or manuscript."""
    (tmp_path / "refs.bib").write_text("@misc{m,\n  title = {T},\n}\n")
    problems = Problems(tmp_path)
    checks.check_entries(load_bibliography([tmp_path / "refs.bib"], problems), problems)
    assert [p.format().split("\n")[0] for p in problems] == [
        "refs.bib:1: warning missing-field: @misc 'm' lacks `date` or `year`"]
