"""The build's scheduler: each job waits only for what it reads, the critical path starts first.

Proven through declared dependencies and the recorded start order, never through timings:
a task that would wait for the wrong one deadlocks on an event (and fails after a
generous timeout) instead of being a little slower.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from scholarly_build.building.build import BuildOptions, schedule
from scholarly_build.building.schedule import Task, priorities, run_tasks

from .conftest import copy_mini, quiet_build

BIB_PDF = "annotated-bibliography.tex+annotated-bibliography.pdf"
PAPER = ("paper.docx", "paper.html", "paper.tex+paper.pdf")


def test_a_task_without_dependencies_runs_while_another_waits_for_it() -> None:
    """The figure task finishes only once the bibliography task has started: it must not wait for the figure."""
    bib_started = threading.Event()

    def figure() -> str:
        if not bib_started.wait(timeout=30):
            raise AssertionError("the bibliography render waited for the figure")
        return "figure"

    def bib() -> str:
        bib_started.set()
        return "bib"

    tasks = [
        Task("figure bars", figure, weight=1),
        Task("paper.tex+paper.pdf", lambda: "paper", after=("figure bars",), weight=4),
        Task(BIB_PDF, bib, weight=4),
    ]
    outcome = run_tasks(tasks, workers=2)
    assert outcome.errors == {}
    assert outcome.results == {"figure bars": "figure", BIB_PDF: "bib", "paper.tex+paper.pdf": "paper"}
    assert outcome.started.index("paper.tex+paper.pdf") > outcome.started.index("figure bars")


def test_the_longest_chain_starts_first() -> None:
    """On one worker, the start order follows the critical path: figures before the paper's PDF, TeX before HTML."""
    tasks = [
        Task("paper.html", lambda: None, after=("figure a", "figure b"), weight=1),
        Task("bib.html", lambda: None, weight=1),
        Task(BIB_PDF, lambda: None, weight=4),
        Task("paper.tex+paper.pdf", lambda: None, after=("figure a", "figure b"), weight=4),
        Task("figure a", lambda: None, weight=1),
        Task("figure b", lambda: None, weight=1),
    ]
    assert priorities(tasks)["figure a"] == 5
    outcome = run_tasks(tasks, workers=1)
    # Equal chains keep the order of the list (the bibliography's PDF is listed before the paper's).
    assert outcome.started == ["figure a", "figure b", BIB_PDF, "paper.tex+paper.pdf", "paper.html", "bib.html"]


def test_a_failed_task_skips_what_waits_for_it() -> None:
    """A failed figure: the paper is not rendered, the bibliography is."""

    def broken() -> None:
        raise ValueError("figure exploded")

    tasks = [
        Task("figure a", broken),
        Task("paper.html", lambda: "paper", after=("figure a",)),
        Task("bib.html", lambda: "bib"),
    ]
    outcome = run_tasks(tasks, workers=2)
    assert list(outcome.errors) == ["figure a"]
    assert outcome.skipped == ["paper.html"]
    assert outcome.results == {"bib.html": "bib"}


def test_unknown_dependencies_and_cycles_are_refused() -> None:
    """A task graph that cannot run is an error before anything starts."""
    with pytest.raises(ValueError, match="unknown task"):
        priorities([Task("a", lambda: None, after=("b",))])
    with pytest.raises(ValueError, match="wait for each other"):
        priorities([Task("a", lambda: None, after=("b",)), Task("b", lambda: None, after=("a",))])


@pytest.mark.integration
def test_cold_build_starts_the_bibliography_before_the_figures_finish(tmp_path: Path) -> None:
    """A cold build of the mini fixture: only the paper's renders wait for its figure script."""
    report = quiet_build(copy_mini(tmp_path / "mini"), BuildOptions(force=True))
    assert report.depends["figure bars"] == ()
    assert report.depends[BIB_PDF] == ()
    assert report.depends["annotated-bibliography.html"] == ()
    # The paper's renders also wait for its citeproc step, which reads no figure and runs meanwhile.
    assert report.depends["citeproc paper"] == ()
    assert {name: report.depends[name] for name in PAPER} == {
        name: ("figure bars", "citeproc paper") for name in PAPER
    }
    # Two workers: the paper's critical path (its figure, its citeproc step) first, then the bibliography's TeX job.
    assert report.started[:3] == ["figure bars", "citeproc paper", BIB_PDF]
    assert sorted(report.started) == sorted(
        [*PAPER, BIB_PDF, "annotated-bibliography.html", "figure bars", "citeproc paper"]
    )
    assert [t.name for t in schedule([], report.jobs)] == [j.name for j in report.jobs]
