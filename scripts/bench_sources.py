"""Time what checking against the sources adds to a warm `check` of this repository.

    python scripts/bench_sources.py [--runs 9]

Runs `check_project` in-process, warm (caches filled by a first run), with the
settings' `sources:` and with none, and prints both medians and their difference,
plus the median of the source checks alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

from scholarly_build.building.pipeline import check_project
from scholarly_build.checks.quotecheck import run_source_checks
from scholarly_build.core.problems import Problems
from scholarly_build.inputs.project import load_project
from scholarly_build.inputs.sources import SourceSettings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1]))
    args = parser.parse_args()
    with_sources = load_project(Path(args.root))
    without = dataclasses.replace(with_sources, sources=SourceSettings())

    def once(project: object) -> float:
        start = time.perf_counter()
        check_project(project, Problems(with_sources.root))  # type: ignore[arg-type]
        return time.perf_counter() - start

    once(with_sources)  # warm the caches
    timings: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(args.runs):
        timings["without"].append(once(without))
        timings["with"].append(once(with_sources))
    inputs = check_project(without, Problems(with_sources.root))
    alone = []
    for _ in range(args.runs):
        start = time.perf_counter()
        report = run_source_checks(with_sources, inputs.notes, inputs.manuscripts, Problems(with_sources.root))
        alone.append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in timings.items()}
    print(f"warm check without sources: {med['without']:.3f} s (median of {args.runs})")
    print(f"warm check with sources:    {med['with']:.3f} s")
    print(f"added:                      {med['with'] - med['without']:+.3f} s")
    print(f"source checks alone:        {statistics.median(alone):.3f} s; {report.line()}")


if __name__ == "__main__":
    main()
