"""One preview session: build what is stale, serve it, and rebuild on each save until Ctrl-C or SIGTERM.

The HTML a save feeds is rebuilt first, in this process, through the build's
public API (so it is checked, written atomically and recorded like any build);
the pages showing it reload. A save of one note takes a fast path before that
(``fastpath``): its entry alone is rendered and spliced into the page, served
from memory until the build has written the file. The remaining outputs (PDF,
DOCX, TeX) follow in a background job that the next save cancels. A save that arrives while
this process still renders for an earlier one stops that work too (``limits.cancel_all``):
the newest save is always the next one served, not queued behind stale work. It must not
write into ``build/`` other than through the build, and it leaves no tool running when it returns.
"""

from __future__ import annotations

import queue
import shutil
import signal
import tempfile
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
from scholarly_build.preview import fastpath, scheduler, watcher
from scholarly_build.preview.fastpath import NoteFastPath, SectionFastPath, Spliced
from scholarly_build.preview.reload import Hub
from scholarly_build.preview.server import SplicedPages, make_preview_server, serve_in_background
from scholarly_build.rendering import htmlsplice as splice

FETCH_WAIT_S = 1.0  # after a splice, how long the full build waits for an open page to fetch it


class Preview:
    """The state of a running preview: the hub the pages listen to, the background job, the spliced pages."""

    def __init__(self, root: Path, console: Console) -> None:
        self.root = root
        self.console = console
        self.hub = Hub()
        self.background = scheduler.BackgroundBuild(root, self._background_done)
        self.spliced = SplicedPages()  # served instead of their file in build/ until the build writes it
        self._work = Path(tempfile.mkdtemp(prefix="scholarly-preview-"))  # outside the project
        self.fast = NoteFastPath(root, self._work / "fragment")
        self.ahead = SectionFastPath(root, self._work / "ahead")
        self.held: dict[str, Spliced] = {}  # file name -> the page served from memory for it
        self.held_before: dict[str, Spliced] = {}  # … as it was when the save in hand was taken up
        self.superseded = 0  # work stopped because a later save made it stale (the tests read it)

    def saved(self) -> None:
        """A save was queued (called from the watcher's thread): stop the work in hand, now stale.

        Only this process's tools: the background job is cancelled when the save is taken up.
        """
        limits.cancel_all()  # after_save lets them run again

    def cancel_background(self) -> None:
        """Stop the background job: it holds the build lock, and it is about to be stale anyway."""
        started = time.monotonic()
        if self.background.cancel():
            self.console.print(
                f"[yellow]·[/yellow] cancelled the background build ({time.monotonic() - started:.2f} s)",
                highlight=False,
            )

    def rebuild_html(self, documents: tuple[str, ...]) -> bool:
        """Rebuild the HTML of ``documents`` one by one, reloading each page as soon as it is done.

        A page served from memory (a fast path's) is reloaded only if the build's differs from it.
        """
        self.cancel_background()
        for document in documents:
            try:
                report = build(self.root, self._html_options(document), self.console)
            except (BuildFailed, OSError) as exc:
                self._drop_spliced()
                self.fast.forget()
                self.ahead.forget()
                self._failed(exc.render() if isinstance(exc, BuildFailed) else os_error_message(exc, self.root))
                return False
            if document == "bibliography":
                self.fast.remember(report)
            else:
                self.ahead.remember(report)
            rendered = [name for name in report.rendered if name.endswith(".html")]
            page = scheduler.HTML_OF[document]
            held = self.held.pop(page, None)
            if held is not None and self.spliced.pop(page) is not None:
                # The file is served again: the pages reload only if it is not what they show.
                rendered = [name for name in rendered if name != page]
                if not self._same_as_spliced(held):
                    rendered.append(page)
            self.hub.reloaded(rendered)
            self.console.print(
                f"[green]✓[/green] {scheduler.HTML_OF[document]} "
                f"{'rebuilt' if report.rendered else 'up to date'} in {report.seconds:.2f} s",
                highlight=False,
            )
        return True

    @staticmethod
    def _html_options(document: str) -> BuildOptions:
        """One document's HTML, linking to what the background build (a full build) writes: the same
        bytes as that build's HTML, so it has no HTML left to render and the pages keep every link."""
        full = BuildOptions()
        return BuildOptions(documents=(document,), formats=("html",), linked_as=(full.documents, full.formats))

    def _same_as_spliced(self, spliced: Spliced) -> bool:
        """The page the build wrote has the spliced element exactly as it was spliced (no second reload)."""
        try:
            page = (self.root / "build" / spliced.name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return False
        if not spliced.element_id:  # a whole page rendered ahead
            return page == spliced.element
        return splice.element_html(page, spliced.element_id) == spliced.element

    def _drop_spliced(self) -> None:
        """The build failed: the pages this save spliced go back to what was shown before it.

        That is the page held from an earlier save whose build a later one stopped (what the
        reader last saw), else the file in build/. The pages that change reload.
        """
        for name, held in list(self.held.items()):
            before = self.held_before.get(name)
            if before is held:
                continue  # held from an earlier save and not touched by this one
            if before is not None:
                self.held[name] = before
                self.spliced.put(name, before.page)
            else:
                del self.held[name]
                self.spliced.pop(name)
            self.hub.reloaded([name])

    def splice_note(self, changed: set[str]) -> Spliced | None:
        """The fast path for a saved note: its entry rendered alone and spliced into the served page."""

        def attempt() -> Spliced | None:
            served = self.spliced.peek(fastpath.PAGE) or (self.root / "build" / fastpath.PAGE).read_bytes()
            return self.fast.try_note(changed, served)

        return self._fast_path(fastpath.PAGE, attempt)

    def render_section_ahead(self, changed: set[str]) -> Spliced | None:
        """The fast path for a saved section: it is spliced in (or the whole page rendered) before the check."""
        def attempt() -> Spliced | None:
            served = self.spliced.peek(fastpath.PAPER) or (self.root / "build" / fastpath.PAPER).read_bytes()
            return self.ahead.try_section(changed, served)

        return self._fast_path(fastpath.PAPER, attempt)

    def _fast_path(self, name: str, attempt: Callable[[], Spliced | None]) -> Spliced | None:
        """Serve ``attempt()``'s page from memory and reload the pages showing ``name`` (None: full path)."""
        started = time.monotonic()
        try:
            spliced = attempt()
        except limits.Cancelled:
            raise
        except BuildFailed as exc:
            self._failed(exc.render())  # the build that follows says the same, with anything else it finds
            return None
        except Exception as exc:  # noqa: BLE001 - a preview shortcut must never stop the real build
            self.console.print(f"[dim]· fast path skipped: {type(exc).__name__}: {exc}[/dim]", highlight=False)
            return None
        if spliced is None:
            return None
        self.spliced.put(name, spliced.page)
        self.held[name] = spliced
        self.hub.reloaded([name])
        what = spliced.label or spliced.element_id or "the whole page"
        self.console.print(
            f"[green]✓[/green] {name}: {what} spliced in {time.monotonic() - started:.2f} s "
            "(shown from memory until the build writes the file)",
            highlight=False,
        )
        if self.hub.listeners:
            # The full build takes both cores (and the GIL) for a second or more: let the open
            # pages fetch the spliced page first, or their reload waits behind it.
            self.spliced.wait_fetched(name, FETCH_WAIT_S)
        return spliced

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
        """Everything one save triggers: the HTML it feeds now, the rest in the background.

        A later save stops it (:meth:`saved`): it then ends at once, and that save follows.
        """
        limits.resume()
        self.held_before = dict(self.held)
        # A page still held from a save whose build a later one stopped is rebuilt as well.
        documents = scheduler.plan(changed)
        documents += tuple(d for d, page in scheduler.HTML_OF.items() if page in self.held and d not in documents)
        self.console.print(f"changed: {', '.join(sorted(changed))}", highlight=False)
        self.cancel_background()
        try:
            if self.hub.error is None:  # a page under an error banner waits for the full check
                _ = self.splice_note(changed) or self.render_section_ahead(changed)
            done = self.rebuild_html(documents)
        except limits.Cancelled:
            self.superseded += 1
            self.console.print("[yellow]·[/yellow] superseded by a later save", highlight=False)
            return
        if done:
            self.background.start()

    def stop(self) -> None:
        """Stop the background job and every tool, and end the pages' event streams."""
        self.background.cancel()
        limits.kill_all()
        self.hub.close()
        shutil.rmtree(self._work, ignore_errors=True)


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
def _watching(root: Path, on_save: Callable[[], None]) -> Iterator[Callable[[], Iterator[set[str]]]]:
    """Watch from now on, in a thread: a save during the first build (or before the address
    is printed) is queued, not lost, and ``on_save`` is called in that thread just before.
    Yields a function that iterates over the saves, the ones queued meanwhile taken together."""
    stop = threading.Event()
    saves: queue.Queue[set[str] | None] = queue.Queue()

    def pump() -> None:
        try:
            for changed in watcher.changes(root, stop):
                on_save()  # first: the save is then taken up after the stale work stopped, never before
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
            while changed is not None:  # what was saved while the last one was handled, at once
                try:
                    more = saves.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    yield changed
                    return
                changed |= more
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
    with _stop_signals(), tools.versions_remembered(), _watching(root, preview.saved) as saves:
        try:
            try:
                preview.rebuild_html(("paper", "bibliography"))
            except limits.Cancelled:
                pass  # a save came during the first build: it follows, and builds what is stale
            try:
                server = make_preview_server(root / "build", port, preview.hub, preview.spliced)
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
