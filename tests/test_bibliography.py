"""bibliography: loading .bib files with pybtex, located problems, key -> line index."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scholarly_build.core.problems import Problems
from scholarly_build.inputs.bibliography import Bibliography, load_bibliography

GOOD_B = "\n@book{b,\n  author = {Bee, Bob},\n  title = {B},\n  year = {2001},\n}\n"


def load(tmp_path: Path, *contents: str | bytes, cache_dir: Path | None = None) -> tuple[Bibliography, list[str]]:
    """Write ``refs.bib`` (then ``more.bib``, ...) and load them together."""
    names = ["refs.bib", "more.bib", "third.bib"]
    paths = []
    for name, content in zip(names, contents, strict=False):
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        paths.append(path)
    problems = Problems(tmp_path)
    bib = load_bibliography(paths, problems, cache_dir)
    return bib, [p.format().split("\n")[0] for p in problems]


# (id, files, expected problem lines, expected {key: entry line})
CASES = [
    (
        "unbalanced-brace-keeps-later-entries",
        ["@book{a,\n  title = {Open {brace},\n  year = {2000},\n}\n" + GOOD_B],
        ["refs.bib:2:3: error bib-syntax: entry 'a' (line 1) is not closed before the next entry; "
         "the braces of field 'title' may be unbalanced"],
        {"b": 6},
    ),
    (
        "missing-comma-after-field",
        ["@book{a,\n  title = {A}\n  year = {2000},\n}\n" + GOOD_B],
        ["refs.bib:3:3: error bib-syntax: missing comma after the field 'title'"],
        {"b": 6},
    ),
    (
        "missing-comma-after-key",
        ["@book{a\n  title = {A},\n}\n" + GOOD_B],
        ["refs.bib:2:3: error bib-syntax: missing comma after the key 'a'"],
        {"b": 5},
    ),
    (
        "unterminated-entry",
        ["@book{a,\n  title = {A},\n  year = {2000},\n" + GOOD_B],
        ["refs.bib:3:3: error bib-syntax: entry 'a' (line 1) is not closed before the next entry; "
         "the braces of field 'year' may be unbalanced"],
        {"b": 5},
    ),
    (
        "bad-header",
        ["@book a,\n  title = {A},\n}\n" + GOOD_B],
        ["refs.bib:1:1: error bib-syntax: bad entry header: expected `@type{key,`"],
        {"b": 5},
    ),
    (
        "undefined-macro",
        ["@book{a,\n  title = {A},\n  publisher = pub,\n  year = 2000,\n}\n"],
        ["refs.bib:3: error undefined-macro: @string macro 'pub' is used but never defined"],
        {"a": 1},
    ),
    (
        "month-names-are-predefined",
        ["@book{a,\n  title = {A},\n  month = jan,\n  year = 2000,\n}\n"],
        [],
        {"a": 1},
    ),
    (
        "duplicate-key-case-insensitive",
        ["@book{Smith2000,\n  title = {A},\n}\n\n@book{smith2000,\n  title = {B},\n}\n"],
        ["refs.bib:5: error duplicate-key: key 'smith2000' is defined twice (first as 'Smith2000' at line 1); "
         "BibTeX compares keys case-insensitively"],
        {"Smith2000": 1},
    ),
    (
        "duplicate-key-across-files",
        ["@book{Smith2000,\n  title = {A},\n}\n", "\n\n@book{SMITH2000,\n  title = {B},\n}\n"],
        ["more.bib:3: error duplicate-key: key 'SMITH2000' is defined twice (first as 'Smith2000' at refs.bib:1); "
         "BibTeX compares keys case-insensitively"],
        {"Smith2000": 1},
    ),
    (
        "string-from-earlier-file",
        ["@string{pub = {Publisher}}\n", "@book{a,\n  title = {A},\n  publisher = pub # { Ltd},\n}\n"],
        [],
        {"a": 1},
    ),
    (
        "string-from-later-file-is-undefined",
        ["@book{a,\n  title = {A},\n  publisher = pub,\n}\n", "@string{pub = {Publisher}}\n"],
        ["refs.bib:3: error undefined-macro: @string macro 'pub' is used but never defined"],
        {"a": 1},
    ),
    (
        "latin-1",
        ["@book{a,\n  title = {A},\n}\n@book{b,\n  title = {Caf\xe9},\n}\n".encode("latin-1")],
        ["refs.bib:5: error encoding: file is not valid UTF-8 (byte 0xe9 at offset 49)"],
        {"a": 1, "b": 4},  # still read (as Latin-1) so that no entry is lost
    ),
    (
        "empty-file",
        [""],
        ["refs.bib:1: warning bib-syntax: bibliography file is empty"],
        {},
    ),
    (
        "byte-order-mark",
        [b"\xef\xbb\xbf@book{a,\n  title = {A},\n}\n"],
        ["refs.bib:1: warning encoding: file starts with a UTF-8 byte-order mark; it was ignored"],
        {"a": 1},
    ),
]


@pytest.mark.parametrize(("files", "expected", "entries"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_problems_are_located(tmp_path: Path, files: list[str | bytes], expected: list[str],
                              entries: dict[str, int]) -> None:
    """Each faulty input gives exactly the expected located problems."""
    _, problems = load(tmp_path, *files)
    assert problems == expected


@pytest.mark.parametrize(("files", "expected", "entries"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_usable_entries_still_load(tmp_path: Path, files: list[str | bytes], expected: list[str],
                                   entries: dict[str, int]) -> None:
    """Entries that are not broken load, each at its own line (pybtex never swallows them)."""
    bib, _ = load(tmp_path, *files)
    assert {key: entry.line for key, entry in bib.entries.items()} == entries


def test_entry_after_unbalanced_brace_has_its_fields(tmp_path: Path) -> None:
    """The entry after an unbalanced brace is parsed completely, with persons."""
    bib, _ = load(tmp_path, "@book{a,\n  title = {Open {brace},\n}\n" + GOOD_B)
    entry = bib.entries["b"]
    assert (entry.type, entry.fields) == ("book", {"title": "B", "year": "2001"})
    assert entry.persons == {"author": ["Bee, Bob"]}


def test_macro_from_earlier_file_is_expanded(tmp_path: Path) -> None:
    """An @string from the first file is expanded in the second file's entries."""
    bib, _ = load(tmp_path, "@string{pub = {Publisher}}\n", "@book{a,\n  publisher = pub # { Ltd},\n}\n")
    assert bib.entries["a"].fields["publisher"] == "Publisher Ltd"


