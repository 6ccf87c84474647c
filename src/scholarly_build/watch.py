"""`invoke watch`: a full build at the start and after each save of an input (inotify, via watchfiles).

The same watcher as `invoke preview`, without the server and the reload: it
runs the ordinary ``build`` command and prints what it prints. It must not
build anything the ``build`` command would not.
"""

from __future__ import annotations

from pathlib import Path

from scholarly_build import cli
from scholarly_build.preview.watcher import WATCHED, changes


def watch(root: Path = Path(".")) -> None:
    """Build, then build again after each save under manuscript/, bib/, templates/ or figures/."""
    print(f"watching {', '.join(WATCHED)}; Ctrl-C to stop", flush=True)
    interrupted = 130  # what the command returns when Ctrl-C stopped a build
    if _build(root) == interrupted:
        return
    try:
        for changed in changes(root):
            print(f"changed: {', '.join(sorted(changed))}", flush=True)
            if _build(root) == interrupted:
                return
    except KeyboardInterrupt:
        print("stopped watching")


def _build(root: Path) -> int:
    """One ordinary build, through the same typed options as ``invoke build``."""
    return cli.run(cli.cmd_build, cli.BuildCommandOptions(root=str(root)))
