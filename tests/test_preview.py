"""`invoke preview` (issue 16): a save rebuilds the HTML and the open page reloads itself.

The real command runs on a copy of the mini project, in a session of its own;
Debian's Chromium (through Playwright) opens the served page, a note is edited
on disk and the page must show the new text without a manual reload. A broken
note shows the build's `path:line: …` error as a banner over the last good page.
After SIGINT nothing of the preview runs any more, and build/ holds exactly what
a normal build of the same inputs writes (the reload script only ever existed on
the wire).
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from scholarly_build.preview.reload import EVENTS_PATH
from scholarly_build.verification.readerview import browser_unavailable, chromium
from tests.conftest import REPO, copy_mini, quiet_build, tree_hashes

pytestmark = pytest.mark.integration
NO_BROWSER = browser_unavailable()
OUTPUTS = re.compile(r"\.(html|pdf|tex|docx)$")
BANNER = "#scholarly-preview-error"
WAIT_MS = 120_000  # a generous bound against a stuck preview, not a speed assertion


class Running:
    """A `python -m scholarly_build preview` subprocess and the lines it printed."""

    def __init__(self, root: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scholarly_build", "--root", str(root), "preview", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.url = ""
        ready = threading.Event()
        threading.Thread(target=self._read, args=(ready,), daemon=True).start()
        assert ready.wait(180), "the preview printed no address:\n" + "\n".join(self.lines)
        assert self.url, "the preview ended before serving:\n" + "\n".join(self.lines)

    def _read(self, ready: threading.Event) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            match = re.match(r"preview at (http://127\.0\.0\.1:\d+)/", line)
            if match:
                self.url = match.group(1)
                ready.set()
        ready.set()

    def stop(self, signum: int = signal.SIGINT) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=60)


def _processes_using(root: Path) -> list[str]:
    """Processes whose command line or working folder names ``root`` (the preview, its jobs, their tools)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if str(root) in cmdline or cwd == str(root) or cwd.startswith(str(root) + "/"):
            found.append(f"{entry}: {cmdline[:160]}")
    return found


def _edit_annotation(note: Path, old: str, new: str) -> None:
    text = note.read_text(encoding="utf-8")
    assert old in text
    note.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_mini(tmp_path / "mini")


@pytest.fixture
def preview(project: Path) -> Iterator[Running]:
    running = Running(project)
    yield running
    if running.proc.poll() is None:
        running.stop()


@pytest.mark.skipif(NO_BROWSER is not None, reason=f"needs Chromium: {NO_BROWSER}")
def test_a_saved_note_reloads_the_page_and_a_broken_one_shows_the_error(
    project: Path, preview: Running, tmp_path: Path
) -> None:
    page_url = f"{preview.url}/annotated-bibliography.html"
    served = urllib.request.urlopen(page_url, timeout=30).read().decode()  # noqa: S310 - our own 127.0.0.1 server
    assert EVENTS_PATH in served and "<script nonce=" in served, "the served page has no reload script"
    note = project / "bib" / "notes" / "alpha2018.md"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_url)
        page.evaluate("window.__notReloaded = true")  # gone after any reload: proves the page reloaded itself
        assert page.get_by_text("ANNOTATION-alpha2018").count() == 1

        _edit_annotation(note, "ANNOTATION-alpha2018", "ANNOTATION-alpha2018 PREVIEWMARK-one")
        page.get_by_text("PREVIEWMARK-one").wait_for(timeout=WAIT_MS)
        assert page.evaluate("window.__notReloaded === undefined"), "the new text came without a reload?"

        # A broken note: the build stops at the check; the banner shows its path:line message.
        good = note.read_text(encoding="utf-8")
        note.write_text(good.replace("metadata: reconstructed", "metadata: guessed"), encoding="utf-8")
        banner = page.locator(BANNER)
        banner.wait_for(timeout=WAIT_MS)
        text = banner.inner_text()
        assert re.search(r"bib/notes/alpha2018\.md:\d+(:\d+)?: error ", text), text
        assert page.get_by_text("PREVIEWMARK-one").count() == 1, "the last good page must stay"

        # Fixed again: the banner goes, the page shows the new text.
        note.write_text(good.replace("PREVIEWMARK-one", "PREVIEWMARK-two"), encoding="utf-8")
        page.get_by_text("PREVIEWMARK-two").wait_for(timeout=WAIT_MS)
        banner.wait_for(state="detached", timeout=WAIT_MS)
        page.close()

    print("\n".join(preview.lines))  # shown when the test fails
    assert preview.stop() == 0, "\n".join(preview.lines)
    assert _processes_using(project) == [], "processes outlived the preview"
    _assert_build_is_a_normal_build(project, tmp_path, note.read_text(encoding="utf-8"))


