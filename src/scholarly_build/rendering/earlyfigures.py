"""Figure scripts started while the check still runs, on the core the check leaves idle.

A figure whose data is a file of the project (not the notes' coverage) needs nothing
the check produces, so :class:`EarlyRuns` runs those that are stale, one after
another, as soon as the build starts. Their files land in ``build/figures/.early/``
and count only if the build, once the check passed, plans the very same script and
data (the same digest): :meth:`EarlyRuns.take` then hands them over, waiting if the
script is still running, and the figure's own task runs nothing. A failed check
stops and kills them (:meth:`EarlyRuns.close`) and nothing of theirs is installed.
Measured on the 2-core machine, in a cold build of this repository: one of its three
scripts runs beside the check (the fork server's imports take the first second), and
the paper's renders start 0.2-0.3 s sooner.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

from scholarly_build.core import limits
from scholarly_build.core.problems import BuildFailed
from scholarly_build.core.safety import require_inside
from scholarly_build.inputs.project import Project
from scholarly_build.rendering import figurehost
from scholarly_build.rendering.figures import FigurePlan, execute, plan_figure


@dataclass
class _Run:
    plan: FigurePlan
    stem: Path
    done: threading.Event = field(default_factory=threading.Event)
    made: dict[str, Path] | None = None
    error: BaseException | None = None


class EarlyRuns:
    """The stale figure scripts that read a data file, run one at a time in a thread of their own."""

    def __init__(self, project: Project, state: dict[str, str], env: dict[str, str]) -> None:
        self._project, self._env = project, env
        self._folder = require_inside(project.build_dir / "figures" / ".early", project.build_dir, "figure folder")
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._pid: int | None = None
        self.taken: list[str] = []  # the figures whose early files the build took
        for figure in project.figures if figurehost.has_server() else []:
            if figure.data is None:
                continue  # the coverage data comes from the notes, which the check loads
            try:
                plan = plan_figure(project, figure, project.root / figure.data, state)
            except (BuildFailed, OSError):
                continue  # plan_figures reports it after the check
            if plan.needs_run:
                self._runs[figure.id] = _Run(plan, self._folder / figure.id)
        self._thread: threading.Thread | None = None
        if self._runs:
            self._thread = threading.Thread(target=self._work, name="early-figures", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        for run in self._runs.values():
            try:
                with self._lock:
                    if self._stopped:
                        continue
                run.made = execute(self._project, run.plan, self._env, run.stem, on_start=self._started)
            except BaseException as exc:  # noqa: BLE001 - handed to the figure's task, which decides
                run.error = exc
            finally:
                with self._lock:
                    self._pid = None  # ended: its number may be reused
                run.done.set()

    def _started(self, pid: int) -> None:
        with self._lock:
            self._pid = pid
            if self._stopped:
                _kill(pid)

    def __enter__(self) -> EarlyRuns:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def take(self, plan: FigurePlan) -> dict[str, Path] | None:
        """The files of an early run of exactly this plan (waiting for it); None: run the script now.

        An early run that failed raises the same BuildFailed the script would raise now.
        """
        run = self._runs.get(plan.figure.id)
        if run is None or run.plan.digest != plan.digest or run.plan.script != plan.script:
            return None
        run.done.wait()
        if isinstance(run.error, BuildFailed):
            raise run.error
        if run.made is None or not all(p.is_file() for p in run.made.values()):
            return None  # stopped, cancelled or interrupted: not the script's own failure
        self.taken.append(plan.figure.id)
        return run.made

    def close(self) -> None:
        """Stop: no script starts any more, the running one is killed; their leftover files go."""
        with self._lock:
            self._stopped = True
            if self._pid is not None:
                _kill(self._pid)
        if self._thread is not None:
            self._thread.join()
        shutil.rmtree(self._folder, ignore_errors=True)


def _kill(pid: int) -> None:
    """Kill the script's group, and the script itself in case it has not yet made its group."""
    limits.kill_group(pid)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass  # gone already
