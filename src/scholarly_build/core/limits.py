"""Limits on what untrusted input can cost: external tools' time and memory, input sizes.

Every external tool (pandoc, latexmk with TeX and biber, figure scripts) runs through
:func:`run_limited`: in a process group of its own, with an address-space limit
(``RLIMIT_AS``) that its children inherit, and with a wall-clock limit after which the
whole group is killed, not just the process we started. The limits are documented in
docs/settings.md; ``SCHOLARLY_BUILD_TIME_LIMIT_S`` and ``SCHOLARLY_BUILD_MEMORY_LIMIT_MB``
override them for every tool (for a huge but legitimate project, or to test the limits).
This module only bounds and runs what its callers ask for: it must not build a
command line from user data, use a shell, or decide how a tool's failure is reported.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MIB = 1024 * 1024

# Seconds of wall-clock time and bytes of address space per tool.
TIME_LIMIT_S = {"pandoc": 300.0, "latex": 900.0, "figure": 300.0}
MEMORY_LIMIT_BYTES = {"pandoc": 4096 * MIB, "latex": 4096 * MIB, "figure": 4096 * MIB}

# Input size limits (bytes): far above any real section, note or bibliography, far
# below what makes pandoc or pybtex take minutes and gigabytes.
MAX_SECTION_BYTES = 2 * MIB
MAX_NOTE_BYTES = 256 * 1024
MAX_BIB_BYTES = 64 * MIB
MAX_OTHER_BYTES = 2 * MIB

TOOL_NAMES = {"pandoc": "pandoc", "latex": "LaTeX (latexmk, TeX and biber)", "figure": "the figure script"}


class ToolLimitExceeded(Exception):
    """A tool ran out of its time or memory limit."""

    def __init__(self, tool: str, what: str, limit: str, detail: str = "") -> None:
        super().__init__(f"{TOOL_NAMES.get(tool, tool)} exceeded its {what} limit of {limit}{detail}")
        self.tool = tool
        self.what = what
        self.limit = limit

    @property
    def hint(self) -> str:
        """What to look for in the inputs, and the variable that raises the limit for a legitimate one."""
        variable = "SCHOLARLY_BUILD_TIME_LIMIT_S" if self.what == "time" else "SCHOLARLY_BUILD_MEMORY_LIMIT_MB"
        return (
            "look for a runaway input (a crossref/xdata cycle, a huge or generated file, a script that hangs); "
            f"if the input is legitimate, raise the limit with {variable}"
        )


def _env_number(name: str) -> float | None:
    value = os.environ.get(name, "").strip()
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number > 0 else None


def time_limit(tool: str) -> float:
    """Seconds ``tool`` may run: ``SCHOLARLY_BUILD_TIME_LIMIT_S`` when set to a positive number, else its default."""
    return _env_number("SCHOLARLY_BUILD_TIME_LIMIT_S") or TIME_LIMIT_S[tool]


def memory_limit(tool: str) -> int:
    """Bytes of address space for ``tool``: ``SCHOLARLY_BUILD_MEMORY_LIMIT_MB`` when set, else its default."""
    mb = _env_number("SCHOLARLY_BUILD_MEMORY_LIMIT_MB")
    return int(mb * MIB) if mb else MEMORY_LIMIT_BYTES[tool]


def describe_bytes(n: int) -> str:
    """A size for a message, rounded down to whole MiB (or KiB below one MiB)."""
    return f"{n // MIB} MiB" if n >= MIB else f"{n // 1024} KiB"


class Cancelled(Exception):
    """The tools were stopped on purpose (:func:`cancel_all`): the work they did is stale, not failed."""


_live: set[int] = set()
_live_lock = threading.Lock()
# Set by cancel_all (the preview, when a later save makes the running build stale): no tool
# starts, and one that was running reports Cancelled instead of its killed exit, until resume().
_cancelled = threading.Event()


def kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads (gone already is fine)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@contextlib.contextmanager
def tracked(pid: int) -> Iterator[None]:
    """While inside, :func:`kill_all` kills the process group ``pid`` (a tool this module did not start)."""
    with _live_lock:
        _live.add(pid)
    try:
        yield
    finally:
        with _live_lock:
            _live.discard(pid)


def kill_all() -> None:
    """Kill every tool still running (on Ctrl-C: they are in groups of their own)."""
    with _live_lock:
        pids = list(_live)
    for pid in pids:
        kill_group(pid)


def cancel_all() -> None:
    """Kill every running tool and refuse to start any until :func:`resume`; they raise :class:`Cancelled`."""
    _cancelled.set()
    kill_all()


def resume() -> None:
    """Let tools run again after :func:`cancel_all`."""
    _cancelled.clear()


def raise_if_cancelled() -> None:
    """Raise :class:`Cancelled` while :func:`cancel_all` is in force."""
    if _cancelled.is_set():
        raise Cancelled("stopped: a later change made this work stale")


@dataclass(frozen=True)
class _Limits:
    memory: int

    def __call__(self) -> None:  # runs in the child between fork and exec: keep it minimal
        resource.setrlimit(resource.RLIMIT_AS, (self.memory, self.memory))


# What a tool prints when its allocation fails at the address-space limit.
_CRASH_SIGNALS = {-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS, -signal.SIGKILL}
_MEMORY_MARKERS = ("out of memory", "memoryerror", "cannot allocate memory", "heap exhausted", "std::bad_alloc")


@functools.lru_cache(maxsize=1)
def _prlimit() -> str | None:
    return shutil.which("prlimit")


def run_limited(
    cmd: Sequence[str],
    *,
    tool: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` within ``tool``'s limits; raise :class:`ToolLimitExceeded` when one is hit.

    The process leads a new process group, so on timeout the whole group (latexmk's TeX
    and biber, a figure script's children) is killed.
    """
    seconds = time_limit(tool)
    memory = memory_limit(tool)
    raise_if_cancelled()
    # Files, not pipes: a child left running in the background would hold a pipe open and
    # make us wait for it; with files we wait for the tool itself, then stop its group.
    with (
        tempfile.TemporaryFile() as fin,
        tempfile.TemporaryFile() as fout,
        tempfile.TemporaryFile() as ferr,
    ):
        if stdin is not None:
            fin.write(stdin.encode())
            fin.seek(0)
        proc = _start(cmd, memory, cwd, env, fin if stdin is not None else None, fout, ferr)
        _wait(proc, tool, seconds)
        raise_if_cancelled()  # killed on purpose (or finished meanwhile): its result is stale either way
        fout.seek(0)
        ferr.seek(0)
        out = fout.read().decode("utf-8", "replace")
        err = ferr.read().decode("utf-8", "replace")
    raise_if_out_of_memory(proc.returncode, out, err, tool, memory)
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)


