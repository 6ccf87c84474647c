"""The note and settings schemas (inputs/schemas/*.schema.json): valid, described, documented, met."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from scholarly_build.core.safety import is_identifier
from scholarly_build.inputs import yamldoc
from scholarly_build.inputs.notes import split_front_matter
from scholarly_build.inputs.schema import load_schema, violations

from .conftest import MINI, REPO

SCHEMAS = ("note", "settings")
DOCS = {"note": REPO / "docs" / "note-schema.md", "settings": REPO / "docs" / "settings.md"}


def _properties(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property declared anywhere in a schema, with its dotted place."""
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            yield f"{where}.{name}".lstrip("."), sub
        for key, sub in node.items():
            yield from _properties(sub, where if key in ("properties", "$defs") else f"{where}.{key}".lstrip("."))
    elif isinstance(node, list):
        for sub in node:
            yield from _properties(sub, where)


def _documented_keys(doc: Path) -> set[str]:
    """The keys named (in backticks) in the first column of the doc's first table."""
    keys: set[str] = set()
    in_table = False
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not in_table:
                in_table = True  # the header row
                continue
            if set(cells[0]) <= set("-: "):
                continue
            keys.update(re.findall(r"`([^`]+)`", cells[0]))
        elif in_table:
            break
    return keys


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_is_a_valid_json_schema(name: str) -> None:
    """Each shipped schema is itself valid under draft 2020-12."""
    Draft202012Validator.check_schema(load_schema(name))


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_property_has_a_description(name: str) -> None:
    """Editors show a property's `description`: every property, at any depth, has one."""
    missing = [where for where, sub in _properties(load_schema(name)) if not sub.get("description")]
    assert missing == []


@pytest.mark.parametrize("name", SCHEMAS)
def test_docs_table_matches_the_schema(name: str) -> None:
    """Every top-level property is in the doc's table, and every documented key is in the schema."""
    assert _documented_keys(DOCS[name]) == set(load_schema(name)["properties"])


def _notes() -> list[Path]:
    return sorted((REPO / "bib" / "notes").glob("*.md")) + sorted((MINI / "bib" / "notes").glob("*.md"))


@pytest.mark.parametrize("note", _notes(), ids=lambda p: f"{p.parent.parent.parent.name}/{p.name}")
def test_every_note_meets_the_schema(note: Path) -> None:
    """The repository's notes (and the mini fixture's) validate against note.schema.json."""
    parts = split_front_matter(note.read_text(encoding="utf-8"))
    assert parts is not None
    assert violations("note", yamldoc.load(parts[0]).data) == []


@pytest.mark.parametrize("root", [REPO, MINI], ids=["repository", "mini"])
def test_settings_meet_the_schema(root: Path) -> None:
    """manuscript/paper.yaml validates against settings.schema.json."""
    data = yamldoc.load((root / "manuscript" / "paper.yaml").read_text(encoding="utf-8")).data
    assert violations("settings", data) == []


def test_violation_paths_map_to_yaml_lines() -> None:
    """A violation's path in the document leads to the line the YAML loader recorded for it."""
    doc = yamldoc.load("key: k\nmetadata: complete\nthemes: [a]\nsummary: s\nuses:\n  w:\n    - locator: 3\n")
    found = {(v.path, v.keyword, v.field): v.line(doc) for v in violations("note", doc.data)}
    assert found == {
        (("uses", "w", 0), "required", "how"): 7,
        (("uses", "w", 0, "locator"), "type", None): 7,
    }


def test_integers_are_not_bools_or_floats() -> None:
    """`year: true` and `year: 1999.0` are not integers, as in Python."""
    base = {"key": "k", "metadata": "complete", "themes": ["a"], "summary": "s", "uses": {}}
    assert [v.path for v in violations("note", {**base, "year": True})] == [("year",)]
    assert [v.path for v in violations("note", {**base, "year": 1999.0})] == [("year",)]
    assert violations("note", {**base, "year": 1999}) == []


@pytest.mark.parametrize(
    "value", ["fig1", "a", "A-b_c", "1fig", "fig/x", "../x", "fig\n", "x" * 64, "x" * 65, "é", ""]
)
def test_figure_id_pattern_is_the_identifier_rule(value: str) -> None:
    """The schema's figure id pattern accepts exactly what core.safety.is_identifier does."""
    pattern = load_schema("settings")["properties"]["figures"]["items"]["properties"]["id"]["pattern"]
    assert (re.search(pattern, value) is not None) == is_identifier(value)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('  main: "Linux Libertine O"', '  serif: "Linux Libertine O"', "error settings: unknown font role 'serif'"),
        ("annotation_min_words: 20", "fontsize: 14pt", "error settings: unknown fontsize '14pt'"),
        ("annotation_min_words: 20", "annotation_min_words: -1", "`annotation_min_words` must be a whole number"),
    ],
)
def test_settings_violations_keep_their_messages(project_copy: Path, old: str, new: str, expected: str) -> None:
    """A schema violation in paper.yaml is worded as the loader always worded it, at its line."""
    from scholarly_build.core.problems import BuildFailed
    from scholarly_build.inputs.project import load_project

    settings = project_copy / "manuscript" / "paper.yaml"
    text = settings.read_text(encoding="utf-8")
    assert old in text
    settings.write_text(text.replace(old, new), encoding="utf-8")
    line = text[: text.index(old)].count("\n") + 1
    with pytest.raises(BuildFailed) as failed:
        load_project(project_copy)
    assert [(p.line, expected in p.format()) for p in failed.value.problems] == [(line, True)]


def test_empty_lists_in_settings_mean_none(project_copy: Path) -> None:
    """`check: 0` or `figures: ""` mean none, as `data.get(key) or {}` always read them."""
    from scholarly_build.inputs.project import load_project

    settings = project_copy / "manuscript" / "paper.yaml"
    settings.write_text(settings.read_text(encoding="utf-8") + "check: 0\n", encoding="utf-8")
    project = load_project(project_copy)
    assert (project.check_select, project.check_ignore) == ((), ())
