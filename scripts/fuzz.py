"""Random-mutation fuzzing of the three input parsers (a longer campaign than tests/test_fuzz.py).

Targets, each fed mutated copies of real inputs (this repository's and the test fixture's):

- ``note``: ``scholarly_build.inputs.notes.load_note`` on a note file's bytes;
- ``bib``:  ``scholarly_build.inputs.bibliography.load_bibliography`` on a .bib file's bytes;
- ``cite``: ``scholarly_build.checks.citations.find_citations`` on Markdown text (spawns pandoc, so far fewer cases).

A case passes when the target returns, or raises only what the engine turns into a reported problem
(``BuildFailed``; for ``cite`` also ``PandocError``/``RuntimeError``, which ``pipeline.scan_citations``
reports as ``parse``). Anything else is a crash: it is printed with the input that caused it (first
example per exception type and location), and saved under ``--crash-dir``. A returning case must also
keep the `path:line:` promise: a reported problem or a found citation without a line is counted and
printed as a PROPERTY violation (it does not fail the run).

    python scripts/fuzz.py --seconds 120 --seed 1             # 120 s per target
    python scripts/fuzz.py --seconds 30 --targets note,bib

Exit code 1 if any target crashed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scholarly_build.checks.citations import find_citations
from scholarly_build.core.pandoc import PandocError
from scholarly_build.core.problems import BuildFailed, Problems
from scholarly_build.inputs.bibliography import load_bibliography
from scholarly_build.inputs.notes import load_note
from scholarly_build.inputs.project import Project, load_project

REPO = Path(__file__).resolve().parents[1]
MINI = REPO / "tests" / "fixtures" / "mini"

# Fragments that matter to YAML, BibTeX and pandoc Markdown.
TOKENS: dict[str, list[bytes]] = {
    "note": [b"---", b"...", b"\t", b": ", b"- ", b"[", b"]", b"{", b"}", b'"', b"'", b"&a ", b"*a", b"!!str ",
             b"!!binary ", b"!!python/object ", b"null", b"~", b"2019-02-30", b"1999-13-01", b"yes", b".nan",
             b"key: ", b"uses:\n  alpha2018:\n    - locator: ", b"claims:\n  - claim: ", b"quotations:\n  - text: ",
             b"themes: ", b"p. 3", b"<<: ", b"? ", b"|\n", b">-\n", b"#", b"%YAML 1.1\n", b"\xef\xbb\xbf", b"\xff",
             b"\x00", b"\r\n", b"\n", b"  ", b"\xc3\xa9", b"\xe2\x80\x9c"],
    "bib": [b"@", b"@book{", b"@string{", b"@preamble{", b"@comment{", b"{", b"}", b"(", b")", b",", b"=", b'"',
            b"#", b"%", b"\\", b"\\\"", b"and", b" and ", b"crossref = {", b"month = jan", b"title = ",
            b"author = {", b"{{", b"}}", b"\n", b"\t", b"\xff", b"\x00", b"\xef\xbb\xbf", b"\xc3\xa9", b"12--34",
            b"year = 2000", b"@STRING{x = y}", b"pub"],
    "cite": [b"@", b"[@", b"]", b"[", b"-@", b"@{", b"}", b";", b", p. ", b", n. ", b", sec. ", b"`", b"```\n",
             b"~~~\n", b'"', b"\xe2\x80\x9c", b"\xe2\x80\x9d", b"^[", b"*", b"_", b"\n\n", b"> ", b"- ", b"| a |\n",
             b":::", b"{#", b"<", b">", b"\\", b"$", b"@fig:", b"[-@", b"\t", b"\xc3\xa9", b"\x00", b"a@b.org"],
}

# Replacement values for `name: value` (YAML) and `name = value` (BibTeX) lines.
VALUES: dict[str, list[bytes]] = {
    "note": [b"null", b"", b"~", b"2019-02-30", b"2001-13-01", b"[a, b]", b"[]", b"{}", b"{a: 1}", b"12", b"yes",
             b"!!binary zz", b"&x [1]", b"*x", b"'unterminated", b'"unterminated', b"[" * 1000 + b"]" * 1000,
             b"- a\n- b", b"!!set {a, b}", b"!!timestamp 2001-02-03", b"1e400", b".inf", b"0x1F", b"!!float x"],
    "cite": [],
    "bib": [b"{}", b"\"\"", b"pub", b"pub # {x}", b"{" * 300 + b"}" * 300, b"{and}", b"{, , ,}", b"12a", b"",
            b"{\\}", b"{a} # ", b"jan", b'"{"', b"{\\\"}"],
}


def seeds(target: str) -> list[bytes]:
    if target == "note":
        paths = sorted((MINI / "bib/notes").glob("*.md")) + sorted((REPO / "bib/notes").glob("*.md"))[:20]
    elif target == "bib":
        paths = [MINI / "bib/references.bib", REPO / "bib/references.bib"]
    else:
        paths = sorted((MINI / "manuscript/sections").glob("*.md")) + sorted(
            (REPO / "manuscript/sections").glob("*.md"))[:6]
    return [p.read_bytes() for p in paths if p.is_file()]


def mutate(rng: random.Random, data: bytes, target: str, corpus: list[bytes]) -> bytes:
    """Apply 1-6 random edits: deletions, insertions, duplications, truncation, splicing, key renames."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(11 if VALUES[target] else 9)
        pos = rng.randint(0, len(buf))
        if op == 0 and buf:  # delete a short run
            del buf[pos : pos + rng.randint(1, 8)]
        elif op == 1:  # insert a token
            buf[pos:pos] = rng.choice(TOKENS[target])
        elif op == 2:  # insert junk bytes
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
        elif op == 3 and buf:  # delete one structural character everywhere-ish
            ch = rng.choice(b"{}[]:,\"'@-\n")
            idx = [i for i, b in enumerate(buf) if b == ch]
            for i in sorted(rng.sample(idx, min(len(idx), rng.randint(1, 3))), reverse=True):
                del buf[i]
        elif op == 4:  # duplicate a block of lines
            lines = bytes(buf).splitlines(keepends=True)
            if lines:
                a = rng.randrange(len(lines))
                b = min(len(lines), a + rng.randint(1, 12))
                lines[b:b] = lines[a:b]
                buf = bytearray(b"".join(lines))
        elif op == 5:  # truncate
            del buf[pos:]
        elif op == 6:  # splice a piece of another seed
            other = rng.choice(corpus)
            a = rng.randint(0, len(other))
            buf[pos:pos] = other[a : a + rng.randint(1, 200)]
        elif op == 7:  # rename a key: change a run of letters after `{`, `key: ` or `@`
            text = bytes(buf)
            marks = [i for i in range(len(text)) if text[i : i + 1] in (b"{", b"@") or text[i : i + 5] == b"key: "]
            if marks:
                i = rng.choice(marks) + 1
                buf[i:i] = rng.choice([b"X", b"-", b"_", b":", b" ", b"\xc3\xa9", b"Key"])
        elif op >= 9:  # replace the value of a `name: value` / `name = value` line
            lines = bytes(buf).splitlines(keepends=True)
            sep = b": " if target == "note" else b"= "
            idx = [i for i, line in enumerate(lines) if sep in line]
            if idx:
                i = rng.choice(idx)
                head = lines[i][: lines[i].index(sep) + len(sep)]
                tail = b",\n" if target == "bib" else b"\n"
                lines[i] = head + rng.choice(VALUES[target]) + tail
                buf = bytearray(b"".join(lines))
        else:  # swap two lines
            lines = bytes(buf).splitlines(keepends=True)
            if len(lines) > 1:
                a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
                lines[a], lines[b] = lines[b], lines[a]
                buf = bytearray(b"".join(lines))
    return bytes(buf)


