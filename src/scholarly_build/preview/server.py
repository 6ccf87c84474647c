"""The preview's HTTP server: ``build/`` as ``invoke serve`` serves it, plus the reload script and its events.

It reuses the reader-view server (nothing outside ``build/``, no hidden files)
and changes only what goes over the wire: an HTML page gets the reload script
(:func:`reload.inject`), a page the preview spliced in memory is served instead
of its file until the build has written it, and ``/__preview/events`` streams
the hub's news. It must never write into ``build/``.
"""

from __future__ import annotations

import threading
import urllib.parse
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from scholarly_build.preview.reload import EVENTS_PATH, Hub, inject
from scholarly_build.verification.readerview import make_server


class SplicedPages:
    """Pages served from memory instead of their file in ``build/`` (by file name), and whether
    a browser has fetched each one since it was put there."""

    def __init__(self) -> None:
        self._pages: dict[str, bytes] = {}
        self._fetched: set[str] = set()
        self._cond = threading.Condition()

    def put(self, name: str, page: bytes) -> None:
        """Serve ``page`` for ``name`` from now on."""
        with self._cond:
            self._pages[name] = page
            self._fetched.discard(name)

    def pop(self, name: str) -> bytes | None:
        """Serve the file again; the page that was served instead, if any."""
        with self._cond:
            self._fetched.discard(name)
            return self._pages.pop(name, None)

    def peek(self, name: str) -> bytes | None:
        """The page served for ``name`` (not a fetch)."""
        with self._cond:
            return self._pages.get(name)

    def fetch(self, name: str) -> bytes | None:
        """The page to send for ``name`` (None: its file), noting that a browser fetched it."""
        with self._cond:
            page = self._pages.get(name)
            if page is not None:
                self._fetched.add(name)
                self._cond.notify_all()
            return page

    def wait_fetched(self, name: str, timeout: float) -> bool:
        """Wait until a browser has fetched ``name`` (or ``timeout`` seconds); whether it did."""
        with self._cond:
            return self._cond.wait_for(lambda: name in self._fetched, timeout)


def make_preview_server(
    build_dir: Path, port: int, hub: Hub, spliced: SplicedPages | None = None
) -> ThreadingHTTPServer:
    """A server for ``build_dir`` on 127.0.0.1:``port`` (0: any free port) that injects the reload script.

    A page in ``spliced`` (the preview's spliced page, until the build has written the
    real one) is sent instead of its file.
    """
    server = make_server(build_dir, port)
    served_instead = spliced if spliced is not None else SplicedPages()
    folder = build_dir.resolve()
    base: Any = server.RequestHandlerClass

    class PreviewHandler(base):  # type: ignore[misc]
        def log_message(self, format: str, *args: Any) -> None:
            pass  # the terminal shows the builds, not every request

        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            if path == EVENTS_PATH:
                self._events()
                return
            target = Path(self.translate_path(self.path))
            if target.is_dir() and (target / "index.html").is_file():
                target = target / "index.html"
            if target.suffix.lower() in (".html", ".htm") and target.is_file() and self._allowed(str(target)):
                self._page(target)
                return
            super().do_GET()

        def _page(self, target: Path) -> None:
            instead = served_instead.fetch(target.name) if target.resolve().parent == folder else None
            body = inject(instead if instead is not None else target.read_bytes())
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _events(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            try:
                for message in hub.stream():
                    chunk = ": keep-alive\n\n" if message is None else f"data: {message}\n\n"
                    self.wfile.write(chunk.encode())
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the page was closed or reloaded

    server.RequestHandlerClass = PreviewHandler
    server.daemon_threads = True  # open event streams never hold up the exit
    return server


def serve_in_background(server: ThreadingHTTPServer) -> threading.Thread:
    """Run ``server`` in a daemon thread; ``server.shutdown()`` stops it."""
    thread = threading.Thread(target=server.serve_forever, name="preview-server", daemon=True)
    thread.start()
    return thread
