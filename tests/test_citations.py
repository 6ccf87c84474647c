"""citations: what pandoc cites (from the AST), and where (line, column) in the source."""

from __future__ import annotations

from pathlib import Path

import pytest

from scholarly_build.checks.citations import Citation, find_citations

PREFIXES = ("fig:", "tbl:", "eq:", "sec:")
SOURCE = Path("x.md")


def cites(text: str) -> list[Citation]:
    return find_citations(SOURCE, text, PREFIXES)


def keys(text: str) -> list[str]:
    return [c.key for c in cites(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("See @smith:2000 here.", ["smith:2000"]),
        ("See @a/b here.", ["a/b"]),
        ("See @c.d. Next sentence.", ["c.d"]),
        ("See @Łukašenka2001 and @лукашэнка2005.", ["Łukašenka2001", "лукашэнка2005"]),
        ("See @{http://x.y/z?a=1}.", ["http://x.y/z?a=1"]),
    ],
    ids=["colon", "slash", "internal-dot", "non-ascii", "braced"],
)
def test_key_characters(text: str, expected: list[str]) -> None:
    """Keys keep `:`, `/`, internal `.` and non-ASCII letters, as pandoc reads them."""
    assert keys(text) == expected


def test_suppress_author_citation() -> None:
    """`[-@key]` is a citation of `key` without locator."""
    assert [(c.key, c.label, c.locator) for c in cites("As shown [-@key].")] == [("key", None, None)]


def test_in_text_citation_with_locator() -> None:
    """`@key [p. 3]` carries the page locator."""
    (c,) = cites("As @key [p. 3] shows.")
    assert (c.key, c.label, c.locator, c.page_range()) == ("key", "p", "3", (3, 3))


def test_group_with_prefix_and_range() -> None:
    """`[see @a, pp. 3–5; @b]` gives two citations; the first has an en-dash page range."""
    found = cites("Text [see @a, pp. 3–5; @b].")
    assert [(c.key, c.label, c.locator, c.page_range()) for c in found] == [
        ("a", "pp", "3–5", (3, 5)), ("b", None, None, None)]


@pytest.mark.parametrize(
    ("suffix", "label", "locator"),
    [("sec. Legitimacy", "sec", "Legitimacy"), ("n. 40", "n", "40"), ("chapter 3", "chapter", "3"),
     ("pp. 12-14", "pp", "12-14")],
)
def test_locator_labels(suffix: str, label: str, locator: str) -> None:
    """Locator labels are parsed from the suffix."""
    (c,) = cites(f"Text [@k, {suffix}].")
    assert (c.label, c.locator) == (label, locator)


def test_code_span_is_not_a_citation() -> None:
    """`@key` inside a code span is not a citation."""
    assert keys("Write `@notcite` in code.") == []


def test_code_block_is_not_a_citation() -> None:
    """`@key` inside a fenced code block is not a citation."""
    assert keys("```\n@alsonot\n```\n") == []


def test_email_address_is_not_a_citation() -> None:
    """An e-mail address is not a citation."""
    assert keys("Mail me@example.com today.") == []


@pytest.mark.parametrize("ref", ["@fig:x", "@Fig:x", "@tbl:y", "@sec:intro"])
def test_crossref_prefixes_are_flagged(ref: str) -> None:
    """Cross-references (any case of a known prefix) are flagged, not treated as citations."""
    (c,) = cites(f"See {ref}.")
    assert (c.key, c.crossref) == (ref[1:], True)


def test_ordinary_key_is_not_crossref() -> None:
    """A key without a cross-reference prefix is not flagged."""
    (c,) = cites("See @figueroa2001.")
    assert c.crossref is False


def test_line_and_column() -> None:
    """Each citation is located at its `@` (1-based line and column)."""
    found = cites("Line one.\n  Then [@k, p. 3] and\n@k again, and [@j].\n")
    assert [(c.key, c.line, c.column) for c in found] == [("k", 2, 9), ("k", 3, 1), ("j", 3, 16)]


def test_non_ascii_column_counts_characters() -> None:
    """Columns count characters, not bytes."""
    (c,) = cites("Лукашэнка [@k].")
    assert (c.line, c.column) == (1, 12)


def test_citation_in_footnote_is_found() -> None:
    """Citations inside footnotes are found and located."""
    found = cites("Text.[^1]\n\n[^1]: See @fn.\n")
    assert [(c.key, c.line, c.column) for c in found] == [("fn", 3, 11)]


