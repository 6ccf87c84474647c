"""One preview session: build what is stale, serve it, and rebuild on each save until Ctrl-C or SIGTERM.

The HTML a save feeds is rebuilt first, in this process, through the build's
public API (so it is checked, written atomically and recorded like any build);
the pages showing it reload; the remaining outputs (PDF, DOCX, TeX) follow in a
background job that the next save cancels. It must not write into ``build/``
other than through the build, and it leaves no tool running when it returns.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from rich.console import Console

from scholarly_build.building.build import BuildOptions, build
from scholarly_build.core import limits, tools
from scholarly_build.core.problems import BuildFailed, os_error_message
from scholarly_build.preview import scheduler, watcher
from scholarly_build.preview.reload import Hub
from scholarly_build.preview.server import make_preview_server, serve_in_background


class Preview:
    """The state of a running preview: the hub the pages listen to and the background job."""

    def __init__(self, root: Path, console: Console) -> None:
        self.root = root
        self.console = console
        self.hub = Hub()
        self.background = scheduler.BackgroundBuild(root, self._background_done)

    def rebuild_html(self, documents: tuple[str, ...]) -> bool:
        """Rebuild the HTML of ``documents`` one by one, reloading each page as soon as it is done."""
        started = time.monotonic()
        if self.background.cancel():  # it holds the build lock, and it is about to be stale anyway
            self.console.print(
                f"[yellow]·[/yellow] cancelled the background build ({time.monotonic() - started:.2f} s)",
                highlight=False,
            )
        for document in documents:
            try:
                report = build(self.root, BuildOptions(documents=(document,), formats=("html",)), self.console)
            except BuildFailed as exc:
                self._failed(exc.render())
                return False
            except OSError as exc:
                self._failed(os_error_message(exc, self.root))
                return False
            self.hub.reloaded([name for name in report.rendered if name.endswith(".html")])
            self.console.print(
                f"[green]✓[/green] {scheduler.HTML_OF[document]} "
                f"{'rebuilt' if report.rendered else 'up to date'} in {report.seconds:.2f} s",
                highlight=False,
            )
        return True

    def _failed(self, text: str) -> None:
        self.console.print(text, style="red", markup=False, highlight=False)  # data, never markup
        self.console.print("[red]✗[/red] rebuild failed; the pages keep the last good build", highlight=False)
        self.hub.failed(text)

    def _background_done(self, code: int, output: str) -> None:
        if code == 0:
            last = output.strip().splitlines()[-1:] or ["done"]
            self.console.print(f"[green]✓[/green] background build (PDF, DOCX, TeX): {last[0]}", highlight=False)
            return
        tail = "\n".join(output.strip().splitlines()[-30:])
        self._failed(tail or f"the background build exited with status {code}")

    def after_save(self, changed: set[str]) -> None:
        """Everything one save triggers: the HTML it feeds now, the rest in the background."""
        documents = scheduler.plan(changed)
        self.console.print(f"changed: {', '.join(sorted(changed))}", highlight=False)
        if self.rebuild_html(documents):
            self.background.start()

    def stop(self) -> None:
        """Stop the background job and every tool, and end the pages' event streams."""
        self.background.cancel()
        limits.kill_all()
        self.hub.close()


@contextmanager
def _stop_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM both stop the preview (a KeyboardInterrupt in the main thread).

    SIGINT is re-enabled even when the shell started us with it ignored (a background
    job): the background build inherits it and is cancelled with it.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous_term = signal.signal(signal.SIGTERM, handler)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


@contextmanager
def _watching(root: Path) -> Iterator[Callable[[], Iterator[set[str]]]]:
    """Watch from now on, in a thread: a save during the first build (or before the address
    is printed) is queued, not lost. Yields a function that iterates over the saves."""
    stop = threading.Event()
    saves: queue.Queue[set[str] | None] = queue.Queue()

    def pump() -> None:
        try:
            for changed in watcher.changes(root, stop):
                saves.put(changed)
        finally:
            saves.put(None)

    thread = threading.Thread(target=pump, name="preview-watcher", daemon=True)
    thread.start()

    def each() -> Iterator[set[str]]:
        while True:
            try:
                changed = saves.get(timeout=0.2)  # a timeout keeps Ctrl-C responsive
            except queue.Empty:
                continue
            if changed is None:
                return
            yield changed

    try:
        yield each
    finally:
        stop.set()
        thread.join(timeout=2)


def run_preview(root: Path, port: int, console: Console, ready: threading.Event | None = None) -> int:
    """Build, serve on 127.0.0.1:``port`` and rebuild on each save until interrupted; the exit code."""
    root = root.resolve()
    preview = Preview(root, console)
    with _stop_signals(), tools.versions_remembered(), _watching(root) as saves:
        try:
            preview.rebuild_html(("paper", "bibliography"))
            try:
                server = make_preview_server(root / "build", port, preview.hub)
            except OSError as exc:
                raise BuildFailed(
                    f"error preview: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}\n"
                    "    hint: choose another port with --port (0: any free port)"
                ) from None
            host, bound = server.server_address[:2]
            serve_in_background(server)
            try:
                preview.background.start()
                print(
                    f"preview at http://{host!s}:{bound}/paper.html and /annotated-bibliography.html; "
                    f"watching {', '.join(watcher.WATCHED)}; Ctrl-C to stop",
                    flush=True,
                )
                if ready is not None:
                    ready.set()
                for changed in saves():
                    preview.after_save(changed)
            finally:
                preview.stop()
                server.shutdown()
                server.server_close()
        except KeyboardInterrupt:
            preview.stop()
            print("preview stopped; every file in build/ is complete", flush=True)
    return 0
