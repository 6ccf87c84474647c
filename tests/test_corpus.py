"""Differential oracles on real-world input (issue 12): tests/corpus/<item>/.

Each item is a real .bib (and for some a real pandoc Markdown manuscript) from a
public repository or TeX Live; SOURCE.md names its origin and licence. For each:

- `check --format json` runs without a traceback;
- the citation ids the check counts equal the ids in pandoc's own JSON AST;
- our undefined-citation keys equal pandoc --citeproc's "citation X not found";
- every key pybtex (lenient) reads is an entry of ours;
- a required field we call missing is one biber (`--tool --tool-resolve
  --validate-datamodel`) calls missing too; the reverse differences are listed
  in BIBER_ONLY with the reason for each;
- a broken entry is reported at its line and the entries after it survive.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pybtex.errors
import pytest
from pybtex.database.input.bibtex import Parser

from scholarly_build.checks.citations import find_citations
from scholarly_build.core.pandoc import READER, pandoc_path
from scholarly_build.core.problems import Problems
from scholarly_build.inputs.bibliography import load_bibliography

CORPUS = Path(__file__).parent / "corpus"
ITEMS = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
PREFIXES = ("fig:", "tbl:", "eq:", "sec:")


def bibs(item: Path) -> list[Path]:
    order = item / "order.txt"
    if order.is_file():
        return [item / line.strip() for line in order.read_text().splitlines() if line.strip()]
    return sorted(item.glob("*.bib"))


def manuscripts(item: Path) -> list[Path]:
    return sorted(p for p in [*item.glob("*.md"), *item.glob("*.Rmd")] if p.name != "SOURCE.md")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """`check --format json` once per item, in a copy (the cache goes to its build/)."""
    out: dict[str, dict[str, Any]] = {}
    for name in ITEMS:
        item = tmp_path_factory.mktemp(name) / name
        shutil.copytree(CORPUS / name, item)
        args = [sys.executable, "-m", "scholarly_build", "--root", str(item), "check", "--format", "json"]
        for bib in bibs(item):
            args += ["--bib", str(bib)]
        for md in manuscripts(item):
            args += ["--manuscript", str(md)]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        out[name] = {"stderr": proc.stderr, "stdout": proc.stdout, "rc": proc.returncode}
    return out


def problems_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    return list(json.loads(result["stdout"])["problems"])


@pytest.mark.parametrize("name", ITEMS)
def test_source_md_names_origin_and_licence(name: str) -> None:
    text = (CORPUS / name / "SOURCE.md").read_text()
    assert re.search(r"licen[cs]e", text, re.I) and ("repository" in text or "origin" in text)


def test_corpus_is_small_enough() -> None:
    assert sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file()) < 5 * 1024 * 1024


@pytest.mark.parametrize("name", ITEMS)
def test_no_traceback_and_valid_json(results: dict[str, dict[str, Any]], name: str) -> None:
    result = results[name]
    assert "Traceback" not in result["stderr"]
    data = json.loads(result["stdout"])
    assert set(data["summary"]) >= {"errors", "warnings", "entries", "citations"}


# --- citations against pandoc ---------------------------------------------------


def _pandoc_ids(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if node.get("t") == "Cite":
            found |= {c["citationId"] for c in node["c"][0]}
        for value in node.values():
            found |= _pandoc_ids(value)
    elif isinstance(node, list):
        for value in node:
            found |= _pandoc_ids(value)
    return found


MANUSCRIPT_ITEMS = [n for n in ITEMS if manuscripts(CORPUS / n)]


@pytest.mark.parametrize("name", MANUSCRIPT_ITEMS)
def test_citation_ids_equal_pandocs(name: str) -> None:
    """Every Cite in pandoc's AST, at any depth (metadata, suffixes, notes, captions, cells), is counted."""
    for md in manuscripts(CORPUS / name):
        text = md.read_text()
        ast = json.loads(
            subprocess.run(
                [pandoc_path(), "--from", READER, "--to", "json"],
                input=text,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        ours = {c.key for c in find_citations(md, text, PREFIXES)}
        assert ours == _pandoc_ids(ast), md.name
        for cite in find_citations(md, text, PREFIXES):
            assert cite.line > 0, (md.name, cite.key)


@pytest.mark.parametrize("name", MANUSCRIPT_ITEMS)
def test_undefined_keys_equal_pandoc_citeproc_warnings(results: dict[str, dict[str, Any]], name: str) -> None:
    item = CORPUS / name
    args = [pandoc_path(), "--from", READER, "--citeproc", "--to", "plain", "-o", "/dev/null"]
    for bib in bibs(item):
        args += ["--bibliography", str(bib)]
    proc = subprocess.run([*args, *map(str, manuscripts(item))], capture_output=True, text=True, check=False)
    theirs = set(re.findall(r"citation (\S+) not found", proc.stderr))
    theirs = {k for k in theirs if not k.startswith(PREFIXES)}  # pandoc-crossref labels, not citations
    ours = {p["key"] for p in problems_of(results[name]) if p["code"] == "undefined-citation"}
    assert ours == theirs


# --- entries against pybtex and biber ------------------------------------------------


@pytest.mark.parametrize("name", ITEMS)
def test_entry_keys_agree_with_pybtex(name: str) -> None:
    """Every key pybtex (lenient, macros carried across files) reads, we read too."""
    ours: set[str] = set()
    theirs: set[str] = set()
    macros: dict[str, str] = {}
    problems = Problems(CORPUS)
    bib = load_bibliography(bibs(CORPUS / name), problems)
    ours = {k.lower() for k in bib.entries}
    for path in bibs(CORPUS / name):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # reported as `encoding`; pybtex would read it only as Latin-1
        parser = Parser(macros=macros)
        with pybtex.errors.capture():
            try:
                data = parser.parse_string(text)
            except Exception:  # noqa: BLE001, S112 - a lenient parse that gives up reads nothing
                continue
        theirs |= {k.lower() for k in data.entries}
        macros = dict(parser.macros)
    assert theirs <= ours


# Where biber says a required field is missing and we do not, on purpose.
BIBER_ONLY: dict[str, set[tuple[str, str]]] = {
    # @book with `editor` but no `author`: plain.bst accepts the editor, and citeproc
    # prints the editors in the author's place; biber's data model wants `author`.
    "tl-biblatex-unified": {("lahiri:2000", "author"), ("webelhuth:1995", "author")},
    "tl-archaeologie": {
        ("Boehm2001", "author"),
        ("EAOR", "author"),
        *{(f"EAOR-0{i}", "author") for i in range(1, 8)},
    },
    # `crossref = {WHOLE-JOURNAL}` names `whole-journal`: BibTeX compares keys
    # case-insensitively, so `journal` and `year` are inherited; biber's lookup is
    # case-sensitive. `whole-collection` is an edited @book (as above).
    "tl-xampl": {
        ("article-crossref", "date"),
        ("article-crossref", "journaltitle"),
        ("article-crossref", "year"),
        ("whole-collection", "author"),
    },
    # @set takes its data from its members (`entryset`); biber --tool does not build sets.
    "tl-biblatex-examples": {("set", "date"), ("set", "year"), ("stdmodel", "date"), ("stdmodel", "year")},
    # Latin-1 file (reported as `encoding`, then read as Latin-1 by both). @WWW is the
    # old url-bib type, which we check as title + url only; biber aliases it to @online
    # and wants a date as well.
    "tl-jurabib-jbtest": {("jbtesturl", "date"), ("jbtesturl", "year")},
    # @FAKE-ENTRY is no type at all: we report `unknown-type` (biber treats it as @misc).
    "tl-btxdoc": {("fake-database-key", "date"), ("fake-database-key", "title"), ("fake-database-key", "year")},
}


def _biber_missing(paths: list[Path], tmp: Path) -> set[tuple[str, str]]:
    """biber's view of the item's files, concatenated in load order (@string files first)."""
    text = ""
    for path in paths:
        try:
            text += path.read_text(encoding="utf-8") + "\n"
        except UnicodeDecodeError:
            text += path.read_text(encoding="latin-1") + "\n"  # as we read it, after reporting `encoding`
    (tmp / "in.bib").write_text(text, encoding="utf-8")
    out = subprocess.run(
        ["biber", "--tool", "--tool-resolve", "--validate-datamodel", "--output-file", str(tmp / "o.bib"), "in.bib"],
        cwd=tmp,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found = set()
    for m in re.finditer(r"Entry '([^']*)' \(in\.bib\): Missing mandatory field (?:'(\w+)'|- one of '([^']*)')", out):
        for field in (m.group(2) or m.group(3)).split(", "):
            found.add((m.group(1), field))
    return found


@pytest.mark.skipif(shutil.which("biber") is None, reason="biber (Debian) is not installed")
@pytest.mark.parametrize("name", ITEMS)
def test_missing_fields_agree_with_biber(results: dict[str, dict[str, Any]], name: str, tmp_path: Path) -> None:
    ours: set[tuple[str, tuple[str, ...]]] = set()
    for p in problems_of(results[name]):
        if p["code"] == "missing-field":
            ours.add((p["key"], tuple(re.findall(r"`(\w+)`", p["message"].split(" lacks ")[1]))))
    theirs = _biber_missing(bibs(CORPUS / name), tmp_path)
    # Never "missing" where biber finds the field present.
    assert [(k, g) for k, g in ours if not any((k, f) in theirs for f in g)] == []
    # Where biber alone says missing, the reason is written down in BIBER_ONLY.
    only_biber = {(k, f) for k, f in theirs if not any(k == ok and f in g for ok, g in ours)}
    assert only_biber == BIBER_ONLY.get(name, set())


# --- syntax: a broken entry is reported where it is, and nothing after it is lost ----------


@pytest.mark.parametrize("name", ["joss-gmr", "tl-biblatex-examples", "tl-jabref-ier"])
def test_broken_entry_is_located_and_the_rest_survive(name: str, tmp_path: Path) -> None:
    """Delete the closing brace of one real entry: the fault is reported at that entry, every other key survives."""
    source = bibs(CORPUS / name)[-1]
    text = source.read_text(encoding="utf-8")
    good = load_bibliography([source], Problems(tmp_path))
    keys = list(good.entries)
    victim = good.entries[keys[len(keys) // 2]]
    lines = text.splitlines(keepends=True)
    # the entry's closing line: the first line after its header that is only "}"
    close = next(i for i in range(victim.line, len(lines)) if lines[i].strip() == "}")
    lines[close] = "\n"
    broken = tmp_path / source.name
    broken.write_text("".join(lines), encoding="utf-8")
    problems = Problems(tmp_path)
    bib = load_bibliography([broken], problems)
    faults = [p for p in problems if p.code == "bib-syntax"]
    assert faults and victim.line <= faults[0].line <= close + 2
    assert set(keys) - set(bib.entries) <= {victim.key}


# --- issue 12 regressions, each on a real file ---------------------------------------------


def _problems(name: str) -> list[Problems]:
    item = CORPUS / name
    problems = Problems(item)
    from scholarly_build.building.pipeline import load_and_check

    load_and_check(
        bib_paths=bibs(item),
        manuscripts=manuscripts(item),
        notes_dir=None,
        project=None,
        problems=problems,
        cache_dir=None,
    )
    return list(problems)  # type: ignore[arg-type]


def test_capitalised_field_names_are_fields() -> None:
    """NCDatasets.jl's paper.bib writes `AUTHOR =`, `TITLE =`, `JOURNAL =`: no field is missing for those entries."""
    found = [p for p in _problems("joss-ncdatasets") if p.code == "missing-field"]  # type: ignore[attr-defined]
    assert [p.key for p in found] == ["Rew2006"]  # an @inproceedings with no booktitle at all


def test_crossref_key_in_other_case_is_resolved() -> None:
    """xampl.bib: `crossref = {WHOLE-JOURNAL}` names the entry `whole-journal`."""
    found = [p for p in _problems("tl-xampl") if p.key == "article-crossref"]  # type: ignore[attr-defined]
    assert found == []


def test_unicode_string_names_and_string_files_load_together() -> None:
    """biblatex-archaeologie's @string files (`@String{Göttingen= …}`) load before the main file: no syntax error
    and no undefined macro."""
    codes = {p.code for p in _problems("tl-archaeologie")}  # type: ignore[attr-defined]
    assert not codes & {"bib-syntax", "undefined-macro"}


def test_quoted_attribute_values_and_terms_are_not_quotations() -> None:
    """SLIX's paper: captions hold `<img src="https://…">` (text, with raw HTML off), whose quoted URL was taken
    as a quotation, so the caption's `@menzel2020-NeuroImage` drew two false quote-without-locator errors before
    issue 12. rticles' JOSS skeleton puts a term in quotes (`"galactic dynamics,"`)."""
    for name in ("joss-slix", "rticles-joss"):
        assert [p for p in _problems(name) if p.code == "quote-without-locator"] == []  # type: ignore[attr-defined]


def test_noopsort_year_and_empty_doi_are_not_flagged() -> None:
    """xampl.bib's `{\\noopsort{1973b}}1973` is the year 1973 (only the `\\switchargs` one stays odd);
    hypothesize's Google-Scholar export writes `DOI=""`, which says nothing."""
    years = [p.line for p in _problems("tl-xampl") if p.code == "bad-year"]  # type: ignore[attr-defined]
    assert years == [125]
    dois = [p.key for p in _problems("joss-hypothesize") if p.code == "bad-doi"]  # type: ignore[attr-defined]
    assert dois == ["benjamni1995controlling"]  # `doi.org/10.1111/…`: a resolver without its scheme