def test_location_skips_code_span_mentions() -> None:
    """A citation is located at itself, not at an earlier `@key` inside a code span."""
    (c,) = cites("Code `@k` here.\n\nThen [@k, p. 3].\n")
    assert (c.line, c.column) == (3, 7)


def test_quotation_without_locator_is_flagged() -> None:
    """A quotation followed by a citation group without any locator flags the group's first key."""
    found = cites("He said “a quote of several words” [@a; @b].")
    assert [(c.key, c.after_quote) for c in found] == [("a", True), ("b", False)]


def test_straight_quotes_count_as_quotation() -> None:
    """Straight double quotes (smart-quoted by pandoc) are quotations too."""
    assert [c.after_quote for c in cites('He said "a quote of several words" [@a].')] == [True]


def test_quotation_with_locator_anywhere_in_group_is_not_flagged() -> None:
    """A locator on any citation of the group satisfies the quotation."""
    found = cites("He said “a quote of several words” [@a; @b, p. 4].")
    assert [(c.key, c.after_quote) for c in found] == [("a", False), ("b", False)]


def test_quotation_with_locator_is_not_flagged() -> None:
    """A quotation cited with a page is not flagged."""
    assert [c.after_quote for c in cites("He said “a quote of several words” [@a, p. 3].")] == [False]


def test_quotation_in_earlier_paragraph_is_not_flagged() -> None:
    """A citation in a later paragraph does not inherit an earlier paragraph's quotation."""
    assert [c.after_quote for c in cites("He said “a quote of several words”.\n\nLater [@a].")] == [False]


def test_only_first_group_after_quotation_is_flagged() -> None:
    """Once a citation group follows the quotation, later groups are not flagged."""
    found = cites("He said “a quote of several words” [@a]; see also [@b].")
    assert [(c.key, c.after_quote) for c in found] == [("a", True), ("b", False)]


def test_bare_page_number_is_a_locator() -> None:
    """`[@a, 33]` has a page locator (pandoc assumes `page`), so the quotation is located."""
    (c,) = cites("He said “a quote of several words” [@a, 33].")
    assert (c.after_quote, c.page_range()) == (False, (33, 33))


def test_scare_quoted_terms_are_not_quotations() -> None:
    """Issue 12: single-quoted terms and names are terms, not quotations."""
    text = (
        "The 'fixed boundary' models [@smith2001] rest on the common 'Wallace-Bott' assumption.\n"
        "The 'corners' of the array were cut. We used Tool [@tool2019].\n"
    )
    assert [c.after_quote for c in cites(text)] == [False, False]


def test_quotation_in_an_earlier_sentence_does_not_attach() -> None:
    """A quotation and a citation in different sentences of one paragraph are not linked."""
    found = cites("He said “a quote of several words here”. Later work [@a].")
    assert [c.after_quote for c in found] == [False]


def test_block_quote_attaches_to_its_citation() -> None:
    """A block quote that ends with a citation group is a quotation of that group."""
    (c,) = cites("> A long quotation set as a block of text [@a].\n")
    assert c.after_quote


def test_comma_separated_keys_are_all_counted() -> None:
    """Issue 12: `[e.g., @a, @b, @c]` nests @b and @c in @a's suffix; all three count, with lines."""
    found = cites("Text.\n\nSee [e.g., @jones2005, @lee2008,\n@park2012].\n")
    assert [(c.key, c.line, c.nested) for c in found] == [
        ("jones2005", 3, False),
        ("lee2008", 3, True),
        ("park2012", 4, True),
    ]


def test_citations_everywhere_in_the_ast_are_counted() -> None:
    """Captions, table cells, headings, footnotes and metadata hold citations too."""
    text = (
        "---\nabstract: As @meta argues.\nnocite: '@extra'\n---\n\n# Heading @h\n\n"
        "![Caption [@fig]](x.png)\n\n| a |\n|---|\n| [@cell] |\n\n: Table caption [@cap]\n\n"
        "Term\n:   Definition [@def]\n\n| line [@lb]\n\nText.[^1]\n\n[^1]: Note [@fn].\n"
    )
    found = {c.key: c.nocite for c in cites(text)}
    assert found == {
        "meta": False,
        "extra": True,
        "h": False,
        "fig": False,
        "cell": False,
        "cap": False,
        "def": False,
        "lb": False,
        "fn": False,
    }
