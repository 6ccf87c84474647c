"""Figure scripts run in children forked from a warm interpreter (multiprocessing's fork server).

A figure script spends about half of its run importing matplotlib, its PDF and PNG
backends and fontTools (measured: 2.6 s -> 1.4 s per script on the 2-core machine).
The fork server imports them once, when :func:`warm` is called at the start of a
build, while the check still runs; each script then runs in a fresh child forked
from it, as ``python SCRIPT ARGS`` would: its own process group (so the build can
kill it with its children), the address-space limit, the working directory, the
environment, ``sys.argv`` and ``sys.path[0]``, a project-local ``matplotlibrc``,
stdout and stderr to files. Where there is no fork server (not Linux or macOS),
the script runs as a plain subprocess. This module runs what the build asks for; it
must not decide which figures run or where their files go.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import runpy
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scholarly_build.core import children, limits

# What figure scripts import; a module that is not installed is skipped by the server.
PRELOAD = [
    "matplotlib",
    "matplotlib.pyplot",
    "matplotlib.backends.backend_agg",
    "matplotlib.backends.backend_pdf",
    "fontTools.subset",
    "fontTools.ttLib",
    "PIL.Image",
    "PIL.PngImagePlugin",
    "numpy",
    "scholarly_build.rendering.figurehost",  # last: it records the configuration matplotlib read
]

_lock = threading.Lock()
_context: Any = None


def _server() -> Any:
    """The fork-server context, configured once per process (None where there is none)."""
    global _context
    with _lock:
        if _context is None:
            if "forkserver" not in multiprocessing.get_all_start_methods():
                _context = False
            else:
                _context = multiprocessing.get_context("forkserver")
                _context.set_forkserver_preload(PRELOAD)
        return _context or None


def warm() -> None:
    """Start the fork server in the background (it imports matplotlib once); cheap when already running."""
    ctx = _server()
    if ctx is None:
        return

    def start() -> None:
        try:
            from multiprocessing import forkserver

            forkserver.ensure_running()
        except (OSError, ValueError):
            pass  # the first figure will report what is wrong

    threading.Thread(target=start, name="figure-server", daemon=True).start()


def has_server() -> bool:
    """Whether scripts run in children of the fork server (else as plain subprocesses)."""
    return _server() is not None


def run_script(
    script: Path,
    args: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    on_start: Callable[[int], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python script args`` within the figure limits; raise ``limits.ToolLimitExceeded`` at one.

    ``on_start`` gets the process id (also its process group's) once the script runs in a fork-server child.
    """
    ctx = _server()
    if ctx is None:
        return limits.run_limited([sys.executable, str(script), *args], tool="figure", cwd=cwd, env=env)
    seconds, memory = limits.time_limit("figure"), limits.memory_limit("figure")
    limits.raise_if_cancelled()
    with tempfile.TemporaryDirectory(prefix="figure-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        proc = ctx.Process(
            target=_child, args=(str(script), list(args), str(cwd), dict(env), str(out), str(err), memory)
        )
        with children.main_hidden():
            proc.start()
        if on_start is not None and proc.pid is not None:
            on_start(proc.pid)
        timed_out = False
        with limits.tracked(proc.pid):
            try:
                proc.join(seconds)
                timed_out = proc.is_alive()
            finally:
                if proc.is_alive():  # over time, or this thread was interrupted
                    limits.kill_group(proc.pid)
                    proc.join()
                limits.kill_group(proc.pid)  # nothing it started outlives it
        limits.raise_if_cancelled()
        code = proc.exitcode if proc.exitcode is not None else -signal.SIGKILL
        stdout = out.read_text("utf-8", "replace") if out.is_file() else ""
        stderr = err.read_text("utf-8", "replace") if err.is_file() else ""
    if timed_out:
        raise limits.ToolLimitExceeded("figure", "time", f"{seconds:g} s")
    limits.raise_if_out_of_memory(code, stdout, stderr, "figure", memory)
    return subprocess.CompletedProcess([sys.executable, str(script), *args], code, stdout, stderr)


def _child(script: str, args: list[str], cwd: str, env: dict[str, str], out: str, err: str, memory: int) -> None:
    """In the forked child: become ``python script args`` and exit with its status."""
    os.setpgid(0, 0)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    _matplotlib_as_fresh()
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = _exit_status(exc.code)
    except BaseException as exc:  # noqa: BLE001 - the script's error, printed as Python would
        traceback.print_exception(type(exc), exc, _from_script(exc.__traceback__, script))
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _exit_status(code: object) -> int:
    """What ``sys.exit(code)`` makes the exit status (a message is printed, as Python does)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _from_script(tb: Any, script: str) -> Any:
    """The traceback from the script's own frame on (runpy's frames are not the user's concern)."""
    start = tb
    while start is not None and os.path.abspath(start.tb_frame.f_code.co_filename) != os.path.abspath(script):
        start = start.tb_next
    return start or tb


def _matplotlib_as_fresh() -> None:
    """Make the preloaded matplotlib read its configuration as a fresh process in ``cwd`` would."""
    mpl = sys.modules.get("matplotlib")
    if mpl is None:
        return
    fname = mpl.matplotlib_fname()  # ./matplotlibrc, $MATPLOTLIBRC, the user's, else the default
    if fname != _PRELOADED_RC.get("fname"):
        mpl.rc_file(fname)
    backend = os.environ.get("MPLBACKEND")
    if backend:
        mpl.rcParams["backend"] = backend


# The configuration file the server's matplotlib read at import (this module is preloaded after it).
_PRELOADED_RC: dict[str, str] = {}
if "matplotlib" in sys.modules:
    _PRELOADED_RC["fname"] = sys.modules["matplotlib"].matplotlib_fname()
