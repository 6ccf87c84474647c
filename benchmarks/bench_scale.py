"""`invoke bench --scale`: the build at thesis scale, stage by stage, and how each stage grows.

For each size (notes; the paper grows with them, about 40 PDF pages per 50 notes)
a project is generated (``benchmarks/scale.py``) and timed: a cold build (empty
``build/``), a no-op build, a one-note edit and a warm ``check``. Each is split
by stage: check, assembly, declaring the outputs, each figure script and each
render (seconds of that job; the renders run two at a time, so they overlap),
install + manifest, and the total. The slope is the exponent of a least-squares
fit of log(time) against log(size) per stage: 1 is linear, 2 quadratic. A
benchmark script: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import generate

from scholarly_build.building.build import BuildOptions, BuildReport, build
from scholarly_build.building.pipeline import check_project
from scholarly_build.core.problems import Problems
from scholarly_build.inputs.project import load_project

KINDS = ("cold", "noop", "edit")
Row = dict[str, float]


def _stages(report: BuildReport) -> Row:
    """One build's seconds per stage, figure scripts summed, each render on its own."""
    row = {k: v for k, v in report.stages.items() if k != "jobs (wall)"}
    row["figures"] = sum(v for k, v in report.job_seconds.items() if k.startswith("figure "))
    row.update({f"render {k}": v for k, v in report.job_seconds.items() if not k.startswith("figure ")})
    row["renders (wall, 2 workers)"] = report.stages.get("jobs (wall)", 0.0)
    row["total"] = report.seconds
    return row


def _timed_check(root: Path) -> float:
    t0 = time.perf_counter()
    project = load_project(root)
    check_project(project, Problems(project.root))
    return time.perf_counter() - t0


def measure(root: Path, runs: int = 1) -> tuple[dict[str, Row], float]:
    """Median stage seconds of cold, no-op and one-note-edit builds of ``root``, and a warm check's seconds."""
    quiet = Console(file=io.StringIO())
    rows: dict[str, list[Row]] = {k: [] for k in KINDS}
    checks: list[float] = []
    note = sorted((root / "bib" / "notes").glob("scale*.md"))[-1]
    for i in range(runs):
        shutil.rmtree(root / "build", ignore_errors=True)
        steps: dict[str, Callable[[], BuildReport]] = {
            "cold": lambda: build(root, BuildOptions(force=True), quiet),
            "noop": lambda: build(root, BuildOptions(), quiet),
        }
        for kind, step in steps.items():
            rows[kind].append(_stages(step()))
        note.write_text(note.read_text() + f"\nScale edit {i}.\n")
        rows["edit"].append(_stages(build(root, BuildOptions(), quiet)))
        checks.append(_timed_check(root))
    med = {kind: _median_rows(rs) for kind, rs in rows.items()}
    return med, statistics.median(checks)


def _median_rows(rows: list[Row]) -> Row:
    keys = sorted({k for r in rows for k in r})
    return {k: statistics.median(r.get(k, 0.0) for r in rows) for k in keys}


def slope(sizes: list[int], seconds: list[float]) -> float | None:
    """Exponent of the least-squares line through (log size, log seconds); None with fewer than 2 usable points."""
    points = [(math.log(n), math.log(t)) for n, t in zip(sizes, seconds, strict=True) if t > 0]
    if len(points) < 2:
        return None
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else None


def report(results: dict[int, tuple[dict[str, Row], float]], runs: int) -> str:
    """The table per size and the slopes, as text."""
    sizes = sorted(results)
    lines = [f"median of {runs} run(s) per size; seconds; renders overlap on 2 workers (their sum exceeds the wall)"]
    for n in sizes:
        rows, check = results[n]
        stages = sorted({k for r in rows.values() for k in r}, key=_stage_order)
        lines += ["", f"{n} notes", f"{'stage':58} " + " ".join(f"{k:>8}" for k in KINDS)]
        for stage in stages:
            lines.append(f"{stage:58} " + " ".join(f"{rows[k].get(stage, 0.0):8.2f}" for k in KINDS))
        lines.append(f"{'check (warm, alone)':58} {check:8.2f}")
        lines.append(f"{'one-note edit / cold':58} {rows['edit']['total'] / rows['cold']['total']:8.2f}")
    if len(sizes) > 1:
        lines += ["", f"slope of log(seconds) against log(notes), sizes {', '.join(map(str, sizes))} (1 = linear)"]
        stages = sorted({k for n in sizes for r in results[n][0].values() for k in r}, key=_stage_order)
        for kind in KINDS:
            for stage in stages:
                fit = slope(sizes, [results[n][0][kind].get(stage, 0.0) for n in sizes])
                if fit is not None:
                    lines.append(f"{kind:5} {stage:58} {fit:5.2f}")
        fit = slope(sizes, [results[n][1] for n in sizes])
        lines.append(f"{'check':5} {'(warm, alone)':58} {fit if fit is not None else float('nan'):5.2f}")
    return "\n".join(lines)


def _stage_order(stage: str) -> tuple[int, str]:
    order = ["check", "assembly", "declare", "figures", "render", "renders", "install", "total"]
    return next((i for i, p in enumerate(order) if stage.startswith(p)), len(order)), stage


def bench_scale(sizes: list[int], runs: int = 1, words_per_note: int = 400) -> str:
    """Generate, measure and report every size."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for n in sizes:
            root = generate(Path(tmp) / f"notes-{n}", n, words_per_note=words_per_note)
            results[n] = measure(root, runs)
            print(f"measured {n} notes", file=sys.stderr, flush=True)
    return report(results, runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="50,250,1000", help="comma list of note counts (default 50,250,1000)")
    parser.add_argument("--runs", type=int, default=1, help="runs per size (the median is reported)")
    parser.add_argument("--words-per-note", type=int, default=400, help="prose per note in the paper")
    args = parser.parse_args()
    print(bench_scale([int(s) for s in args.sizes.split(",")], runs=args.runs, words_per_note=args.words_per_note))
