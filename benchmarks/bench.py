"""`invoke bench`: build timings as ratios to the floor, measured in the same run.

The floor is the same pandoc and latexmk invocations the build makes, on the same
assembled inputs, run back to back with no checks, no assembly, no caching and
no parallelism: each render runs pandoc from the Markdown on its own (the build
shares a document's citeproc step among its formats; the floor does not, as a
plain pandoc command per output would not). A benchmark script, not a test: it prints, it asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from rich.console import Console

from scholarly_build.building import build as build_mod
from scholarly_build.building.build import BuildOptions
from scholarly_build.building.reproducible import copy_project
from scholarly_build.rendering.render import RenderJob, run_job


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _capture_jobs(root: Path) -> list[RenderJob]:
    """A forced build; its report lists the render jobs the floor replays."""
    return build_mod.build(root, BuildOptions(force=True), Console(file=io.StringIO())).jobs


def bench(root: Path, runs: int = 3) -> str:
    quiet = Console(file=io.StringIO())
    results: dict[str, list[float]] = {k: [] for k in ("floor", "cold", "noop", "note", "figure")}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        project = Path(tmp) / "project"
        copy_project(root.resolve(), project)
        jobs = _capture_jobs(project)  # warm-up, and the jobs the floor replays
        for i in range(runs):
            floor_dir = Path(tmp) / f"floor-{i}"
            fresh = [
                dataclasses.replace(j, work_dir=floor_dir / j.work_dir.name, aux_dir=None, shared=None) for j in jobs
            ]
            results["floor"].append(sum(_time(partial(run_job, job)) for job in fresh))
            shutil.rmtree(project / "build")  # cold: nothing cached, latexmk starts from scratch
            results["cold"].append(_time(lambda: build_mod.build(project, BuildOptions(force=True), quiet)))
            results["noop"].append(_time(lambda: build_mod.build(project, BuildOptions(), quiet)))
            note = sorted((project / "bib" / "notes").glob("*.md"))[-1]
            note.write_text(note.read_text() + f"\nBench edit {i}.\n")
            results["note"].append(_time(lambda: build_mod.build(project, BuildOptions(), quiet)))
            data = project / "figures" / "data" / "timeline.csv"
            data.write_text(data.read_text() + f"# bench edit {i}\n")
            results["figure"].append(_time(lambda: build_mod.build(project, BuildOptions(), quiet)))
    med = {k: statistics.median(v) for k, v in results.items()}
    lines = [
        f"median of {runs} run(s); floor = the same pandoc + latexmk commands run back to back",
        f"{'measurement':28} {'seconds':>8} {'/ floor':>8} {'/ cold':>8}",
    ]
    labels = {
        "floor": "floor (raw commands)",
        "cold": "cold full build",
        "noop": "no-op build",
        "note": "one-note edit",
        "figure": "one-figure-data edit",
    }
    for key, label in labels.items():
        lines.append(f"{label:28} {med[key]:8.2f} {med[key] / med['floor']:8.2f} {med[key] / med['cold']:8.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (the median is reported)")
    parser.add_argument("--root", default=".", help="the project to measure")
    args = parser.parse_args()
    print(bench(Path(args.root), runs=args.runs))
