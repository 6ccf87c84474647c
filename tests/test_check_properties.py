"""Property: random mutations of a valid project never crash the check.

Deleted braces, duplicated entries, renamed keys, junk bytes and truncation in
the .bib, notes and sections only ever produce reported problems.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scholarly_build.building.pipeline import load_and_check
from scholarly_build.core.problems import Problems
from scholarly_build.inputs.project import load_project

FIXTURE = Path(__file__).parent / "fixtures" / "mini"
BIB = FIXTURE / "bib" / "references.bib"


def _mutate(text: str, ops: list[tuple[str, int, bytes]]) -> bytes:
    data = text.encode()
    for op, pos, junk in ops:
        if not data:
            break
        i = pos % len(data)
        if op == "delete-brace":
            j = data.find(b"{" if pos % 2 else b"}", i)
            if j >= 0:
                data = data[:j] + data[j + 1 :]
        elif op == "duplicate-entry":
            j = data.find(b"@", i)
            k = data.find(b"\n@", j + 1) if j >= 0 else -1
            if j >= 0:
                data = data + b"\n" + data[j : k if k > 0 else len(data)]
        elif op == "rename-key":
            j = data.find(b"{", i)
            if j >= 0:
                data = data[: j + 1] + b"Renamed" + data[j + 1 :]
        elif op == "junk":
            data = data[:i] + junk + data[i:]
        elif op == "truncate":
            data = data[:i]
    return data


OPS = st.lists(
    st.tuples(
        st.sampled_from(["delete-brace", "duplicate-entry", "rename-key", "junk", "truncate"]),
        st.integers(min_value=0, max_value=10_000),
        st.binary(min_size=1, max_size=12),
    ),
    min_size=1,
    max_size=4,
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("props") / "project"
    shutil.copytree(FIXTURE, root)
    return root


def _check(root: Path) -> Problems:
    project = load_project(root)
    problems = Problems(root)
    sections = [root / "manuscript" / "sections" / s.path for s in project.sections if s.path is not None]
    load_and_check(bib_paths=list(project.bibliography), manuscripts=sections, notes_dir=project.notes_dir,
                   project=project, problems=problems, cache_dir=root / "cache")
    return problems


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_mutated_bib_only_yields_problems(workdir: Path, ops: list[tuple[str, int, bytes]]) -> None:
    """Any mutation of the .bib gives problems, never an exception."""
    (workdir / "bib" / "references.bib").write_bytes(_mutate(BIB.read_text(), ops))
    _check(workdir)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, which=st.sampled_from(["bib/notes/gamma1999.md", "bib/notes/alpha2018.md"]))
def test_mutated_note_only_yields_problems(workdir: Path, ops: list[tuple[str, int, bytes]], which: str) -> None:
    """Any mutation of a note gives problems, never an exception."""
    (workdir / "bib" / "references.bib").write_bytes(BIB.read_bytes())
    (workdir / which).write_bytes(_mutate((FIXTURE / which).read_text(), ops))
    try:
        _check(workdir)
    finally:
        (workdir / which).write_bytes((FIXTURE / which).read_bytes())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_mutated_section_only_yields_problems(workdir: Path, ops: list[tuple[str, int, bytes]]) -> None:
    """Any mutation of a manuscript section (parsed by pandoc) gives problems, never an exception."""
    section = "manuscript/sections/01-intro.md"
    (workdir / section).write_bytes(_mutate((FIXTURE / section).read_text(), ops))
    try:
        _check(workdir)
    finally:
        (workdir / section).write_bytes((FIXTURE / section).read_bytes())


def test_mutation_really_breaks_the_bib(workdir: Path) -> None:
    """The mutations are not no-ops: deleting a brace is reported as bib-syntax."""
    (workdir / "bib" / "references.bib").write_bytes(_mutate(BIB.read_text(), [("delete-brace", 20, b"")]))
    codes = {p.code for p in _check(workdir)}
    (workdir / "bib" / "references.bib").write_bytes(BIB.read_bytes())
    assert "bib-syntax" in codes
