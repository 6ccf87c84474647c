"""`invoke bench-preview`: from a save to the reloaded page in Chromium, under `invoke preview`.

In a temporary copy of the project (built once first, so the preview starts
with nothing stale), `python -m scholarly_build preview` runs as a user runs it;
Debian's Chromium (Playwright, never `playwright install`) shows the page. Each
edit appends a new word to a note's annotation (the annotated bibliography) or to
a section (the paper); the time runs from the write to the moment that word is
visible in the reloaded page. Between edits it waits as a reader would
(``--pause``), so the background PDF job is usually still running and the next
save has to cancel it, as in real use. A benchmark script, not a test: it prints
medians and their ratio to the targets of issue 16, and asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console

from scholarly_build.building.build import BuildOptions, build
from scholarly_build.building.reproducible import copy_project
from scholarly_build.verification.readerview import chromium

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"annotated-bibliography.html": 1.0, "paper.html": 2.0}  # seconds, medians (issue 16)


class Preview:
    """The preview command in a subprocess; remembers what it printed."""

    def __init__(self, root: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        cmd = [sys.executable, "-m", "scholarly_build", "--root", str(root), "preview", "--port", "0"]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
        )
        self.lines: list[str] = []
        self.url = ""
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(300) or not self.url:
            raise SystemExit("the preview did not start:\n" + "\n".join(self.lines))

    def _read(self) -> None:
        for line in self.proc.stdout or ():
            self.lines.append(line.rstrip("\n"))
            match = re.match(r"preview at (http://127\.0\.0\.1:\d+)/", line)
            if match:
                self.url = match.group(1)
                self.ready.set()
        self.ready.set()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)


def _append_word(path: Path, word: str) -> None:
    text = path.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(f"{text} {word}\n", encoding="utf-8")


# When the reloaded page's DOM was complete (wall clock, ms): Navigation Timing, read after the fact.
_LOADED_JS = "performance.timeOrigin + performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"


def measure(
    url: str, edited: Path, document: str, runs: int, pause: float, tag: str
) -> tuple[list[float], list[float]]:
    """Seconds from each save of ``edited`` to its new word shown in the reloaded ``document``.

    The page's text is polled every 20 ms (``wait_for_function``, which carries on across
    the reload): a locator's wait, restarted by the navigation, polls again only after
    up to a few hundred ms, which measured Playwright's back-off rather than the preview.
    Also, per edit, the seconds to the reloaded page's DOMContentLoaded as the page itself
    recorded it.
    """
    seconds, loaded = [], []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/{document}")
        for i in range(runs):
            word = f"Benchmark{tag}{i}x"
            t0, wall0 = time.perf_counter(), time.time()
            _append_word(edited, word)
            page.wait_for_function(
                "w => document.body !== null && document.body.innerText.includes(w)", arg=word, polling=20,
                timeout=120_000,
            )
            seconds.append(time.perf_counter() - t0)
            loaded.append(page.evaluate(_LOADED_JS) / 1000 - wall0)
            print(f"  {document} edit {i + 1}: {seconds[-1]:.2f} s (page loaded at {loaded[-1]:.2f} s)", flush=True)
            time.sleep(pause)
    return seconds, loaded


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=10, help="edits per document (the median is reported)")
    ap.add_argument("--pause", type=float, default=2.0, help="seconds between a reload and the next save")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-preview-") as tmp:
        project = Path(tmp) / "project"
        copy_project(ROOT, project)
        seeds = ROOT.parent / "shared"
        if seeds.is_dir():  # `sources_dir: ../shared/seeds`: the checks against the sources run as in the repository
            (Path(tmp) / "shared").symlink_to(seeds)
        print("building the copy once (everything fresh before the preview starts)…", flush=True)
        build(project, BuildOptions(), Console(file=io.StringIO()))
        preview = Preview(project)
        try:
            note = sorted((project / "bib" / "notes").glob("*.md"))[0]
            section = sorted((project / "manuscript" / "sections").glob("*.md"))[0]
            results = {
                "annotated-bibliography.html": measure(
                    preview.url, note, "annotated-bibliography.html", args.runs, args.pause, "N"
                ),
                "paper.html": measure(preview.url, section, "paper.html", args.runs, args.pause, "S"),
            }
        finally:
            preview.stop()
    breakdown = {
        "in-process HTML build (check, assemble, render, record)": r"\.html rebuilt in ([\d.]+) s",
        "  of which pandoc's HTML render": r"✓ [\w-]+\.html \(([\d.]+) s\)",
        "cancelling the background PDF job": r"cancelled the background build \(([\d.]+) s\)",
        "a page spliced or rendered ahead (check, render)": r"spliced in ([\d.]+) s",
    }
    print(f"\nsave -> reloaded page in Chromium, median of {args.runs} edits ({os.cpu_count()} cores):")
    for document, (times, loaded) in results.items():
        median, target = statistics.median(times), TARGETS[document]
        edited = "a note's annotation" if document.startswith("annotated") else "a section"
        print(
            f"  {edited:22} -> {document:28} median {median:.2f} s (min {min(times):.2f}, max {max(times):.2f}); "
            f"{median / target:.2f} × the {target:.1f} s target; "
            f"page loaded (DOMContentLoaded) median {statistics.median(loaded):.2f} s"
        )
    print("where the time goes (medians over both documents, from what the preview printed):")
    for label, pattern in breakdown.items():
        values = [float(m.group(1)) for line in preview.lines if (m := re.search(pattern, line))]
        if values:
            print(f"  {label:56} {statistics.median(values):.2f} s ({len(values)}×)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other work on the machine counts)")


if __name__ == "__main__":
    main()
