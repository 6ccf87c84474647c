"""docs/preview.png: `invoke preview` showing a failed rebuild's banner over the last good paper.

Runs the preview on a temporary copy of this repository, opens paper.html in
Debian's Chromium (1280 × 800), breaks one note's `metadata` field, waits for the
banner and takes the screenshot. Usage: `python scripts/preview_screenshot.py [OUT]`.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from rich.console import Console

from scholarly_build.building.build import BuildOptions, build
from scholarly_build.building.reproducible import copy_project
from scholarly_build.verification.readerview import chromium

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "preview.png"
    with tempfile.TemporaryDirectory(prefix="preview-shot-") as tmp:
        project = Path(tmp) / "project"
        copy_project(ROOT, project)
        if (ROOT.parent / "shared").is_dir():
            (Path(tmp) / "shared").symlink_to(ROOT.parent / "shared")
        build(project, BuildOptions(formats=("html",)), Console(file=io.StringIO()))
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "scholarly_build", "--root", str(project), "preview", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        url: list[str] = []
        ready = threading.Event()

        def read() -> None:
            for line in proc.stdout or ():
                if m := re.match(r"preview at (http://127\.0\.0\.1:\d+)/", line):
                    url.append(m.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        ready.wait(300)
        try:
            with chromium() as browser:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(f"{url[0]}/paper.html")
                notes = sorted((project / "bib" / "notes").glob("*.md"))
                note = next(n for n in notes if "metadata: complete" in n.read_text())
                note.write_text(note.read_text().replace("metadata: complete", "metadata: guessed", 1))
                page.locator("#scholarly-preview-error").wait_for(timeout=120_000)
                page.screenshot(path=str(out))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
