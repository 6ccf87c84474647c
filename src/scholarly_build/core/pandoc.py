"""The one place that talks to pandoc (the pinned binary shipped by pypandoc).

Every call goes through :func:`run`, within the limits of ``core.limits``, and
every Markdown input is read with :data:`READER` (raw TeX and HTML off), so
untrusted text reaches any output escaped. Callers must not start pandoc any
other way, nor turn those extensions back on.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pypandoc

from scholarly_build.core.limits import ToolLimitExceeded, run_limited
from scholarly_build.core.problems import BuildFailed

# Raw TeX/HTML and raw-attribute blocks are disabled for every input: notes and
# sections may come from untrusted pull requests, and with these extensions off
# anything that looks like LaTeX or HTML reaches the output escaped, as text.
READER = "markdown-raw_html-raw_tex-raw_attribute"


class PandocError(Exception):
    """pandoc failed or hit a limit: the message, pandoc's stderr, and a hint when a limit stopped it."""

    def __init__(self, message: str, stderr: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.stderr = stderr
        self.hint = hint  # set when a limit stopped pandoc


MISSING = (
    "error tools: pandoc was not found (it ships with the pinned pypandoc_binary package)\n"
    "    hint: pip install pypandoc_binary==1.17 (or the project: pip install -e .); `invoke doctor` lists every tool"
)


@functools.lru_cache(maxsize=1)
def pandoc_path() -> str:
    """Path of the pinned pandoc binary; :class:`BuildFailed` with install advice when it is absent."""
    try:
        return str(pypandoc.get_pandoc_path())
    except OSError:
        raise BuildFailed(MISSING) from None


def pandoc_version() -> str:
    """Version of the pinned pandoc (for the manifest and ``doctor``); BuildFailed when it is absent."""
    try:
        return str(pypandoc.get_pandoc_version())
    except OSError:
        raise BuildFailed(MISSING) from None


def run(
    args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the pinned pandoc; raise PandocError with its stderr on failure."""
    try:
        proc = run_limited(
            [pandoc_path(), *args], tool="pandoc", cwd=cwd, env={**os.environ, **(env or {})}, stdin=stdin
        )
    except (FileNotFoundError, PermissionError):
        raise BuildFailed(MISSING) from None
    except ToolLimitExceeded as exc:
        raise PandocError(str(exc), f"{exc}\n    hint: {exc.hint}", exc.hint) from None
    if proc.returncode != 0:
        raise PandocError(f"pandoc exited with status {proc.returncode}", proc.stderr)
    return proc


def parse_markdown(text: str) -> dict[str, Any]:
    """Markdown -> pandoc JSON AST, in the sandbox (parsing needs no files).

    Calls the pinned binary directly: pypandoc's wrapper re-validates the binary on
    every call, which dominated checks of many files.
    """
    out = run(["--from", READER, "--to", "json", "--sandbox"], stdin=text).stdout
    result: dict[str, Any] = json.loads(out)
    return result


MULTI_READER = Path(__file__).with_name("multiread.lua")


def parse_many(texts: list[str]) -> list[dict[str, Any]]:
    """Several Markdown texts -> their ASTs, in one sandboxed pandoc process.

    The same ASTs as :func:`parse_markdown` on each text (``multiread.lua`` reads each
    with pandoc's own reader options; ``tests/test_pandoc_batch.py`` compares them on
    every note and section of this repository), without starting a process per text,
    which was most of the cost of parsing short notes. Raises PandocError when any text
    fails: the caller then parses them one by one to say which.
    """
    if len(texts) <= 1:
        return [parse_markdown(t) for t in texts]
    request = json.dumps({"format": READER, "texts": texts})
    out = run(["--from", str(MULTI_READER), "--to", "json", "--sandbox"], stdin=request).stdout
    combined = json.loads(out)
    docs = combined["meta"]["docs"]["c"]
    if len(docs) != len(texts):  # pragma: no cover - the reader returns one entry per text
        raise PandocError(f"pandoc returned {len(docs)} documents for {len(texts)} texts", "")
    api = combined["pandoc-api-version"]
    return [{"pandoc-api-version": api, "meta": d["c"]["meta"]["c"], "blocks": d["c"]["blocks"]["c"]} for d in docs]