def _start(
    cmd: Sequence[str],
    memory: int,
    cwd: Path | None,
    env: dict[str, str] | None,
    fin: IO[bytes] | None,
    fout: IO[bytes],
    ferr: IO[bytes],
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in a process group of its own with an address-space limit of ``memory`` bytes."""
    # prlimit (util-linux) sets the limit without running Python between fork and exec,
    # which is not safe while other threads run; without it, setrlimit in the child.
    prlimit = _prlimit()
    if prlimit and shutil.which(cmd[0]) is None:
        # As Popen would without prlimit in front: the caller reports a missing tool.
        raise FileNotFoundError(2, "No such file or directory", cmd[0])
    argv = [prlimit, f"--as={memory}", "--", *cmd] if prlimit else list(cmd)
    return subprocess.Popen(  # fixed argument list, no shell
        argv,
        cwd=cwd,
        env=env,
        stdin=fin if fin is not None else subprocess.DEVNULL,
        stdout=fout,
        stderr=ferr,
        # A process group of its own, still in the build's session; at a limit the group is
        # killed whole, and on Ctrl-C the build kills every group it started (kill_all).
        process_group=0,
        preexec_fn=None if prlimit else _Limits(memory),  # only setrlimit: see _Limits
    )


def _wait(proc: subprocess.Popen[bytes], tool: str, seconds: float) -> None:
    """Wait for the tool, at most ``seconds``; then (and on any interruption) kill its whole group."""
    # A timer kills the group at the limit while this thread blocks in waitpid: Popen.wait
    # with a timeout polls (sleeps up to 50 ms), which added that much to every pandoc call.
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        kill_group(proc.pid)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    with tracked(proc.pid):
        timer.start()
        try:
            proc.wait()
        except BaseException:
            kill_group(proc.pid)
            proc.wait()
            raise
        finally:
            timer.cancel()
        kill_group(proc.pid)  # a tool that exited leaves no stray children behind either
    if expired.is_set() and proc.returncode == -signal.SIGKILL:
        raise ToolLimitExceeded(tool, "time", f"{seconds:g} s")


def raise_if_out_of_memory(returncode: int, out: str, err: str, tool: str, memory: int) -> None:
    """A failure that looks like the address-space limit was hit becomes :class:`ToolLimitExceeded`."""
    if returncode != 0 and any(m in (err + out).lower() for m in _MEMORY_MARKERS):
        raise ToolLimitExceeded(tool, "memory", describe_bytes(memory))
    if returncode in _CRASH_SIGNALS:
        # Failed allocations at the address-space limit often end in SIGSEGV/SIGABRT (pandoc's runtime does).
        name = signal.Signals(-returncode).name
        raise ToolLimitExceeded(tool, "memory", describe_bytes(memory), f" (it was killed by {name})")
