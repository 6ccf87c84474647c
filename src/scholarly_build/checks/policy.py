"""Which problems a user wants to see: `--select`, `--ignore`, the project's
`check:` setting, and inline markers that silence one occurrence.

Codes are matched as ruff matches them: a selector is a whole code
(`quote-without-locator`), a prefix ending in `-` (`bad-` for bad-year,
bad-pages, bad-doi, …) or `ALL`.

An inline marker silences the problems reported on its own line or on the line
just below it:

- Markdown: an empty span, `[]{check-ignore="quote-without-locator"}`, which
  renders as nothing in every format (an HTML comment
  `<!-- check: ignore[quote-without-locator] -->` works too where raw HTML is on);
- BibTeX: a comment line before the entry, `% check: ignore[missing-field]`
  (text outside entries is a comment in BibTeX).

Without a code list (`check: ignore`, `check-ignore=""`) every code is silenced
there.

This module only filters findings that the checks made; it must not add, change
or reword a finding, and it reads files only to look for markers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from scholarly_build.core.problems import Problem

_MARKER = re.compile(r"""check(?::\s*ignore(?:\[([^\]]*)\])?|-ignore=(?:"([^"]*)"|'([^']*)'|([\w,-]*)))""")


def matches(code: str, selectors: Iterable[str]) -> bool:
    """True when any selector names ``code``: the whole code, a prefix ending in ``-``, or ``ALL``."""
    for sel in selectors:
        sel = sel.strip()
        if sel == "ALL" or sel == code or (sel.endswith("-") and code.startswith(sel)):
            return True
    return False


def _split(values: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or ():
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


@lru_cache(maxsize=256)
def _lines(path: str) -> tuple[str, ...]:
    try:
        return tuple(Path(path).read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        return ()


def marker_codes(line: str) -> set[str] | None:
    """The codes an inline marker on this line silences; an empty set means all; None: no marker."""
    m = _MARKER.search(line)
    if m is None:
        return None
    raw = next((g for g in m.groups() if g is not None), "")
    return {c.strip() for c in raw.split(",") if c.strip()}


def silenced(problem: Problem, root: Path | None) -> bool:
    """True when an inline marker on the problem's line, or on the line above, silences its code."""
    if not problem.file or not problem.line:
        return False
    path = Path(problem.file)
    if not path.is_absolute() and root is not None and (root / path).is_file():
        path = root / path  # reported relative to the project root; otherwise as given (relative to the cwd)
    lines = _lines(str(path))
    for n in (problem.line, problem.line - 1):
        if 1 <= n <= len(lines):
            codes = marker_codes(lines[n - 1])
            if codes is not None and (not codes or problem.code in codes):
                return True
    return False


def apply(
    problems: Sequence[Problem],
    *,
    root: Path | None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
) -> list[Problem]:
    """The problems left after selection, ignores and inline markers."""
    chosen = _split(select)
    dropped = _split(ignore)
    _lines.cache_clear()
    return [
        p
        for p in problems
        if (not chosen or matches(p.code, chosen)) and not matches(p.code, dropped) and not silenced(p, root)
    ]
