"""`invoke watch`: rebuild when an input changes (polling; no extra dependency).

It compares the modification times of the files under the project's input
folders once a second and runs the ordinary ``build`` command when any changed,
so a watched build is exactly a normal one. It must not build anything itself,
watch ``build/`` (its own outputs would trigger it again), or stop on a failed build.
"""

from __future__ import annotations

import time
from pathlib import Path

from scholarly_build.cli import main

WATCHED = ("manuscript", "bib", "templates", "figures")


def _snapshot(root: Path) -> dict[str, float]:
    snap = {}
    for folder in WATCHED:
        for path in (root / folder).rglob("*"):
            if path.is_file():
                snap[str(path)] = path.stat().st_mtime
    return snap


def watch(interval: float = 1.0, root: Path = Path(".")) -> None:
    """Build once, then again after each change seen at the next poll, until Ctrl-C."""
    print(f"watching {', '.join(WATCHED)}; Ctrl-C to stop")
    main(["build"])
    last = _snapshot(root)
    try:
        while True:
            time.sleep(interval)
            now = _snapshot(root)
            if now != last:
                last = now
                main(["build"])
    except KeyboardInterrupt:
        print("stopped watching")
