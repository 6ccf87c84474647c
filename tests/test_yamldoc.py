"""yamldoc: YAML with a path -> line map, and syntax errors with lines."""

from __future__ import annotations

import pytest

from scholarly_build.inputs import yamldoc

DOC = """\
title: T
nested:
  inner: 2
  items: [a, b]
records:
  - name: first
    value: 1
  - name: second
"""


def test_values_are_plain_python() -> None:
    """The parsed data is plain dicts, lists and scalars."""
    doc = yamldoc.load(DOC)
    assert doc.data == {
        "title": "T",
        "nested": {"inner": 2, "items": ["a", "b"]},
        "records": [{"name": "first", "value": 1}, {"name": "second"}],
    }


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ((), 1),
        (("title",), 1),
        (("nested",), 2),
        (("nested", "inner"), 3),
        (("nested", "items"), 4),
        (("nested", "items", 1), 4),
        (("records",), 5),
        (("records", 0), 6),
        (("records", 0, "value"), 7),
        (("records", 1, "name"), 8),
    ],
)
def test_line_of_each_path(path: tuple[str | int, ...], line: int) -> None:
    """Every key and item remembers its 1-based line."""
    assert yamldoc.load(DOC).line(*path) == line


def test_line_falls_back_to_nearest_ancestor() -> None:
    """An absent path reports the line of its closest existing ancestor."""
    assert yamldoc.load(DOC).line("records", 1, "missing") == 8


def test_empty_document_is_none_at_line_one() -> None:
    """An empty text parses to None with the root at line 1."""
    doc = yamldoc.load("")
    assert (doc.data, doc.line("anything")) == (None, 1)


def test_tab_indentation_names_the_tab_line() -> None:
    """A tab used for indentation is reported in words, at its own line."""
    with pytest.raises(yamldoc.YamlError) as info:
        yamldoc.load("a: 1\nb:\n  c: 1\n\td: 2\n")
    assert (info.value.line, info.value.message) == (
        4, "a tab character is used for indentation (YAML allows only spaces)")


def test_unclosed_quote_points_at_the_opening_line() -> None:
    """An unclosed quote is reported on the line where the quoted value starts, not at the end of the text."""
    with pytest.raises(yamldoc.YamlError) as info:
        yamldoc.load('a: 1\nb: "unclosed\nc: 2\n')
    assert (info.value.line, info.value.message) == (2, "a quoted value starts on this line and is not closed")


def test_duplicate_key_reports_the_second_occurrence() -> None:
    """A repeated mapping key is an error at the repeated key's line."""
    with pytest.raises(yamldoc.YamlError) as info:
        yamldoc.load("a: 1\nb: 2\na: 3\n")
    assert (info.value.line, info.value.message) == (3, "duplicate key 'a'")


def test_duplicate_key_in_nested_mapping() -> None:
    """Duplicate detection also works inside nested mappings."""
    with pytest.raises(yamldoc.YamlError) as info:
        yamldoc.load("outer:\n  x: 1\n  y: 2\n  x: 3\n")
    assert (info.value.line, info.value.message) == (4, "duplicate key 'x'")


def test_python_tags_are_refused() -> None:
    """Only safe YAML is accepted: a python/object tag is an error at its line."""
    with pytest.raises(yamldoc.YamlError) as info:
        yamldoc.load("a: 1\nb: !!python/object:os.system x\n")
    assert info.value.line == 2
    assert "could not determine a constructor" in info.value.message


def test_non_scalar_key_is_refused() -> None:
    """A complex (sequence) mapping key is an error, not a crash."""
    with pytest.raises(yamldoc.YamlError) as info:
        yamldoc.load("? [1, 2]\n: 3\n")
    assert info.value.line == 1
