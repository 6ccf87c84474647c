"""What a save rebuilds, in which order, and the background job that makes the rest (PDF, DOCX, TeX).

The HTML of the documents a file feeds is rebuilt first, in the preview's own
process; everything else follows in a subprocess (a normal ``build``) that a
later save cancels instead of queueing behind. This module must not serve
anything or touch the browser; it never writes into ``build/`` itself except to
remove the temporary files of a job it had to kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

# Build document names (``BuildOptions.documents``) and the HTML file each one makes.
HTML_OF = {"paper": "paper.html", "bibliography": "annotated-bibliography.html"}
BOTH_PAPER_FIRST = ("paper", "bibliography")
BOTH_BIBLIOGRAPHY_FIRST = ("bibliography", "paper")


def _documents_of(rel: str) -> tuple[str, ...]:
    """The documents ``rel`` (a path relative to the root) feeds, the one it shows in most first."""
    parts = rel.split("/")
    if parts[0] == "bib":
        # A note is the bibliography's annotation; the paper reads it too (comparison table, themes).
        return BOTH_BIBLIOGRAPHY_FIRST
    if parts[:2] == ["manuscript", "sections"] or parts[0] == "figures":
        return ("paper",)
    if parts[0] == "templates" and parts[-1] == "annotated-bibliography.md.j2":
        return ("bibliography",)
    if parts[0] == "templates" and parts[-1] == "paper.md.j2":
        return ("paper",)
    return BOTH_PAPER_FIRST  # settings, shared templates, filters, CSS


def plan(changed: Iterable[str]) -> tuple[str, ...]:
    """The documents to rebuild as HTML after ``changed`` were saved, in the order to rebuild them."""
    order: list[str] = []
    for rel in sorted(changed):
        for document in _documents_of(rel):
            if document not in order:
                order.append(document)
    return tuple(order)


def session_members(sid: int) -> list[int]:
    """Every process in session ``sid`` (the background job and every tool it started)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rfind(")") + 2 :].split()
        # A zombie has ended already (it only waits to be reaped): nothing to kill.
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry))
    return members


def kill_session(sid: int) -> None:
    """SIGKILL every process of session ``sid``: tools run in process groups of their own inside it."""
    for pid in session_members(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_whole_session(sid: int, passes: int = 50) -> None:
    """SIGKILL session ``sid`` until none of it is left: a tool may have started another one meanwhile."""
    for _ in range(passes):
        if not session_members(sid):
            return
        kill_session(sid)
        time.sleep(0.005)


# Where the build writes through fsutil.write_atomic / install_atomic (``.NAME.XXXX.tmp`` beside the file).
PARTIAL_FOLDERS = ("", "assembled", "figures", "figures/data", "biblatex", ".cache")


def remove_partial_files(build_dir: Path) -> list[Path]:
    """Remove the temporary files a killed build left beside its outputs and caches (``.NAME.XXXX.tmp``)."""
    removed = []
    for folder in (build_dir / sub for sub in PARTIAL_FOLDERS):
        if folder.is_dir() and not folder.is_symlink():
            for path in folder.glob(".*.tmp"):
                if path.is_file() and not path.is_symlink():
                    path.unlink(missing_ok=True)
                    removed.append(path)
    return removed


class BackgroundBuild:
    """One ``python -m scholarly_build build`` at a time, in a session of its own; cancel() stops it whole."""

    def __init__(self, root: Path, on_done: Callable[[int, str], None]) -> None:
        self.root = root
        self.on_done = on_done  # (exit code, its output), called from a thread; not called when cancelled
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """A job is running now."""
        with self._lock:
            return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start a normal build of everything that is stale (a running job is cancelled first)."""
        self.cancel()
        cmd = [sys.executable, "-m", "scholarly_build", "--root", str(self.root), "build", "--no-provision"]
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C in the terminal reaches the preview only; it stops this job
        )
        with self._lock:
            self._proc = proc
        threading.Thread(target=self._wait, args=(proc,), daemon=True).start()

    def _wait(self, proc: subprocess.Popen[str]) -> None:
        out = proc.stdout.read() if proc.stdout else ""
        code = proc.wait()
        with self._lock:
            mine = self._proc is proc
            if mine:
                self._proc = None
        if mine:
            kill_session(proc.pid)  # nothing it started outlives it
            self.on_done(code, out)

    def cancel(self) -> bool:
        """Stop the running job at once (SIGKILL for its whole session); True if one was running.

        Killing is safe: every output and cache is written to a temporary file and renamed
        into place (removed here), the state and manifest are written after what they
        describe (a later build finds a half-recorded output stale and renders it again),
        and the kernel releases the build lock (``flock``) with the last process holding it.
        Waiting for a clean SIGINT exit cost a save about 0.2 s on the critical path.
        """
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return False
        kill_session(proc.pid)
        proc.wait()
        kill_whole_session(proc.pid)
        remove_partial_files(self.root / "build")
        return True
