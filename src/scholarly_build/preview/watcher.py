"""Which saved files matter, seen through inotify (the ``watchfiles`` library, no polling).

Shared by ``invoke watch`` and ``invoke preview``. It only reports changes as
paths relative to the project root; it must not build or decide what to build.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from watchfiles import Change, DefaultFilter, watch

WATCHED = ("manuscript", "bib", "templates", "figures")
# Milliseconds: a burst of events (an editor's write-and-rename save) is yielded together
# once nothing new happened for STEP_MS, and never later than DEBOUNCE_MS.
STEP_MS = 30
DEBOUNCE_MS = 400


class _InputsFilter(DefaultFilter):
    """watchfiles' default filter (editor swap and backup files, caches) plus hidden files."""

    def __call__(self, change: Change, path: str) -> bool:
        return not Path(path).name.startswith(".") and super().__call__(change, path)


def watched_dirs(root: Path) -> list[Path]:
    """The input folders of ``root`` that exist (watchfiles needs existing paths)."""
    return [root / folder for folder in WATCHED if (root / folder).is_dir()]


def changes(root: Path, stop: threading.Event | None = None) -> Iterator[set[str]]:
    """Yield, after each save, the changed input files as POSIX paths relative to ``root``.

    Ends when ``stop`` is set; Ctrl-C raises ``KeyboardInterrupt`` as usual.
    """
    root = root.resolve()
    for batch in watch(
        *watched_dirs(root),
        watch_filter=_InputsFilter(),
        step=STEP_MS,
        debounce=DEBOUNCE_MS,
        stop_event=stop,
        rust_timeout=500,
        yield_on_timeout=False,
    ):
        paths = set()
        for _change, path in batch:
            try:
                paths.add(Path(path).resolve().relative_to(root).as_posix())
            except ValueError:
                continue  # a link leading out of the project: not an input the build reads
        if paths:
            yield paths