def _assert_build_is_a_normal_build(
    project: Path, tmp_path: Path, note_text: str, note: str = "alpha2018.md", rel: str = ""
) -> None:
    """No partial files, the lock free, no reload script, and the bytes of a normal build of the same
    inputs (``note_text`` is the note's, or the file's at ``rel``)."""
    build_dir = project / "build"
    assert [p for p in build_dir.rglob("*.tmp") if p.is_file()] == [], "partial files left in build/"
    with (build_dir / ".lock").open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the preview still held it
        fcntl.flock(fh, fcntl.LOCK_UN)
    for html in build_dir.glob("*.html"):
        assert EVENTS_PATH not in html.read_text(encoding="utf-8"), f"{html.name} holds the reload script"
    quiet_build(project)  # what the stopped preview's background job had not finished
    reference = copy_mini(tmp_path / "reference")
    (reference / (rel or f"bib/notes/{note}")).write_text(note_text, encoding="utf-8")
    quiet_build(reference)
    ours = {k: v for k, v in tree_hashes(build_dir).items() if OUTPUTS.search(k) and "/" not in k}
    theirs = {k: v for k, v in tree_hashes(reference / "build").items() if OUTPUTS.search(k) and "/" not in k}
    assert "annotated-bibliography.html" in ours
    assert ours == theirs


def _wait_for_line(preview: Running, after: str, wanted: str) -> list[str]:
    """The preview's lines once one containing ``wanted`` follows the first one starting with ``after``."""
    for _ in range(1200):
        lines = list(preview.lines)
        start = next((i for i, line in enumerate(lines) if line.startswith(after)), None)
        if start is not None and any(wanted in line for line in lines[start:]):
            return lines[start:]
        threading.Event().wait(0.1)
    raise AssertionError(f"no {wanted!r} after {after!r}:\n" + "\n".join(preview.lines))


@pytest.mark.skipif(NO_BROWSER is not None, reason=f"needs Chromium: {NO_BROWSER}")
def test_a_saved_note_is_spliced_in_and_the_build_follows_without_a_second_reload(
    project: Path, preview: Running, tmp_path: Path
) -> None:
    """One note saved: the page shows its entry (spliced from memory) after one reload; the build's
    file, written next, has the same entry, so no second reload; build/ ends as a normal build's."""
    page_url = f"{preview.url}/annotated-bibliography.html"
    note = project / "bib" / "notes" / "beta2016.md"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        loads: list[str] = []
        page.on("load", lambda p: loads.append(p.url))
        page.goto(page_url)
        page.get_by_text("ANNOTATION-beta2016").wait_for(timeout=WAIT_MS)
        opened = len(loads)
        _edit_annotation(note, "ANNOTATION-beta2016", 'ANNOTATION-beta2016 FASTMARK <i>kept</i> & so')
        page.get_by_text("FASTMARK").wait_for(timeout=WAIT_MS)
        assert len(loads) == opened + 1, "reloads: " + str(len(loads) - opened) + "\n" + "\n".join(preview.lines)
        lines = _wait_for_line(preview, "changed: bib/notes/beta2016.md", "annotated-bibliography.html rebuilt")
        assert any("ref-beta2016 spliced" in line for line in lines), "\n".join(lines)
        threading.Event().wait(1.0)  # a second reload would have been sent with the build's "rebuilt"
        assert len(loads) == opened + 1, "reloaded again although the built entry is the spliced one"
        entry = page.locator("#ref-beta2016")
        assert '<i>kept</i> & so' in " ".join(entry.inner_text().split()), "markup in a note is text"
        assert entry.locator("i").count() == 0
        # What the page shows is what the build wrote (the file in build/ follows the spliced page).
        built = (project / "build" / "annotated-bibliography.html").read_text(encoding="utf-8")
        assert "FASTMARK" in built
        assert page.locator("div.csl-entry").count() == built.count('class="csl-entry"')
        page.close()
    print("\n".join(preview.lines))  # shown when the test fails
    assert preview.stop() == 0, "\n".join(preview.lines)
    _assert_build_is_a_normal_build(project, tmp_path, note.read_text(encoding="utf-8"), "beta2016.md")


