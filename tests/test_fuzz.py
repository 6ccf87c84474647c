"""Property tests (hypothesis): the three parsers of untrusted input never crash.

Over the note loader, the BibTeX loader and the citation finder, fed random and mutated inputs, no
exception may escape other than what the engine reports as a problem: ``BuildFailed``, and for the
citation finder also ``PandocError``/``RuntimeError``, which ``pipeline.scan_citations`` turns into a
``parse`` problem. Examples are derandomized, so a run is reproducible; ``scripts/fuzz.py`` runs a
longer random campaign.

The crash classes the fuzzing found are pinned by the strict-xfail regression tests at the end of this
file; the properties tolerate exactly those (``known_bug``), so that they keep guarding against new ones.
When a bug is fixed, its regression test XPASSes: remove its xfail and its entry in ``known_bug``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scholarly_build.checks.citations import find_citations
from scholarly_build.core.pandoc import PandocError
from scholarly_build.core.problems import BuildFailed, Problems
from scholarly_build.inputs.bibliography import load_bibliography
from scholarly_build.inputs.notes import load_note
from scholarly_build.inputs.project import load_project

from .conftest import MINI

PROJECT = load_project(MINI)
NOTE_SEEDS = [p.read_bytes() for p in sorted((MINI / "bib/notes").glob("*.md"))]
BIB_SEEDS = [(MINI / "bib/references.bib").read_bytes()]
MD_SEEDS = [p.read_bytes() for p in sorted((MINI / "manuscript/sections").glob("*.md"))]
PREFIXES = ("fig:", "tbl:", "eq:", "sec:")

NOTE_TOKENS = [b"---", b"\t", b": ", b"- ", b"[", b"]", b"{", b"}", b'"', b"'", b"&a ", b"*a", b"!!str ", b"null",
               b"~", b"? ", b"|\n", b"#", b"\xef\xbb\xbf", b"\xff", b"\x00", b"\r\n", b"\n", b"  ", b"\xc3\xa9"]
NOTE_VALUES = [b"null", b"", b"[]", b"{}", b"{a: 1}", b"[a, b]", b"12", b"yes", b"!!binary zz", b"'open",
               b'"open', b"- a", b".nan", b"2001-13-01", b"1999-02-30", b"!!timestamp x", b"[" * 1000 + b"]" * 1000]
BIB_TOKENS = [b"@", b"@book{", b"@string{", b"@comment{", b"{", b"}", b"(", b")", b",", b"=", b'"', b"#", b"%",
              b"\\", b' and ', b"crossref = {a}", b"month = jan", b"{{", b"}}", b"\n", b"\xff", b"\x00", b"pub"]
BIB_VALUES = [b"{}", b'""', b"pub", b"pub # {x}", b"{" * 500 + b"}" * 500, b"{, , ,}", b"12a", b"", b'"{"',
              b"{\\}", b"jan"]
MD_TOKENS = ["@", "[@", "]", "[", "-@", "@{", "}", ";", ", p. ", ", n. ", ", sec. ", "`", "```\n", '"', "“", "”",
             "^[", "*", "_", "\n\n", "> ", "- ", "| a |\n", ":::", "{#", "<", ">", "\\", "$", "@fig:", "\t",
             "é", "a@b.org", "key", "smith2000", "p. 3", " "]


def known_bug(exc: BaseException) -> str | None:
    """The crash classes pinned by the xfail regressions below (None: a new crash)."""
    # All three crash classes the fuzzing found (null fields, impossible timestamps,
    # deep nesting) are fixed; their regression tests below now pass plainly.
    del exc
    return None


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes], tokens: list[bytes], values: list[bytes], sep: bytes) -> bytes:
    """A seed after up to 6 edits: deletions, tokens, junk bytes, duplicated lines, truncation, replaced values."""
    data = bytearray(draw(st.sampled_from(seeds)))
    edits = draw(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 1 << 16), st.sampled_from(tokens),
                                    st.binary(min_size=1, max_size=6), st.sampled_from(values), st.integers(1, 12)),
                          max_size=6))
    for op, at, token, junk, value, n in edits:
        pos = at % (len(data) + 1)
        lines = bytes(data).splitlines(keepends=True)
        if op == 0:
            del data[pos : pos + n]
        elif op == 1:
            data[pos:pos] = token
        elif op == 2:
            data[pos:pos] = junk
        elif op == 3 and lines:  # duplicate a block of lines (e.g. an entry, a field)
            i = at % len(lines)
            data = bytearray(b"".join(lines[: i + n] + lines[i : i + n] + lines[i + n :]))
        elif op == 4:
            del data[pos:]
        elif op == 5:  # rename: perturb the text after a `{`, `@` or `key: `
            data[pos:pos] = token[:1] + b"X"
        else:  # replace a `name: value` / `name = value` line's value
            candidates = [i for i, line in enumerate(lines) if sep in line]
            if candidates:
                i = candidates[at % len(candidates)]
                lines[i] = lines[i][: lines[i].index(sep) + len(sep)] + value + b"\n"
                data = bytearray(b"".join(lines))
    return bytes(data)


FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --- the note loader ---------------------------------------------------------------------------------


@settings(FUZZ, max_examples=400)
@given(data=st.one_of(mutated(NOTE_SEEDS, NOTE_TOKENS, NOTE_VALUES, b": "), st.binary(max_size=400),
                      st.text(max_size=300).map(lambda t: ("---\n" + t + "\n---\nBody.\n").encode())))
def test_note_loader_reports_and_never_crashes(work: Path, data: bytes) -> None:
    """load_note on any bytes returns a Note or None; each problem it reports has a code and a line."""
    path = work / "bib" / "notes" / "gamma1999.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    problems = Problems(work)
    try:
        load_note(path, PROJECT, problems)
    except BuildFailed:
        return
    except Exception as exc:
        if known_bug(exc) is None:
            raise
        return
    assert [p.format() for p in problems if p.line < 1 or p.file != "bib/notes/gamma1999.md"] == []


# --- the BibTeX loader -------------------------------------------------------------------------------


@settings(FUZZ, max_examples=300)
@given(data=st.one_of(mutated(BIB_SEEDS, BIB_TOKENS, BIB_VALUES, b"= "), st.binary(max_size=400),
                      st.lists(st.sampled_from([*BIB_TOKENS, b"a", b"title", b" "]), max_size=60).map(b"".join)))
def test_bib_loader_reports_and_never_crashes(work: Path, data: bytes) -> None:
    """load_bibliography on any bytes returns; problems have lines; every entry is located in the file."""
    path = work / "refs.bib"
    path.write_bytes(data)
    problems = Problems(work)
    try:
        bib = load_bibliography([path], problems)
    except BuildFailed:
        return
    assert [p.format() for p in problems if p.line < 1] == []
    lines = data.count(b"\n") + 1
    assert [(k, e.line) for k, e in bib.entries.items() if not 1 <= e.line <= lines] == []


# --- the citation finder (spawns pandoc per example) ------------------------------------------------


@settings(FUZZ, max_examples=50)
@given(text=st.one_of(
    mutated(MD_SEEDS, [t.encode() for t in MD_TOKENS], [b""], b"@").map(lambda b: b.decode("utf-8", "replace")),
    st.lists(st.sampled_from(MD_TOKENS), max_size=40).map("".join),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=200),
))
def test_citation_finder_never_crashes(text: str) -> None:
    """find_citations on any Markdown returns citations with keys and in-range lines, or a pandoc error."""
    try:
        found = find_citations(Path("section.md"), text, PREFIXES)
    except (PandocError, RuntimeError):
        return  # pipeline.scan_citations reports these as `parse` problems
    lines = text.count("\n") + 1
    assert [c for c in found if not c.key or not 0 <= c.line <= lines or c.column < 0] == []


# --- regressions: the crashes and misplaced locations the fuzzing found -------------------------------

BASE_NOTE = """\
---
key: gamma1999
metadata: complete
themes: [regime]
summary: "S."
uses:
  alpha2018:
    - locator: "p. 3"
      how: "x"
