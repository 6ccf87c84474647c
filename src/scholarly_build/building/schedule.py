"""Running a build's jobs by dependency on a few worker threads.

A :class:`Task` names the tasks it must wait for and a weight (a rough cost).
:func:`run_tasks` starts every task as soon as all of its dependencies have
succeeded, and among the ready ones it starts first the task with the longest
chain of work still behind it (its weight plus its heaviest dependent chain),
so that the critical path (figure scripts, then the paper's PDF) starts early and
short jobs fill the gaps. A task whose dependency failed is not run. The
scheduler knows nothing about builds: it must not read or write files; the
tasks do the work and ``build.py`` decides what the results mean.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Task:
    """One job: ``run`` is called in a worker thread once every task in ``after`` succeeded."""

    name: str
    run: Callable[[], object]
    after: tuple[str, ...] = ()
    weight: float = 1.0


@dataclass
class Outcome:
    """What happened: each task's result or exception, the order tasks started, the ones never run."""

    results: dict[str, object] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # a dependency failed


def priorities(tasks: Sequence[Task]) -> dict[str, float]:
    """Each task's weight plus the heaviest chain of tasks that wait for it (the critical path)."""
    by_name = {t.name: t for t in tasks}
    dependents: dict[str, list[str]] = {t.name: [] for t in tasks}
    for t in tasks:
        for dep in t.after:
            if dep not in by_name:
                raise ValueError(f"task {t.name!r} waits for unknown task {dep!r}")
            dependents[dep].append(t.name)
    rank: dict[str, float] = {}

    def chain(name: str, seen: frozenset[str]) -> float:
        """The critical-path length of ``name`` (a cycle is an error)."""
        if name in seen:
            raise ValueError(f"tasks wait for each other: {name!r}")
        if name not in rank:
            rank[name] = by_name[name].weight + max((chain(d, seen | {name}) for d in dependents[name]), default=0.0)
        return rank[name]

    for t in tasks:
        chain(t.name, frozenset())
    return rank


def run_tasks(
    tasks: Sequence[Task],
    workers: int,
    on_done: Callable[[str, object | None, BaseException | None], None] | None = None,
    abort: Callable[[], None] | None = None,
) -> Outcome:
    """Run ``tasks`` on ``workers`` threads by dependency and priority; ``on_done`` runs in the caller's thread.

    Exceptions raised by a task are collected, not raised; the tasks that wait for it are skipped.
    Ties keep the order of ``tasks``. If the caller's thread is interrupted (or ``on_done``
    raises), ``abort`` runs before the pool waits for the running tasks: it should stop them.
    """
    run = _Run(tasks, max(1, workers), on_done)
    with ThreadPoolExecutor(max_workers=run.workers) as pool:
        try:
            run.loop(pool)
        except BaseException:
            if abort is not None:
                abort()
            raise
    return run.outcome


class _Run:
    """The state of one :func:`run_tasks` call: what waits, what is ready, what runs."""

    def __init__(
        self,
        tasks: Sequence[Task],
        workers: int,
        on_done: Callable[[str, object | None, BaseException | None], None] | None,
    ) -> None:
        self.rank = priorities(tasks)
        self.order = {t.name: i for i, t in enumerate(tasks)}
        self.by_name = {t.name: t for t in tasks}
        self.waiting = {t.name: set(t.after) for t in tasks}
        self.workers = workers
        self.on_done = on_done
        self.outcome = Outcome()
        self.ready: list[tuple[float, int, str]] = []
        self.running: dict[Future[object], str] = {}
        for name, deps in list(self.waiting.items()):
            if not deps:
                self._make_ready(name)

    def _make_ready(self, name: str) -> None:
        del self.waiting[name]
        heapq.heappush(self.ready, (-self.rank[name], self.order[name], name))

    def release(self, done: str, ok: bool) -> None:
        """``done`` finished: its dependents become ready (or, if it failed, are skipped)."""
        for name, deps in list(self.waiting.items()):
            if done not in deps or name not in self.waiting:
                continue
            if not ok:
                del self.waiting[name]
                self.outcome.skipped.append(name)
                self.release(name, False)
                continue
            deps.discard(done)
            if not deps:
                self._make_ready(name)

    def loop(self, pool: ThreadPoolExecutor) -> None:
        """Start ready tasks while a worker is free; collect each finished one."""
        outcome = self.outcome
        while self.ready or self.running:
            while self.ready and len(self.running) < self.workers:
                _, _, name = heapq.heappop(self.ready)
                outcome.started.append(name)
                self.running[pool.submit(self.by_name[name].run)] = name
            finished, _ = wait(self.running, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: self.order[self.running[f]]):
                name = self.running.pop(future)
                error = future.exception()
                if error is None:
                    outcome.results[name] = future.result()
                else:
                    outcome.errors[name] = error
                if self.on_done is not None:
                    self.on_done(name, outcome.results.get(name), error)
                self.release(name, error is None)
