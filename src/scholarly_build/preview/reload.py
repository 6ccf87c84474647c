"""The reload script the preview server adds to the HTML it sends, and the events it listens to.

A :class:`Hub` holds the preview's news (which HTML files were rebuilt, the
current error) and hands it to every open page through Server-Sent Events.
:func:`inject` adds the script to a copy of a page on its way to the browser,
with a nonce that the page's Content-Security-Policy (if it has one) is widened
to accept. Nothing here touches the files in ``build/``; error text reaches the
page only through ``textContent``, never as markup.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

EVENTS_PATH = "/__preview/events"
KEEPALIVE_S = 15.0

# Runs in the served page only. Keeps the reader's place across a reload (sessionStorage),
# reloads when this page's file was rebuilt, and shows or clears the error banner.
SCRIPT = """(function () {
  var key = "scholarly-preview-scroll:" + location.pathname;
  var file = decodeURIComponent(location.pathname.split("/").pop() || "index.html");
  var saved = sessionStorage.getItem(key);
  if (saved !== null) {
    sessionStorage.removeItem(key);
    var y = Number(saved);
    window.scrollTo(0, y);
    window.addEventListener("load", function () { window.scrollTo(0, y); });
  }
  function banner(text) {
    var b = document.getElementById("scholarly-preview-error");
    if (text === null) { if (b) { b.remove(); } return; }
    if (!b) {
      b = document.createElement("pre");
      b.id = "scholarly-preview-error";
      b.setAttribute("role", "alert");
      var s = b.style;
      s.position = "fixed"; s.left = "0"; s.right = "0"; s.top = "0"; s.zIndex = "2147483647";
      s.margin = "0"; s.padding = "0.75em 1em"; s.maxHeight = "40vh"; s.overflow = "auto";
      s.whiteSpace = "pre-wrap"; s.font = "13px/1.4 monospace";
      s.background = "#7a0010"; s.color = "#ffffff"; s.borderBottom = "3px solid #ff8a8a";
      document.body.appendChild(b);
    }
    b.textContent = "The last rebuild failed; this page is the last good build.\\n\\n" + text;
  }
  var events = new EventSource("__EVENTS__");
  events.onmessage = function (e) {
    var m = JSON.parse(e.data);
    if (m.type === "reload" && m.files.indexOf(file) >= 0) {
      sessionStorage.setItem(key, String(window.scrollY));
      location.reload();
    } else if (m.type === "error") {
      banner(m.text);
    } else if (m.type === "ok") {
      banner(null);
    }
  };
})();
""".replace("__EVENTS__", EVENTS_PATH)

_CSP_META = re.compile(
    rb"""(<meta\s[^>]*http-equiv\s*=\s*["']?content-security-policy["']?[^>]*content\s*=\s*")([^"]*)(")""",
    re.IGNORECASE,
)


def widen_csp(policy: str, nonce: str) -> str:
    """``policy`` that also allows the preview's script (by nonce) and its event stream (same origin)."""
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    names = [d.split()[0].lower() for d in directives]
    script_base = "script-src" if "script-src" in names else "default-src" if "default-src" in names else None
    out = []
    for directive, name in zip(directives, names, strict=True):
        if name == "script-src":
            directive = _plus(directive, f"'nonce-{nonce}'")
        elif name == "connect-src":
            directive = _plus(directive, "'self'")
        out.append(directive)
    if script_base == "default-src":
        base = directives[names.index("default-src")]
        out.append(_plus("script-src" + base[len("default-src") :], f"'nonce-{nonce}'"))
    if "connect-src" not in names and "default-src" in names:
        out.append("connect-src 'self'")
    return "; ".join(out)


def _plus(directive: str, source: str) -> str:
    """``directive`` with ``source`` added ('none' goes: it must stand alone)."""
    return " ".join([t for t in directive.split() if t.lower() != "'none'"] + [source])


def inject(page: bytes) -> bytes:
    """A copy of ``page`` with the reload script before ``</body>`` (and its nonce in the page's CSP)."""
    nonce = secrets.token_urlsafe(16)

    def _meta(match: re.Match[bytes]) -> bytes:
        policy = match.group(2).decode("utf-8", "replace").replace("&#39;", "'").replace("&apos;", "'")
        return match.group(1) + widen_csp(policy, nonce).encode() + match.group(3)

    page = _CSP_META.sub(_meta, page)
    tag = f'<script nonce="{nonce}">\n{SCRIPT}</script>\n'.encode()
    at = page.lower().rfind(b"</body>")
    return page[:at] + tag + page[at:] if at >= 0 else page + tag


@dataclass
class Hub:
    """The news every open page gets: rebuilt files, and the current error (None: the last rebuild was good)."""

    error: str | None = None
    closed: bool = False
    listeners: int = 0  # pages listening now
    _events: list[str] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def reloaded(self, files: list[str]) -> None:
        """Tell the pages showing ``files`` to reload; the build that made them succeeded."""
        with self._cond:
            self.error = None
            self._publish({"type": "ok"})
            if files:
                self._publish({"type": "reload", "files": sorted(files)})

    def failed(self, text: str) -> None:
        """Show ``text`` (the build's ``path:line: …`` lines) on every page until a rebuild succeeds."""
        with self._cond:
            self.error = text
            self._publish({"type": "error", "text": text})

    def close(self) -> None:
        """End every stream (the preview is stopping)."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def _publish(self, message: dict[str, object]) -> None:
        self._events.append(json.dumps(message))
        self._cond.notify_all()

    def stream(self) -> Iterator[str | None]:
        """Messages for one page: the current error first, then news as it comes; None is a keep-alive."""
        with self._cond:
            seen = len(self._events)
            current = self.error
            self.listeners += 1
        try:
            if current is not None:
                yield json.dumps({"type": "error", "text": current})
            while True:
                with self._cond:
                    if seen == len(self._events) and not self.closed:
                        self._cond.wait(KEEPALIVE_S)
                    if self.closed:
                        return
                    news, seen = self._events[seen:], len(self._events)
                if not news:
                    yield None
                yield from news
        finally:
            with self._cond:
                self.listeners -= 1
