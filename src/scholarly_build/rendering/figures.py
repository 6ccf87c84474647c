"""Running figure scripts: ``python SCRIPT --data DATA --out STEM`` -> STEM.pdf/.png.

Each figure is re-run only when its script or data changed (content hashes).
:func:`plan_figures` checks the paths and computes each figure's digest without
running anything, so the build can declare its outputs first and then run the
scripts in parallel (:func:`run_figure`, one per worker). This module must not
decide what else is rebuilt, and a script's files land only inside ``build/``.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scholarly_build.core.fsutil import sha256_bytes, write_atomic
from scholarly_build.core.limits import ToolLimitExceeded
from scholarly_build.core.problems import BuildFailed
from scholarly_build.core.safety import require_inside
from scholarly_build.inputs.notes import Note
from scholarly_build.inputs.project import Figure, Project
from scholarly_build.rendering import figurehost

if TYPE_CHECKING:
    from scholarly_build.rendering.earlyfigures import EarlyRuns


@dataclass(frozen=True)
class FigureResult:
    """A figure's two files, and whether its script ran in this build."""

    id: str
    pdf: Path
    png: Path
    ran: bool


@dataclass(frozen=True)
class FigurePlan:
    """One figure before it runs: its script, data, digest (script + data) and whether it must run."""

    figure: Figure
    script: Path
    data: Path
    digest: str
    pdf: Path
    png: Path
    needs_run: bool


def coverage_csv(project: Project, notes: dict[str, Note]) -> str:
    """Theme x work counts: notes on the theme that the work uses."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["theme_id", "theme_label", "work_key", "work_label", "count"])
    for theme in project.themes:
        for work in project.works:
            count = sum(1 for n in notes.values() if theme.id in n.themes and n.uses_by(work.key))
            writer.writerow([theme.id, theme.label, work.key, work.label, count])
    return out.getvalue()


def _check_path(project: Project, figure: Figure, path: Path, what: str) -> None:
    if not path.is_file():
        raise BuildFailed(
            f"{project.settings_path.relative_to(project.root)}:{figure.line}: error missing-file: "
            f"figure {figure.id!r}: {what} {path.relative_to(project.root) if project.inside(path) else path} "
            "does not exist\n    hint: fix the path in `figures`"
        )
    if not project.inside(path):
        raise BuildFailed(
            f"{project.settings_path.relative_to(project.root)}:{figure.line}: error unsafe-path: "
            f"figure {figure.id!r}: {what} resolves outside the project"
        )


def plan_figures(project: Project, notes: dict[str, Note], state: dict[str, str]) -> list[FigurePlan]:
    """Check each figure's paths, write the notes' coverage data, and say which figures must run."""
    out_dir = project.build_dir / "figures"
    plans = []
    for figure in project.figures:
        if figure.data is None:
            data = require_inside(out_dir / "data" / f"{figure.id}.csv", project.build_dir, "figure data")
            content = coverage_csv(project, notes).encode()
            if not data.is_file() or data.read_bytes() != content:
                write_atomic(data, content)
        else:
            data = project.root / figure.data
        plans.append(plan_figure(project, figure, data, state))
    return plans


def plan_figure(project: Project, figure: Figure, data: Path, state: dict[str, str]) -> FigurePlan:
    """One figure's plan, its script and ``data`` checked (a data file named in the settings, or the coverage CSV)."""
    script = project.root / figure.script
    _check_path(project, figure, script, "script")
    if figure.data is not None:
        _check_path(project, figure, data, "data file")
    stem = require_inside(project.build_dir / "figures" / figure.id, project.build_dir, f"figure {figure.id!r}")
    digest = sha256_bytes(script.read_bytes() + b"\0" + data.read_bytes())
    pdf, png = stem.with_name(stem.name + ".pdf"), stem.with_name(stem.name + ".png")
    fresh = state.get(f"figure:{figure.id}") == digest and pdf.is_file() and png.is_file()
    return FigurePlan(figure, script, data, digest, pdf, png, needs_run=not fresh)


def may_run_figures(project: Project, state: dict[str, str]) -> bool:
    """Before the check: whether a figure script will probably run (the build warms the figure server).

    A guess, never a decision: the coverage figure's data comes from the notes, so only a
    first run is foreseen for it; :func:`plan_figures` decides after the check.
    """
    for figure in project.figures:
        if f"figure:{figure.id}" not in state:
            return True
        if figure.data is not None:
            try:
                if plan_figure(project, figure, project.root / figure.data, state).needs_run:
                    return True
            except (BuildFailed, OSError):
                continue  # plan_figures reports it
    return False


def run_figure(project: Project, plan: FigurePlan, env: dict[str, str], early: EarlyRuns | None = None) -> FigureResult:
    """Run one figure's script and move its two files into place (safe to call from a worker thread).

    If ``early`` ran this very script and data while the check ran, its files are taken instead.
    """
    made = early.take(plan) if early is not None else None
    if made is None:
        tmp_stem = require_inside(
            project.build_dir / "figures" / ".tmp" / plan.figure.id, project.build_dir, f"figure {plan.figure.id!r}"
        )
        made = execute(project, plan, env, tmp_stem)
    os.replace(made[".pdf"], plan.pdf)
    os.replace(made[".png"], plan.png)
    return FigureResult(plan.figure.id, plan.pdf, plan.png, ran=True)


def execute(
    project: Project,
    plan: FigurePlan,
    env: dict[str, str],
    tmp_stem: Path,
    on_start: Callable[[int], None] | None = None,
) -> dict[str, Path]:
    """Run the script, writing ``tmp_stem``.pdf and .png; the two files, or BuildFailed naming the script."""
    figure, data = plan.figure, plan.data
    tmp_stem.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Its own process group: at the time limit the script's children die with it.
        proc = figurehost.run_script(
            plan.script,
            ["--data", str(data), "--out", str(tmp_stem)],
            cwd=project.root,
            env={**os.environ, **env, "MPLBACKEND": "Agg"},
            on_start=on_start,
        )
    except ToolLimitExceeded as exc:
        raise BuildFailed(
            f"{figure.script}: error limit: figure {figure.id!r}: {exc}; it was stopped with its child processes"
            f"\n    hint: {exc.hint}"
        ) from None
    if proc.returncode != 0:
        raise BuildFailed(
            f"{figure.script}: error figure: the figure script failed (exit {proc.returncode}); its output:\n"
            + "\n".join("    " + line for line in (proc.stderr or proc.stdout).rstrip().splitlines()[-25:])
            + f"\n    hint: run it yourself: python {figure.script} "
            f"--data {data.relative_to(project.root)} --out /tmp/{figure.id}"
        )
    made = {p: tmp_stem.with_name(tmp_stem.name + p) for p in (".pdf", ".png")}
    missing = [s for s, p in made.items() if not p.is_file()]
    if missing:
        raise BuildFailed(
            f"{figure.script}: error figure: the script did not write {', '.join(missing)} "
            "(it must write OUT.pdf and OUT.png)"
        )
    return made


def build_figures(
    project: Project,
    notes: dict[str, Note],
    env: dict[str, str],
    state: dict[str, str],
    log: list[str],
) -> list[FigureResult]:
    """Run, one after another, every figure whose script or data changed (``invoke figures``)."""
    results = []
    for plan in plan_figures(project, notes, state):
        if not plan.needs_run:
            results.append(FigureResult(plan.figure.id, plan.pdf, plan.png, ran=False))
            continue
        results.append(run_figure(project, plan, env))
        state[f"figure:{plan.figure.id}"] = plan.digest
        log.append(f"figure {plan.figure.id}")
    return results