@dataclass
class Stats:
    cases: int = 0
    slowest: float = 0.0
    crashes: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    violations: dict[str, tuple[bytes, str, int]] = field(default_factory=dict)  # kind -> (first input, text, count)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "scholarly_build" in f.filename]
    last = (ours or frames)[-1]
    return f"{Path(last.filename).name}:{last.lineno}"


def make_runner(target: str, work: Path, project: Project) -> Callable[[bytes], str | None]:
    """A function that runs the target on one input and returns a property violation, if any.

    Besides not crashing, every reported problem and every citation found must have a line (>= 1):
    the engine promises `path:line: …` messages.
    """
    if target == "note":
        path = work / "bib" / "notes" / "gamma1999.md"
        path.parent.mkdir(parents=True, exist_ok=True)

        def run_note(data: bytes) -> str | None:
            path.write_bytes(data)
            problems = Problems(work)
            load_note(path, project, problems)
            bad = [p.format() for p in problems if p.line < 1]
            return f"problem without a line: {bad[0]}" if bad else None

        return run_note
    if target == "bib":
        bib = work / "refs.bib"

        def run_bib(data: bytes) -> str | None:
            bib.write_bytes(data)
            problems = Problems(work)
            load_bibliography([bib], problems)
            bad = [p.format() for p in problems if p.line < 1]
            return f"problem without a line: {bad[0]}" if bad else None

        return run_bib
    md = work / "section.md"

    def run_cite(data: bytes) -> str | None:
        # Files reach find_citations only after read_text decoded them as UTF-8.
        text = data.decode("utf-8", "replace")
        found = find_citations(md, text, ("fig:", "tbl:", "eq:", "sec:"))
        bad = [c.key for c in found if c.line < 1]
        return f"citation without a line: {bad[0]!r}" if bad else None

    return run_cite


