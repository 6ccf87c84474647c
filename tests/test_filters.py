"""The Lua filters keep output deterministic: attributes stay in their source order."""

from __future__ import annotations

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