def test_sigterm_during_the_background_pdf_job_stops_everything(project: Path, preview: Running) -> None:
    """SIGTERM while the background build runs LaTeX: no process left, no partial file, the lock free."""
    note = project / "bib" / "notes" / "alpha2018.md"
    _edit_annotation(note, "ANNOTATION-alpha2018", "ANNOTATION-alpha2018 PREVIEWMARK-term")
    background = f"--root {project} build --no-provision"
    for _ in range(600):  # until the save's HTML is rebuilt and the background build has started again
        lines = list(preview.lines)
        saved = [i for i, line in enumerate(lines) if line.startswith("changed: bib/notes/alpha2018.md")]
        rebuilt = saved and any("annotated-bibliography.html rebuilt" in line for line in lines[saved[0] :])
        if rebuilt and any(background in p for p in _processes_using(project)):
            break
        threading.Event().wait(0.1)
    assert any(background in p for p in _processes_using(project)), "\n".join(preview.lines)
    assert preview.stop(signal.SIGTERM) == 0, "\n".join(preview.lines)
    assert _processes_using(project) == [], "processes outlived the preview"
    build_dir = project / "build"
    assert [p for p in build_dir.rglob("*.tmp") if p.is_file()] == [], "partial files left in build/"
    with (build_dir / ".lock").open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert "PREVIEWMARK-term" in (build_dir / "annotated-bibliography.html").read_text(encoding="utf-8")


def test_the_served_copy_gets_a_nonce_that_its_csp_accepts() -> None:
    """A page with a Content-Security-Policy: the script's nonce is added to the policy of the served copy."""
    from scholarly_build.preview.reload import inject

    page = (
        b'<html><head><meta http-equiv="Content-Security-Policy" '
        b"content=\"default-src 'none'; style-src 'unsafe-inline'\" /></head><body><p>x</p></body></html>"
    )
    served = inject(page).decode()
    nonce = re.search(r'<script nonce="([^"]+)">', served)
    assert nonce, served
    policy = re.search(r'content="([^"]*)"', served)
    assert policy is not None
    assert f"script-src 'nonce-{nonce.group(1)}'" in policy.group(1)
    assert "default-src 'none'" in policy.group(1), "the rest of the policy stays as it was"
    assert "connect-src 'self'" in policy.group(1)
    assert served.index("<script") > served.index("<p>x</p>"), "the script goes at the end of the body"
    assert inject(b"<html><body></body></html>").count(b"<script nonce=") == 1


def test_a_save_rebuilds_the_html_it_feeds_first() -> None:
    """A note shows in the bibliography first, a section only in the paper, settings in both."""
    from scholarly_build.preview.scheduler import plan

    assert plan({"bib/notes/alpha2018.md"}) == ("bibliography", "paper")
    assert plan({"manuscript/sections/01-intro.md"}) == ("paper",)
    assert plan({"figures/data/bars.csv"}) == ("paper",)
    assert plan({"templates/annotated-bibliography.md.j2"}) == ("bibliography",)
    assert plan({"manuscript/paper.yaml"}) == ("paper", "bibliography")


