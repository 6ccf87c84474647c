"""`invoke bench-check`: how close a full check comes to pybtex's bare parse.

Generates a 10,000-entry .bib and manuscripts with 1,000 citations, then times
(1) pybtex parsing the file alone, (2) a cold check (empty cache) and (3) a
repeated check (parsed bibliography and citations cached by content hash),
interleaved run by run, in wall-clock seconds and in CPU seconds (the process's
threads plus its child processes: steadier than wall time on a shared machine).
A benchmark script: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pybtex.errors
from pybtex.database.input.bibtex import Parser

from scholarly_build.building.pipeline import load_and_check
from scholarly_build.core.problems import Problems

TYPES = ("article", "book", "incollection", "online")


def make_bib(n: int, rng: random.Random) -> str:
    out = []
    for i in range(n):
        kind = TYPES[i % len(TYPES)]
        fields = [
            f"  author = {{Author{i}, Given and Second{i % 97}, Other}}",
            f"  title = {{A Study of Topic {i}: {{Belarus}} and Its Neighbours}}",
            f"  date = {{{1950 + i % 70}}}",
        ]
        if kind == "article":
            fields += [
                f"  journaltitle = {{Journal {i % 50}}}",
                f"  pages = {{{i % 300 + 1}--{i % 300 + 20}}}",
                f"  volume = {{{i % 40}}}",
            ]
        elif kind == "book":
            fields += [f"  publisher = {{Press {i % 30}}}", "  location = {Prague}"]
        elif kind == "incollection":
            fields += [f"  booktitle = {{Collected Essays {i % 80}}}", f"  editor = {{Editor{i % 20}, E.}}"]
        else:
            fields += [f"  url = {{https://example.org/{i}}}", "  urldate = {2016-05-17}"]
        out.append(f"@{kind}{{key{i},\n" + ",\n".join(fields) + ",\n}\n")
    rng.shuffle(out)
    return "\n".join(out)


def make_manuscripts(directory: Path, entries: int, citations: int, files: int, rng: random.Random) -> list[Path]:
    paths = []
    per_file = citations // files
    for f in range(files):
        lines = [f"# Section {f}\n"]
        for c in range(per_file):
            key = f"key{rng.randrange(entries)}"
            form = c % 3
            cite = f"[@{key}, p. {c % 20 + 1}]" if form == 0 else f"@{key}" if form == 1 else f"[see @{key}; @key{c}]"
            lines.append(f"Sentence {c} about the argument {cite}.\n")
        path = directory / f"section-{f:02d}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        paths.append(path)
    return paths


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _time(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (this process's threads and its child processes) of ``fn()``."""
    w0, c0 = time.perf_counter(), _cpu()
    fn()
    return time.perf_counter() - w0, _cpu() - c0


def bench_check(entries: int = 10_000, citations: int = 1_000, runs: int = 3) -> str:
    """Generate the inputs, time the parse and both checks, and return the table."""
    rng = random.Random(20161)  # noqa: S311 - reproducible test data, not cryptography
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        root = Path(tmp)
        bib = root / "refs.bib"
        bib.write_text(make_bib(entries, rng), encoding="utf-8")
        manuscripts = make_manuscripts(root, entries, citations, files=10, rng=rng)
        cache = root / "cache"

        def parse_only() -> None:
            with pybtex.errors.capture():
                Parser().parse_file(str(bib))

        def check(fresh: bool) -> None:
            if fresh and cache.exists():
                shutil.rmtree(cache)
            load_and_check(
                bib_paths=[bib],
                manuscripts=manuscripts,
                notes_dir=None,
                project=None,
                problems=Problems(root),
                cache_dir=cache,
            )

        check(False)  # imports and first-use costs out of the way
        times: dict[str, list[tuple[float, float]]] = {"parse": [], "cold": [], "warm": []}
        # Interleaved, one of each per run: on a shared machine the load drifts, and the
        # ratios should compare measurements taken in the same period.
        for _ in range(runs):
            times["parse"].append(_time(parse_only))
            times["cold"].append(_time(lambda: check(True)))
            times["warm"].append(_time(lambda: check(False)))
    wall = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in times.items()}
    rows = (("pybtex parse only", "parse"), ("check, cold cache", "cold"), ("check, repeated", "warm"))
    return "\n".join(
        [
            f"{entries} entries, {citations} citations in 10 files; median of {runs} interleaved runs",
            f"{'':24} {'wall s':>7} {'/ parse':>8} {'CPU s':>7} {'/ parse':>8}",
            *(
                f"{label:24} {wall[k]:7.2f} {wall[k] / wall['parse']:8.2f} {cpu[k]:7.2f} {cpu[k] / cpu['parse']:8.2f}"
                for label, k in rows
            ),
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (the median is reported)")
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--citations", type=int, default=1_000)
    args = parser.parse_args()
    print(bench_check(entries=args.entries, citations=args.citations, runs=args.runs))
