"""Printing problems: human lines, JSON (a stable contract), GitHub annotations."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TextIO

from scholarly_build.core.problems import Problem, Severity


def summary(problems: Sequence[Problem], *, files: int, entries: int, citations: int) -> dict[str, int]:
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


def emit(problems: Sequence[Problem], counts: dict[str, int], fmt: str, out: TextIO, err: TextIO | None = None) -> None:
    if fmt == "sarif":
        json.dump(sarif(problems, counts), out, indent=2, ensure_ascii=False)
        out.write("\n")
    elif fmt == "json":
        json.dump({"problems": [p.as_json() for p in problems], "summary": counts}, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        for p in problems:
            out.write(p.format() + "\n")
        out.write(
            f"{counts['errors']} error(s), {counts['warnings']} warning(s) in {counts['files']} file(s); "
            f"{counts['entries']} entries, {counts['citations']} citations checked\n"
        )
    if os.environ.get("GITHUB_ACTIONS") == "true":
        # The runner reads workflow commands from stderr too; JSON on stdout stays parseable.
        stream = (err or out) if fmt in ("json", "sarif") else out
        for p in problems:
            level = "error" if p.severity is Severity.ERROR else "warning"
            loc = f"file={p.file}" + (f",line={p.line}" if p.line else "") + (f",col={p.column}" if p.column else "")
            stream.write(f"::{level} {loc},title={p.code}::{_gh_escape(p.message)}\n")