def test_cancelling_the_background_build_kills_it_at_once_and_leaves_build_usable(project: Path) -> None:
    """cancel() SIGKILLs the job's whole session (no grace period): nothing of it runs after, no
    temporary file stays, the lock is free, and the next build completes, whatever phase was hit."""
    import time

    from scholarly_build.preview.scheduler import BackgroundBuild, session_members

    quiet_build(project)  # as the preview starts: a complete build/, then saves
    section = project / "manuscript" / "sections" / "01-intro.md"
    for delay in (0.3, 1.5, 4.0):
        section.write_text(section.read_text(encoding="utf-8") + f"\n\nCANCEL-{delay} here.\n", encoding="utf-8")
        job = BackgroundBuild(project, lambda code, out: None)
        job.start()
        pid = job._proc.pid if job._proc else 0
        threading.Event().wait(delay)
        started = time.monotonic()
        job.cancel()
        assert time.monotonic() - started < 1.0, "cancel() waited as if for a grace period"
        assert session_members(pid) == [], f"processes of the cancelled job survived (after {delay} s)"
        build_dir = project / "build"
        assert [p for p in build_dir.rglob("*.tmp") if p.is_file()] == [], f"partial files (after {delay} s)"
        with (build_dir / ".lock").open("a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a killed holder kept it
            fcntl.flock(fh, fcntl.LOCK_UN)
    quiet_build(project)
    assert "CANCEL-4.0" in (project / "build" / "paper.html").read_text(encoding="utf-8")


def _tools_below(root: Path) -> list[str]:
    """pandoc or TeX processes working in ``root`` (the preview's own renders)."""
    return [p for p in _processes_using(root) if "pandoc" in p or "latex" in p]


def test_a_later_save_stops_the_html_rebuild_of_an_earlier_one(project: Path, tmp_path: Path) -> None:
    """While this process renders the HTML for one save, the next save stops it: the render is
    killed (not waited for), nothing is installed or reported as an error, no tool refuses to
    run afterwards, and the later save's rebuild writes what a normal build writes."""
    import io
    import time

    from rich.console import Console

    from scholarly_build.core import limits
    from scholarly_build.preview.session import Preview

    quiet_build(project)
    section = project / "manuscript" / "sections" / "01-intro.md"
    section.write_text(section.read_text(encoding="utf-8") + "\n\nSTALE-SAVE here.\n", encoding="utf-8")
    before = (project / "build" / "paper.html").read_bytes()
    out = io.StringIO()
    preview = Preview(project, Console(file=out, width=200))
    try:
        worker = threading.Thread(target=preview.after_save, args=({"manuscript/sections/01-intro.md"},))
        worker.start()
        deadline = time.monotonic() + 60
        while not _tools_below(project) and worker.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert _tools_below(project), "no render was seen running:\n" + out.getvalue()
        stopped = time.monotonic()
        preview.saved()  # the watcher's call for the next save
        worker.join(60)
        assert not worker.is_alive()
        assert time.monotonic() - stopped < 1.0, "the stale render was waited for"
        assert preview.superseded == 1, out.getvalue()
        assert "superseded by a later save" in out.getvalue()
        assert "rebuild failed" not in out.getvalue() and preview.hub.error is None
        assert _tools_below(project) == []
        assert not preview.background.running, "a stopped save must not start the background build"
        assert (project / "build" / "paper.html").read_bytes() == before, "a stopped render replaced the page"
        assert [p for p in (project / "build").rglob("*.tmp") if p.is_file()] == []
        with pytest.raises(limits.Cancelled):
            limits.run_limited(["true"], tool="pandoc")  # refused until the next save is taken up
        section.write_text(section.read_text(encoding="utf-8") + "\n\nLATER-SAVE here.\n", encoding="utf-8")
        preview.after_save({"manuscript/sections/01-intro.md"})
        assert preview.superseded == 1, out.getvalue()
        built = (project / "build" / "paper.html").read_text(encoding="utf-8")
        assert "STALE-SAVE" in built and "LATER-SAVE" in built, out.getvalue()
    finally:
        preview.stop()
        limits.resume()
    _assert_build_is_a_normal_build(
        project, tmp_path, section.read_text(encoding="utf-8"), rel="manuscript/sections/01-intro.md"
    )
