"""bibscan: entry/field locations and syntax faults, resynchronising after a fault."""

from __future__ import annotations

import pytest

from scholarly_build.inputs import bibscan

GOOD_TAIL = "\n@book{b,\n  title = {B},\n}\n"

# (id, text, (line, column, message) of the one fault, line of the entry `b` after it)
FAULTS = [
    (
        "unbalanced-brace",
        "@book{a,\n  title = {Open {brace},\n  year = {2000},\n}\n" + GOOD_TAIL,
        (2, 3, "entry 'a' (line 1) is not closed before the next entry; "
               "the braces of field 'title' may be unbalanced"),
        6,
    ),
    (
        "missing-comma-after-field",
        "@book{a,\n  title = {A}\n  year = {2000},\n}\n" + GOOD_TAIL,
        (3, 3, "missing comma after the field 'title'"),
        6,
    ),
    (
        "missing-comma-after-key",
        "@book{a\n  title = {A},\n}\n" + GOOD_TAIL,
        (2, 3, "missing comma after the key 'a'"),
        5,
    ),
    (
        "unterminated-entry",
        "@book{a,\n  title = {A},\n  year = {2000},\n" + GOOD_TAIL,
        (3, 3, "entry 'a' (line 1) is not closed before the next entry; "
               "the braces of field 'year' may be unbalanced"),
        5,
    ),
    (
        "unterminated-entry-without-fields",
        "@book{a,\n" + GOOD_TAIL,
        (1, 1, "entry 'a' is not terminated"),
        3,
    ),
    (
        "bad-header",
        "@book a,\n  title = {A},\n}\n" + GOOD_TAIL,
        (1, 1, "bad entry header: expected `@type{key,`"),
        5,
    ),
    (
        "no-key",
        "@book{,\n  title = {A},\n}\n" + GOOD_TAIL,
        (1, 7, "entry has no citation key"),
        5,
    ),
    (
        "missing-value",
        "@book{a,\n  title = ,\n}\n" + GOOD_TAIL,
        (2, 11, "unexpected ',' where a field value should start"),
        5,
    ),
]


@pytest.mark.parametrize(("text", "fault", "b_line"), [c[1:] for c in FAULTS], ids=[c[0] for c in FAULTS])
def test_fault_is_located(text: str, fault: tuple[int, int, str], b_line: int) -> None:
    """Each syntax fault is reported once, at its line and column, with a plain message."""
    result = bibscan.scan(text)
    assert [(f.line, f.column, f.message) for f in result.faults] == [fault]


@pytest.mark.parametrize(("text", "fault", "b_line"), [c[1:] for c in FAULTS], ids=[c[0] for c in FAULTS])
def test_scanner_resynchronises_after_fault(text: str, fault: tuple[int, int, str], b_line: int) -> None:
    """The entry after a broken one is still found, at its own line."""
    result = bibscan.scan(text)
    assert [(e.key, e.line) for e in result.entries] == [("b", b_line)]


def test_good_spans_exclude_the_broken_entry() -> None:
    """Only cleanly scanned entries are handed to pybtex."""
    text = "@book{a,\n  title = {Open {brace},\n}\n" + GOOD_TAIL
    result = bibscan.scan(text)
    assert [text[s:e] for s, e in result.good_spans] == ["@book{b,\n  title = {B},\n}"]


def test_field_lines_and_names() -> None:
    """Fields are lower-cased and carry the line of their name."""
    text = "@Article{Key1,\n  Author = {A},\n  TITLE = \"T\",\n\n  year = 2000\n}\n"
    (entry,) = bibscan.scan(text).entries
    assert (entry.type, entry.key, entry.line) == ("article", "Key1", 1)
    assert [(f.name, f.line) for f in entry.fields] == [("author", 2), ("title", 3), ("year", 5)]


def test_macros_are_collected_with_lines() -> None:
    """Bare identifiers in values (not numbers) are recorded as macro uses."""
    text = "@book{b,\n  publisher = pub # { Ltd},\n  month = jan,\n  year = 2000,\n}\n"
    (entry,) = bibscan.scan(text).entries
    assert [(f.name, f.macros) for f in entry.fields] == [
        ("publisher", [("pub", 2)]), ("month", [("jan", 3)]), ("year", [])]


def test_string_definitions_are_indexed_case_insensitively() -> None:
    """@string names are stored lower-cased with their line."""
    result = bibscan.scan('@string{pub = {P}}\n@STRING{Jour = "J"}\n')
    assert result.strings == {"pub": 1, "jour": 2}


@pytest.mark.parametrize(
    "text",
    [
        "@book(a,\n  title = {A}\n)\n",
        "@comment{ignored @book{x, }\n}\n@book{a, title = {A}}\n",
        '@preamble{"\\newcommand{\\x}{y}"}\n@book{a, title = {A}}\n',
        "Free text between entries is a comment.\n@book{a, title = {A}}\n",
        "@misc{a,\n  howpublished = {mail me@example.com},\n}\n",
    ],
    ids=["parenthesised", "comment", "preamble", "free-text", "at-in-value"],
)
def test_valid_constructs_have_no_fault(text: str) -> None:
    """Parenthesised entries, @comment, @preamble and free text scan cleanly."""
    result = bibscan.scan(text)
    assert (result.faults, [e.key for e in result.entries]) == ([], ["a"])
