"""`invoke watch`: rebuild when an input changes (polling; no extra dependency)."""

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
