"""Figure scripts forked from the warm figure server behave as ``python SCRIPT ARGS`` does.

Each test runs the same script both ways (the server, and a plain subprocess) and
compares what a user sees: exit status, output, the files written, their bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scholarly_build.rendering import figurehost

ROOT = Path(__file__).resolve().parents[1]


def _both(script: Path, args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], ...]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    hosted = figurehost.run_script(script, args, cwd=cwd, env=env)
    plain = subprocess.run([sys.executable, str(script), *args], cwd=cwd, env=env, capture_output=True, text=True)
    return hosted, plain


def test_the_server_is_used_here() -> None:
    """On Linux the fork server runs the scripts (else every test below compares a subprocess with itself)."""
    assert figurehost._server() is not None


def test_a_real_figure_is_byte_identical_to_a_plain_run(tmp_path: Path) -> None:
    """The repository's timeline figure: the same PDF and PNG bytes from the server as from `python script`."""
    script, data = ROOT / "figures" / "timeline.py", ROOT / "figures" / "data" / "timeline.csv"
    env = {**os.environ, "MPLBACKEND": "Agg", "SOURCE_DATE_EPOCH": "1700000000"}
    hosted = figurehost.run_script(script, ["--data", str(data), "--out", str(tmp_path / "a")], cwd=ROOT, env=env)
    plain = subprocess.run(
        [sys.executable, str(script), "--data", str(data), "--out", str(tmp_path / "b")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert hosted.returncode == plain.returncode == 0, hosted.stderr + plain.stderr
    for ext in (".pdf", ".png"):
        a, b = (tmp_path / f"a{ext}").read_bytes(), (tmp_path / f"b{ext}").read_bytes()
        assert len(a) > 1000 and a == b, ext


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("print('made it')\n", 0),
        ("import sys\nsys.exit(3)\n", 3),
        ("import sys\nprint('to stdout')\nsys.exit('cannot read the data file')\n", 1),
        ("def load():\n    raise ValueError('row 3: not a number')\nload()\n", 1),
    ],
)
def test_exit_status_and_output_are_as_python_gives_them(tmp_path: Path, body: str, status: int) -> None:
    """sys.exit with a number or a message, an uncaught exception: same status, same stdout and stderr."""
    script = tmp_path / "fig.py"
    script.write_text(body)
    hosted, plain = _both(script, ["--out", "x"], tmp_path)
    assert hosted.returncode == plain.returncode == status
    assert hosted.stdout == plain.stdout
    assert hosted.stderr == plain.stderr  # the traceback starts at the script, as Python prints it


def test_argv_cwd_sibling_imports_and_environment(tmp_path: Path) -> None:
    """The script sees its argv, the working directory, its own folder on sys.path, and the environment given."""
    (tmp_path / "figs").mkdir()
    (tmp_path / "figs" / "helper.py").write_text("VALUE = 'from a sibling module'\n")
    script = tmp_path / "figs" / "fig.py"
    script.write_text(
        "import os, sys\nimport helper\n"
        "print(sys.argv[1:], os.getcwd(), helper.VALUE, os.environ.get('MPLBACKEND'), __name__)\n"
    )
    hosted, plain = _both(script, ["--data", "d.csv"], tmp_path)
    assert hosted.returncode == 0, hosted.stderr
    assert hosted.stdout == plain.stdout
    assert "['--data', 'd.csv']" in hosted.stdout and "from a sibling module Agg __main__" in hosted.stdout


def test_a_project_matplotlibrc_is_read_as_a_fresh_process_reads_it(tmp_path: Path) -> None:
    """A matplotlibrc in the working directory applies (the server imported matplotlib elsewhere)."""
    (tmp_path / "matplotlibrc").write_text("lines.linewidth: 7.5\n")
    script = tmp_path / "fig.py"
    script.write_text("import matplotlib\nprint(matplotlib.rcParams['lines.linewidth'])\n")
    hosted, plain = _both(script, [], tmp_path)
    assert hosted.stdout.strip() == plain.stdout.strip() == "7.5", hosted.stderr


def test_no_state_leaks_from_one_script_to_the_next(tmp_path: Path) -> None:
    """Each script is a fresh child: a change to rcParams or a module global is not seen by the next one."""
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    first.write_text("import matplotlib\nmatplotlib.rcParams['font.size'] = 31\n")
    second.write_text("import matplotlib\nprint(matplotlib.rcParams['font.size'])\n")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    assert figurehost.run_script(first, [], cwd=tmp_path, env=env).returncode == 0
    out = figurehost.run_script(second, [], cwd=tmp_path, env=env).stdout.strip()
    assert out != "31.0" and out == subprocess.run(
        [sys.executable, str(second)], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    ).stdout.strip()


def test_the_time_limit_stops_the_script_and_its_children(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the limit: ToolLimitExceeded, and the child the script started is gone too."""
    monkeypatch.setenv("SCHOLARLY_BUILD_TIME_LIMIT_S", "2")
    pid_file = tmp_path / "pid"
    script = tmp_path / "hang.py"
    script.write_text(
        f"import subprocess, time\np = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\ntime.sleep(300)\n"
    )
    with pytest.raises(figurehost.limits.ToolLimitExceeded, match="time limit of 2 s"):
        figurehost.run_script(script, [], cwd=tmp_path, env=dict(os.environ))
    pid = int(pid_file.read_text())
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z"


def test_without_a_fork_server_the_script_runs_as_a_subprocess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where multiprocessing has no fork server, the same call runs ``python script`` under the limits."""
    monkeypatch.setattr(figurehost, "_server", lambda: None)
    script = tmp_path / "fig.py"
    script.write_text("import sys\nprint(sys.argv[1:])\nsys.exit(4)\n")
    proc = figurehost.run_script(script, ["--out", "x"], cwd=tmp_path, env=dict(os.environ))
    assert proc.returncode == 4 and proc.stdout.strip() == "['--out', 'x']"
    assert proc.args[:2] == [sys.executable, str(script)]


CALLER = """
import os, sys
from pathlib import Path
from scholarly_build.rendering import figurehost
with open(sys.argv[1], "a") as log:
    log.write("main ran\\n")
proc = figurehost.run_script(Path(sys.argv[2]), [], cwd=Path(sys.argv[3]), env=dict(os.environ))
print("exit", proc.returncode, proc.stdout.strip())
"""


@pytest.mark.parametrize("how", ["file without a main guard", "stdin"])
def test_the_callers_main_module_is_never_imported_again(tmp_path: Path, how: str) -> None:
    """A script that calls the engine without `if __name__ == "__main__"`, or a main read from stdin:
    the child runs the figure script, and the caller's code runs once (multiprocessing would re-import it)."""
    log, fig = tmp_path / "log", tmp_path / "fig.py"
    fig.write_text("print('figure ran')\n")
    args = [str(log), str(fig), str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    if how == "stdin":
        cmd = [sys.executable, "-", *args]
        proc = subprocess.run(cmd, input=CALLER, capture_output=True, text=True, env=env, check=False, timeout=120)
    else:
        caller = tmp_path / "caller.py"
        caller.write_text(CALLER)
        cmd = [sys.executable, str(caller), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "exit 0 figure ran"
    assert log.read_text() == "main ran\n"
