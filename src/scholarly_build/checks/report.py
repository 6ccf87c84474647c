"""Printing problems: human lines, JSON (a stable contract), SARIF, GitHub annotations.

Each report is composed as one string and written with one call: thousands of
findings must not become hundreds of thousands of small writes (``json.dump``
writes every token separately). This module formats; it never decides what is
a problem or which problems to show (``checks/policy.py``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TextIO

from scholarly_build.core.problems import Problem, Severity


def summary(problems: Sequence[Problem], *, files: int, entries: int, citations: int) -> dict[str, int]:
    """The counts every format ends with."""
    return {
        "errors": sum(p.severity is Severity.ERROR for p in problems),
        "warnings": sum(p.severity is Severity.WARNING for p in problems),
        "files": files,
        "entries": entries,
        "citations": citations,
    }


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def sarif(problems: Sequence[Problem], counts: dict[str, int]) -> dict[str, object]:
    """SARIF 2.1.0, as GitHub code scanning reads it: one rule per code, one result per problem."""
    codes = sorted({p.code for p in problems})
    results: list[dict[str, object]] = []
    for p in problems:
        location: dict[str, object] = {"artifactLocation": {"uri": p.file or "."}}
        if p.line:
            region: dict[str, int] = {"startLine": p.line}
            if p.column:
                region["startColumn"] = p.column
            location["region"] = region
        text = p.message + (f" (hint: {p.hint})" if p.hint else "")
        results.append(
            {
                "ruleId": p.code,
                "ruleIndex": codes.index(p.code),
                "level": "error" if p.severity is Severity.ERROR else "warning",
                "message": {"text": text},
                "locations": [{"physicalLocation": location}],
                **({"properties": {"key": p.key}} if p.key else {}),
            }
        )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "scholarly_build check",
                        "rules": [
                            {"id": code, "name": code, "shortDescription": {"text": code.replace("-", " ")}}
                            for code in codes
                        ],
                    }
                },
                "results": results,
                "properties": {"summary": counts},
            }
        ],
    }


def render(problems: Sequence[Problem], counts: dict[str, int], fmt: str) -> str:
    """The whole report in ``fmt`` (human, json or sarif), as one string."""
    if fmt == "sarif":
        return json.dumps(sarif(problems, counts), indent=2, ensure_ascii=False) + "\n"
    if fmt == "json":
        body = {"problems": [p.as_json() for p in problems], "summary": counts}
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    lines = [p.format() + "\n" for p in problems]
    lines.append(
        f"{counts['errors']} error(s), {counts['warnings']} warning(s) in {counts['files']} file(s); "
        f"{counts['entries']} entries, {counts['citations']} citations checked\n"
    )
    return "".join(lines)


def gh_annotations(problems: Sequence[Problem]) -> str:
    """GitHub Actions workflow commands (``::error file=…::``), one per problem."""
    out = []
    for p in problems:
        level = "error" if p.severity is Severity.ERROR else "warning"
        loc = f"file={p.file}" + (f",line={p.line}" if p.line else "") + (f",col={p.column}" if p.column else "")
        out.append(f"::{level} {loc},title={p.code}::{_gh_escape(p.message)}\n")
    return "".join(out)


def emit(problems: Sequence[Problem], counts: dict[str, int], fmt: str, out: TextIO, err: TextIO | None = None) -> None:
    """Write the report to ``out`` in one piece (and, under GitHub Actions, the annotations)."""
    text = render(problems, counts, fmt)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        # The runner reads workflow commands from stderr too; JSON on stdout stays parseable.
        if fmt in ("json", "sarif") and err is not None:
            out.write(text)
            err.write(gh_annotations(problems))
            return
        text += gh_annotations(problems)
    out.write(text)