def allowed(target: str) -> tuple[type[BaseException], ...]:
    return (BuildFailed, PandocError, RuntimeError) if target == "cite" else (BuildFailed,)


def campaign(target: str, seconds: float, rng: random.Random, project: Project, crash_dir: Path | None) -> Stats:
    stats = Stats()
    corpus = seeds(target)
    ok = allowed(target)
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as tmp:
        run = make_runner(target, Path(tmp), project)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            data = mutate(rng, rng.choice(corpus), target, corpus)
            t0 = time.monotonic()
            try:
                violation = run(data)
            except ok:
                violation = None
            except Exception as exc:  # noqa: BLE001 - every other exception is what we hunt
                sig = (type(exc).__name__, _where(exc))
                if sig not in stats.crashes:
                    stats.crashes[sig] = (data, f"{type(exc).__name__}: {exc}")
                    if crash_dir is not None:
                        crash_dir.mkdir(parents=True, exist_ok=True)
                        name = f"{target}-{sig[0]}-{sig[1].replace(':', '-')}"
                        (crash_dir / name).write_bytes(data)
            else:
                if violation is not None:
                    kind = violation.split(":")[0]
                    first = stats.violations.get(kind, (data, violation, 0))
                    stats.violations[kind] = (first[0], first[1], first[2] + 1)
            stats.slowest = max(stats.slowest, time.monotonic() - t0)
            stats.cases += 1
    return stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--seconds", type=float, default=60.0, help="time per target (default 60)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--targets", default="note,bib,cite", help="comma list of note,bib,cite")
    p.add_argument("--crash-dir", type=Path, default=None, help="save each crashing input here")
    args = p.parse_args(argv)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    rng = random.Random(args.seed)  # noqa: S311 - fuzzing, not cryptography
    project = load_project(MINI)
    crashed = False
    for target in args.targets.split(","):
        stats = campaign(target, args.seconds, rng, project, args.crash_dir)
        print(f"{target}: {stats.cases} cases in {args.seconds:.0f} s (seed {args.seed}), "
              f"{len(stats.crashes)} distinct crash(es), slowest case {stats.slowest:.2f} s")
        for kind, (data, message, count) in sorted(stats.violations.items()):
            print(f"  PROPERTY {kind} in {count} case(s); first: {message[:200]}")
            print(f"    input ({len(data)} bytes): {data[:600]!r}{' …' if len(data) > 600 else ''}")
        for (name, where), (data, message) in sorted(stats.crashes.items()):
            crashed = True
            print(f"  CRASH {name} at {where}: {message[:200]}")
            print(f"    input ({len(data)} bytes): {data[:600]!r}{' …' if len(data) > 600 else ''}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