def test_duplicate_field_is_reported_once(tmp_path: Path) -> None:
    """A repeated field is reported once, as `duplicate-field` at the repeated line (no pybtex echo at line 1)."""
    _, problems = load(tmp_path, "@book{a,\n  title = {A},\n  title = {B},\n  year = 2000,\n}\n")
    assert problems == ["refs.bib:3: error duplicate-field: field 'title' is given twice in entry 'a'"]


def test_string_used_before_its_definition_is_undefined(tmp_path: Path) -> None:
    """BibTeX needs @string before use: a later definition leaves the macro undefined."""
    _, problems = load(tmp_path, "@book{a,\n  title = {A},\n  publisher = pub,\n}\n@string{pub = {Publisher}}\n")
    assert problems == ["refs.bib:3: error undefined-macro: @string macro 'pub' is used but never defined"]


def test_backslash_quote_in_quoted_value_is_located(tmp_path: Path) -> None:
    """A quoted value cut short by a backslash-quote is one `bib-syntax` problem at its own line."""
    text = ("@book{first,\n  title = {First},\n  year = 2000,\n}\n\n"
            "@book{second,\n  title = {A},\n  year = {2000},\n}\n\njunk text\n\n\n"
            '@book{a,\n  title = "Caf\\"e",\n  year = 2000,\n}\n')
    _, problems = load(tmp_path, text)
    located = [re.match(r"refs\.bib:(\d+)[:\d]* error ([\w-]+):", p) for p in problems]
    assert [m.groups() if m else p for m, p in zip(located, problems, strict=True)] == [("15", "bib-syntax")]


def test_key_to_line_index(tmp_path: Path) -> None:
    """Every entry and every field knows its line; unknown fields fall back to the entry line."""
    text = (
        "% a comment line\n"
        "@article{first,\n"
        "  author = {A, B},\n"
        "  title  = {T},\n"
        "  year   = {2000},\n"
        "}\n"
        "\n"
        "@book{second, title = {S},\n"
        "  year = {2001}}\n"
    )
    bib, problems = load(tmp_path, text)
    assert problems == []
    first, second = bib.entries["first"], bib.entries["second"]
    assert (first.line, first.line_of("title"), first.line_of("year"), first.line_of("pages")) == (2, 4, 5, 2)
    assert (second.line, second.line_of("title"), second.line_of("year")) == (8, 8, 9)
    assert first.path == tmp_path / "refs.bib"


