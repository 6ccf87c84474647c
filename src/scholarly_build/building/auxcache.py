"""The records a build keeps outside the project: TeX's auxiliary files and the last renderings.

They live in the user's cache (``$XDG_CACHE_HOME/scholarly-build/tex-aux/``, else
``~/.cache/…``), one folder per project root, never under ``build/``: a pull request can
commit ``build/``, and LaTeX reads an ``.aux`` as TeX. They only save work (TeX passes,
pandoc runs), so losing them is always safe. Each build marks its project's folder as
used and, at most once a day, removes the folders of projects not built for
:data:`KEEP_DAYS` days (temporary copies, deleted clones), so the cache does not grow
without bound; ``clean`` removes the project's own. This module only places and
prunes those folders; it never reads them.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from scholarly_build.rendering.render import digest_of

KEEP_DAYS = 30  # a project not built for this long loses its kept records
_PRUNED = ".pruned"  # in cache_base(): its time is the last prune; one a day is enough (a scan is ~20 ms)
_ENTRY = re.compile(r"[0-9a-f]{24}")  # the only names this module creates, so the only ones it removes


def cache_base() -> Path:
    """The folder holding every project's records."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scholarly-build" / "tex-aux"


def project_dir(root: Path) -> Path:
    """The folder of the project at ``root`` (resolved: the same project always gets the same one)."""
    return cache_base() / digest_of(str(root))[:24]


def job_dir(root: Path, job: str) -> Path:
    """Where one TeX job of the project at ``root`` keeps its records."""
    return project_dir(root) / job


def mark_used_and_prune(root: Path, now: float | None = None) -> list[Path]:
    """Mark the project's folder as used now; remove the folders unused for ``KEEP_DAYS``; what was removed.

    Never fails a build: a folder that cannot be read or removed is left as it is.
    """
    now = time.time() if now is None else now
    mine, marker = project_dir(root), cache_base() / _PRUNED
    try:
        if mine.is_dir():
            os.utime(mine, (now, now))
        if marker.is_file() and not marker.is_symlink() and marker.stat().st_mtime > now - 86400:
            return []
        entries = list(cache_base().iterdir())
        marker.touch()
        os.utime(marker, (now, now))
    except OSError:
        return []
    removed = []
    for entry in entries:
        if entry == mine or not _ENTRY.fullmatch(entry.name):
            continue
        try:
            if entry.is_symlink() or not entry.is_dir() or entry.stat().st_mtime > now - KEEP_DAYS * 86400:
                continue
            shutil.rmtree(entry)
            removed.append(entry)
        except OSError:
            continue
    return removed


def remove_project(root: Path) -> bool:
    """Remove the project's folder (``clean``); whether there was one."""
    mine = project_dir(root)
    if mine.is_symlink() or not mine.is_dir():
        return False
    shutil.rmtree(mine, ignore_errors=True)
    return True
