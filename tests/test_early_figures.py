"""Figure scripts that read a data file run while the check still runs, and count only if the check passes.

The mini fixture's figure reads ``figures/data/bars.csv``, so a cold build starts it
before the check. These tests build for real and look at what the build leaves: the
figure's files, how often the script ran, and what is left running after a failed check.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import pytest

from scholarly_build.building.build import BuildOptions
from scholarly_build.core.problems import BuildFailed
from scholarly_build.rendering import figurehost
from tests.conftest import quiet_build

# Prepended to the fixture's script: each run leaves its process id in runs.log (in the project root, its cwd).
COUNTING = "import os\nwith open('runs.log', 'a') as _log:\n    _log.write(f'{os.getpid()}\\n')\n"


def _runs(root: Path) -> list[int]:
    log = root / "runs.log"
    return [int(line) for line in log.read_text().split()] if log.is_file() else []


def test_a_cold_build_takes_the_figure_the_check_ran_beside(project_copy: Path) -> None:
    """The script runs once, during the check, and the build installs exactly those files."""
    assert figurehost.has_server(), "without the fork server nothing runs early"
    script = project_copy / "figures" / "bars.py"
    script.write_text(COUNTING + script.read_text())
    report = quiet_build(project_copy, BuildOptions(formats=("html",)))
    assert report.figures_run == ["figure bars"]
    assert report.figures_early == ["figure bars"]
    assert len(_runs(project_copy)) == 1
    figures = project_copy / "build" / "figures"
    assert (figures / "bars.pdf").read_bytes().startswith(b"%PDF") and (figures / "bars.png").stat().st_size > 1000
    assert not (figures / ".early").exists()
    # Up to date: nothing runs early, nothing runs later.
    report = quiet_build(project_copy, BuildOptions(formats=("html",)))
    assert (report.figures_run, report.figures_early, len(_runs(project_copy))) == ([], [], 1)


def test_an_edited_data_file_runs_early_again_and_the_paper_shows_it(project_copy: Path) -> None:
    """A changed data file: the early run is the one the paper's HTML embeds (no second run)."""
    quiet_build(project_copy, BuildOptions(formats=("html",)))
    script = project_copy / "figures" / "bars.py"
    script.write_text(COUNTING + script.read_text())
    data = project_copy / "figures" / "data" / "bars.csv"
    data.write_text(data.read_text() + "zeta,77\n")
    report = quiet_build(project_copy, BuildOptions(formats=("html",)))
    assert (report.figures_early, len(_runs(project_copy))) == (["figure bars"], 1)
    assert report.rendered == ["paper.html"]
    png = (project_copy / "build" / "figures" / "bars.png").read_bytes()
    assert base64.b64encode(png).decode() in (project_copy / "build" / "paper.html").read_text()


def test_a_failed_check_stops_the_early_figure_and_installs_nothing(project_copy: Path) -> None:
    """The check fails while the script still runs: it is killed, and build/ gets none of its files."""
    script = project_copy / "figures" / "bars.py"
    script.write_text(COUNTING + "import time\ntime.sleep(60)\n" + script.read_text())
    section = project_copy / "manuscript" / "sections" / "02-body.md"
    section.write_text(section.read_text() + "\nAs @nosuchkey2020 shows.\n")
    deadline = time.monotonic() + 20
    while True:  # the check is quick: wait until the script has surely started, then fail
        start = time.monotonic()
        with pytest.raises(BuildFailed, match="stopped before rendering"):
            quiet_build(project_copy, BuildOptions(formats=("html",)))
        if _runs(project_copy) or time.monotonic() > deadline:
            break
    assert time.monotonic() - start < 15, "the build waited for the sleeping script"
    pids = _runs(project_copy)
    assert pids, "the script never started before the check failed"
    time.sleep(0.5)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    figures = project_copy / "build" / "figures"
    assert not (figures / "bars.pdf").exists() and not (figures / ".early").exists()


def test_the_figure_server_is_warmed_only_for_a_figure_that_will_run(project_copy: Path) -> None:
    """may_run_figures: after a build nothing is stale; a changed data file or a lost picture is."""
    from scholarly_build.building.build import STATE_FILE, _load_state
    from scholarly_build.inputs.project import load_project
    from scholarly_build.rendering.figures import may_run_figures

    assert may_run_figures(load_project(project_copy), {})  # no build yet
    quiet_build(project_copy, BuildOptions(formats=("html",)))
    project = load_project(project_copy)
    state = _load_state(project.build_dir / STATE_FILE)
    assert not may_run_figures(project, state)
    (project_copy / "build" / "figures" / "bars.png").unlink()
    assert may_run_figures(project, state)
    quiet_build(project_copy, BuildOptions(formats=("html",)))
    data = project_copy / "figures" / "data" / "bars.csv"
    data.write_text(data.read_text() + "\n")
    assert may_run_figures(project, _load_state(project.build_dir / STATE_FILE))