def test_missing_file_is_reported(tmp_path: Path) -> None:
    """A .bib path that does not exist is a `missing-file` error."""
    problems = Problems(tmp_path)
    load_bibliography([tmp_path / "nope.bib"], problems)
    assert [p.format().split("\n")[0] for p in problems] == [
        "nope.bib: error missing-file: bibliography file not found"]


def test_cached_load_gives_the_same_result(tmp_path: Path) -> None:
    """A second load served from the cache yields the same entries and problems."""
    text = "@book{a,\n  title = {A},\n  publisher = pub,\n}\n" + GOOD_B
    cache = tmp_path / "cache"
    first, first_problems = load(tmp_path, text, cache_dir=cache)
    assert list(cache.glob("bib-*.json"))
    second, second_problems = load(tmp_path, text, cache_dir=cache)
    assert (second.entries, second_problems) == (first.entries, first_problems)


def test_year_from_date_and_family_names(tmp_path: Path) -> None:
    """`year` falls back to the date's year; family names come from the authors."""
    bib, _ = load(tmp_path, "@book{a,\n  author = {Alpha, Ann and Bob Beta},\n  title = {A},\n  date = {2018-09},\n}\n")
    assert (bib.entries["a"].year, bib.entries["a"].family_names) == ("2018", ["Alpha", "Beta"])


def test_undefined_macro_inside_a_string_value_is_reported(tmp_path: Path) -> None:
    """A macro used inside another @string's value must be defined earlier too."""
    path = tmp_path / "r.bib"
    path.write_text("@string{a = {x}}\n@string{b = a # nope}\n"
                    "@book{k, author = {A, B}, title = {T}, date = {2000}, publisher = b}\n", encoding="utf-8")
    problems = Problems(tmp_path)
    load_bibliography([path], problems)
    assert [(p.code, p.line, p.message) for p in problems] == [
        ("undefined-macro", 2, "@string macro 'nope' is used but never defined")]


def test_a_large_file_parsed_in_two_processes_gives_the_serial_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second half parsed by a worker process: the same entries, fields, errors and final macros as one
    process, with @string macros defined (and one redefined) in the first half and used in the second."""
    from scholarly_build.inputs import bibliography as bibmod

    monkeypatch.setattr(bibmod, "_BATCH", 40)
    entries = [
        f"@article{{k{i}, author = {{Last{i}, First and Other, A.}}, title = {{Title {i}}}, date = {{{1900 + i}}}}}\n"
        for i in range(300)
    ]
    entries.insert(10, '@string{jn = "Journal of Tests"}\n')
    entries.insert(100, '@STRING ( jn = "Redefined " # jn )\n')
    entries.insert(250, "@article{usesjn, title = jn # { again}, author = {A, B}, date = {2000}}\n")
    entries.insert(260, "@article{broken, title = undefinedmacro, date = {2000}}\n")
    entries.insert(20, "@article{usesearly, title = early # { and later}, author = {A, B}, date = {2001}}\n")
    entries.insert(30, "@article{k5, title = {A later duplicate key}}\n")
    text = "\n".join(entries)
    earlier_file = {"early": "From an earlier file"}
    monkeypatch.setattr(bibmod, "_PARALLEL_FROM", 100)
    split = bibmod._Split.finish
    used: list[bool] = []
    monkeypatch.setattr(bibmod._Split, "finish", lambda self: used.append(self.first is not None) or split(self))
    parallel = bibmod._parse_file(text, earlier_file, None)
    assert used == [True] and bibmod.split_point(text.count("@")) == 160  # the worker took the first 160
    monkeypatch.setattr(bibmod, "_PARALLEL_FROM", 10**9)
    serial = bibmod._parse_file(text, earlier_file, None)
    assert used == [True, False]
    assert parallel == serial
    fields = {key: f for key, _t, f, _p in parallel[0].entries}
    assert fields["usesjn"]["title"] == "Redefined Journal of Tests again"
    assert fields["usesearly"]["title"] == "From an earlier file and later"
    assert fields["k5"]["title"] == "Title 5"  # the first of two entries with one key
    assert len(parallel[0].entries) == 303 and parallel[0].errors  # the undefined macro is reported once
