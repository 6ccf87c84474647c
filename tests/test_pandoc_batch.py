"""Parsing many texts in one pandoc process gives each text's own AST (the check relies on it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scholarly_build.core.pandoc import PandocError, parse_many, parse_markdown

ROOT = Path(__file__).resolve().parents[1]

TRICKY = [
    "Dr. Smith met Mr. Jones, e.g. in 1999 (n. 55, cf. p. 3).",  # pandoc's abbreviations file, not Lua's defaults
    "---\ntitle: A *title*\nnocite: '@a'\nx: [1, {y: z}]\nflag: true\n---\n\nBody [@key, p. 3].\n",
    "",
    "# Same\n\n# Same\n\n[ref]: https://example.org\n\nA [ref] link.\n",
    "\tcode\n\n  * a\n\t* b\n\n1. one\n2. two\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n\n: A table {#tbl:x}\n",
    "Raw <b>html</b> and \\textbf{tex} stay text; `code`{=latex} too.\n",
    "Quotes \"double\" and 'single' -- dashes --- and ellipses...\n",
]


def _texts() -> list[str]:
    files = sorted((ROOT / "bib" / "notes").glob("*.md")) + sorted((ROOT / "manuscript" / "sections").glob("*.md"))
    assert len(files) > 20
    return [f.read_text(encoding="utf-8") for f in files] + TRICKY


def test_each_ast_equals_a_separate_parse() -> None:
    """Every note and section of this repository, and texts that exercise reader options: identical ASTs."""
    texts = _texts()
    batch = parse_many(texts)
    assert len(batch) == len(texts)
    for text, ast in zip(texts, batch, strict=True):
        assert ast == parse_markdown(text), text[:80]


def test_texts_do_not_share_state() -> None:
    """A link reference or a heading in one text changes nothing in the next one."""
    first, second = "[ref]: https://example.org\n\n# Heading\n", "A [ref] link.\n\n# Heading\n"
    batch = parse_many([first, second])
    assert batch[1] == parse_markdown(second)
    assert "https://example.org" not in str(batch[1])


def test_a_failure_is_an_error_not_a_wrong_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the process fails (here: a memory limit too small for pandoc), PandocError, never a partial list."""
    monkeypatch.setenv("SCHOLARLY_BUILD_MEMORY_LIMIT_MB", "20")
    with pytest.raises(PandocError):
        parse_many(["a", "b"])
