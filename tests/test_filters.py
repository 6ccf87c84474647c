"""The Lua filters keep output deterministic: attributes stay in their source order."""

from __future__ import annotations

import re
from pathlib import Path

from scholarly_build.core.pandoc import run

FILTERS = Path(__file__).resolve().parents[1] / "src" / "scholarly_build" / "templates" / "pandoc" / "filters"


def test_safety_filter_keeps_attribute_order() -> None:
    """Rebuilding a plain Lua table from attributes would order them by hash, differently per run."""
    text = '::: {#x .c k1="1" k2="2" k3="3" k4="4" k5="5" k6="6" onclick="evil()"}\ntext\n:::\n'
    args = ["-f", "markdown", "-t", "html", "--wrap=none", "--lua-filter", str(FILTERS / "safety.lua")]
    outs = {run(args, stdin=text).stdout for _ in range(8)}
    assert len(outs) == 1
    html = outs.pop()
    assert 'data-k1="1" data-k2="2" data-k3="3" data-k4="4" data-k5="5" data-k6="6"' in html
    assert "onclick" not in html


PREVIEWS_DOC = """---
annotation-previews:
  b: "*Second* note, citing [@c] and <b>raw</b>."
  a: "First note."
  z: "Never cited."
---
Text [@a; @b].
"""


def test_previews_filter_makes_sorted_plain_text_cards_for_html_only() -> None:
    """previews.lua: one hidden card Div per cited key, in key order, plain text (no emphasis, citation or
    raw HTML from the note), the same bytes on every run; other formats carry none of it."""
    args = ["-f", "markdown-raw_html", "-t", "html", "--wrap=none", "--lua-filter", str(FILTERS / "previews.lua")]
    outs = {run(args, stdin=PREVIEWS_DOC).stdout for _ in range(4)}
    assert len(outs) == 1
    html = outs.pop()
    cards = html[html.index('<div id="citation-cards" hidden') :]
    assert re.findall(r'data-key="(\w)"', cards) == ["a", "b"]
    assert "Second note, citing [@c] and &lt;b&gt;raw&lt;/b&gt;." in cards
    assert "<em>" not in cards and "<b>" not in cards
    latex = run(["-f", "markdown", "-t", "latex", "--lua-filter", str(FILTERS / "previews.lua")], stdin=PREVIEWS_DOC)
    assert "First note" not in latex.stdout and "Second" not in latex.stdout