claims:
  - claim: "c"
    locator: "p. 1"
quotations:
  - text: "q"
    locator: "p. 2"
---
Body.
"""


def load_text(work: Path, text: str) -> list[str]:
    path = work / "bib" / "notes" / "gamma1999.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    problems = Problems(work)
    load_note(path, PROJECT, problems)
    return [p.format().split("\n")[0] for p in problems]


@pytest.mark.parametrize(("old", "new", "line"), [('      how: "x"', "      how:", 9),
                                                  ('  - claim: "c"', "  - claim: null", 11),
                                                  ('  - text: "q"', "  - text: ~", 14)],
                         ids=["use-how", "claim-claim", "quotation-text"])
def test_null_field_is_a_schema_error(work: Path, old: str, new: str, line: int) -> None:
    """`how:`, `claim: null` or `text: ~` is a located note-schema error."""
    problems = load_text(work, BASE_NOTE.replace(old, new))
    assert [p for p in problems if p.startswith(f"bib/notes/gamma1999.md:{line}: error note-schema: ")] != []


@pytest.mark.parametrize("value", ["1999-02-30", "2001-13-01", "!!timestamp x"])
def test_impossible_date_is_a_schema_error(work: Path, value: str) -> None:
    """A value that looks like a date but is none is a located error, not a crash."""
    problems = load_text(work, BASE_NOTE.replace("metadata: complete", f"metadata: complete\nyear: {value}"))
    assert [p for p in problems if p.startswith("bib/notes/gamma1999.md:4: error note-schema: ")] != []


def test_deeply_nested_yaml_is_a_schema_error(work: Path) -> None:
    """Absurdly deep nesting is a located error, not a crash."""
    problems = load_text(work, BASE_NOTE.replace("themes: [regime]", "themes: " + "[" * 1000 + "]" * 1000))
    assert [p for p in problems if p.startswith("bib/notes/gamma1999.md:") and "note-schema" in p] != []


@pytest.mark.parametrize(("text", "where"), [("As shown [-@nosuch2000].", (1, 11)),
                                             ("See @a-@nosuch2000.", (1, 8)),
                                             ("See @a@nosuch2000.", (1, 7))],
                         ids=["suppress-author", "after-hyphen", "after-key"])
def test_every_citation_is_located(text: str, where: tuple[int, int]) -> None:
    """Each citation pandoc finds gets the line and column of its `@`."""
    found = {c.key: (c.line, c.column) for c in find_citations(Path("s.md"), text, PREFIXES)}
    assert found["nosuch2000"] == where
