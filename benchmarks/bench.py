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
from scholarly_build.rendering.render import RenderJob, latexmk, run_job


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _capture_jobs(root: Path) -> list[RenderJob]:
    """A forced build; its report lists the render jobs the floor replays."""
    return build_mod.build(root, BuildOptions(force=True), Console(file=io.StringIO())).jobs


def _tex_pass(project: Path, jobs: list[RenderJob], scratch: Path) -> float:
    """One latexmk run of the annotated bibliography's PDF as the last build left it (its .aux and
    record in place, so one XeLaTeX pass): what a one-note edit cannot do without."""
    job = next(j for j in jobs if j.name.startswith("annotated-bibliography.tex"))
    work = project / "build" / ".work" / job.work_dir.name
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(work, scratch)
    for leftover in (*scratch.glob("*.pdf"), *scratch.glob("*.xdv")):
        leftover.unlink()
    return _time(partial(latexmk, scratch / job.outputs[0].name, job.pdf_engine, job.env))


def bench(root: Path, runs: int = 3) -> str:
    quiet = Console(file=io.StringIO())
    keys = ("floor", "cold", "noop", "note", "figure", "pass")
    results: dict[str, list[float]] = {k: [] for k in keys}
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
            results["pass"].append(_tex_pass(project, jobs, Path(tmp) / "pass"))
            data = project / "figures" / "data" / "timeline.csv"
            data.write_text(data.read_text() + f"# bench edit {i}\n")
            results["figure"].append(_time(lambda: build_mod.build(project, BuildOptions(), quiet)))
    return _table(results, runs)


def _table(results: dict[str, list[float]], runs: int) -> str:
    """Medians of the seconds; each ratio taken within a run (the machine's speed drifts between
    runs more than between the builds of one run), as its median and range."""
    labels = {
        "floor": "floor (raw commands)",
        "cold": "cold full build",
        "noop": "no-op build",
        "note": "one-note edit",
        "figure": "one-figure-data edit",
        "pass": "  its TeX pass alone",
    }

    def ratio(key: str, base: str) -> str:
        values = sorted(a / b for a, b in zip(results[key], results[base], strict=True))
        spread = f" ({values[0]:.2f}-{values[-1]:.2f})" if len(values) > 1 else ""
        return f"{statistics.median(values):.2f}{spread}"

    lines = [
        f"median of {runs} run(s); floor = the same pandoc + latexmk commands run back to back;",
        "ratios within each run: median (lowest-highest); 'its TeX pass alone' = one latexmk run of",
        "the annotated bibliography's PDF after the note edit, the part of that edit no build can skip",
        f"{'measurement':28} {'seconds':>8} {'/ floor':>18} {'/ cold':>18}",
    ]
    for key, label in labels.items():
        lines.append(
            f"{label:28} {statistics.median(results[key]):8.2f} {ratio(key, 'floor'):>18} {ratio(key, 'cold'):>18}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (the median is reported)")
    parser.add_argument("--root", default=".", help="the project to measure")
    args = parser.parse_args()
    print(bench(Path(args.root), runs=args.runs))
