"""A saved section spliced into the served paper page: the section rendered alone, as it was and as it is.

The whole paper page takes one full pandoc run (citeproc over every citation, the
Lua filters over the whole document: 1.3 to 1.9 s on two cores), although after an
edit inside one section almost all of it comes out the same. So the section's
Markdown is rendered alone by the last build's HTML job, with the paper's metadata
and a ``nocite`` of every work in the served page's reference list (so citeproc
formats and disambiguates against the same list), once as it was when the served
page was made and once as it is; the new ``<section>`` replaces the old one in the
served page only when three proofs hold:

1. the old lone section is the served page's, byte for byte: its rendering did not
   depend on what precedes it (footnote and figure numbers, a cross-reference's
   label, a citation's first or later form);
2. the two lone pages are identical outside the section: the same headings (so the
   same contents), reference list, citation cards and footnotes;
3. the new section has the old one's identifiers in the same order (nothing that
   links into it or is numbered after it moves) and cites no work the old one did not
   cite (proof 1 showed how each of those reads in place).

Otherwise None, and the preview renders the whole page. The result is only served
from memory; the build that follows writes the real file, and the page reloads
again if that differs. This module reads the project's section files and renders
in a folder of its own outside the project; it never writes into ``build/``.
"""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from scholarly_build.core.fsutil import build_lock
from scholarly_build.core.problems import BuildFailed
from scholarly_build.rendering import htmlsplice
from scholarly_build.rendering.entries import dump_metadata, job_metadata
from scholarly_build.rendering.render import RenderJob

# pandoc's --section-divs: one element per top-level heading (the reference list's is "level1 unnumbered").
_TOP = re.compile(r'<section id="([^"]+)" class="level1">')
_ID = re.compile(r'\sid="([^"]*)"')
_CITES = re.compile(r'\sdata-cites="([^"]*)"')
_ENTRY = re.compile(r'<div id="ref-([^"]+)" class="csl-entry')
# A resolved cross-reference as crossref.lua writes it (a contents entry carries an id as well).
_CROSSREF = re.compile(r'<a href="#((?:sec|fig|tbl|eq):[^"]*)">([^<]*)</a>')
_REFS = "\n\n# References {.unnumbered}\n\n::: {#refs}\n:::\n"
_HEADINGS = re.compile(r"(?m)^#+[ \t].*$")
_KEYS = re.compile(r"(?<![\w.])@\{?([\w:.#$%&+?<>~/-]+)")  # roughly pandoc's citation keys (a shortcut only)


class Render(Protocol):
    """How a page is rendered aside (``fastpath.render_aside``)."""

    def __call__(
        self, job: RenderJob, work_dir: Path, markdown: str, metadata: str | None = None, *, lock: bool = True
    ) -> bytes | None: ...


@dataclass(frozen=True)
class _Lone:
    """One lone rendering: the section text it was made from, with which metadata, and the page."""

    text: str
    metadata: str
    page: str


class SectionSplicer:
    """The section texts the served page was made from, and the last lone rendering (reused as "as it was")."""

    def __init__(self, work_dir: Path, render: Render) -> None:
        self.work_dir = work_dir  # outside the project
        self.render = render  # the preview's render_aside: a job's page made aside, None on failure
        self.texts: dict[Path, str] = {}  # section file -> its text in the served page (stripped)
        self.last: dict[Path, _Lone] = {}

    def served_from(self, paths: list[Path], markdown: str) -> None:
        """The served page was rendered from ``markdown``: note which section texts it holds.

        A file read now whose text is not in ``markdown`` was saved meanwhile: it is not
        noted, and its next save takes the whole-page path.
        """
        self.texts.clear()
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                continue
            if text and text in markdown:
                self.texts[path] = text

    def splice(self, job: RenderJob, path: Path, text: str, served: str) -> str | None:
        """``served`` with ``path``'s section rendered from ``text``, or None when a proof fails."""
        old_text = self.texts.get(path)
        if old_text is None or old_text == text.strip() or not _worth_trying(old_text, text):
            return None
        metadata = _metadata(job, served)
        if metadata is None:
            return None
        kept = self.last.get(path)
        reuse = kept if kept is not None and kept.text == old_text and kept.metadata == metadata else None
        try:
            # Once for both renders (a build may be replacing the staged templates they read).
            with build_lock(job.outputs[0].parent, wait=False), ThreadPoolExecutor(max_workers=1) as pool:
                # pandoc twice at once: two cores.
                old_page = pool.submit(lambda: reuse.page if reuse else self._render(job, old_text, metadata, "old"))
                new_page = self._render(job, text.strip(), metadata, "new")
                old = old_page.result()
        except BuildFailed:
            return None  # a build holds the lock
        if old is None or new_page is None:
            return None
        self.last[path] = _Lone(text.strip(), metadata, new_page)
        page = _proven(served, old, new_page)
        if page is not None:
            self.texts[path] = text.strip()
        return page

    def _render(self, job: RenderJob, text: str, metadata: str, folder: str) -> str | None:
        """The lone page of ``text`` (the caller holds the build lock)."""
        rendered = self.render(job, self.work_dir / folder, text + _REFS, metadata, lock=False)
        try:
            return rendered.decode("utf-8") if rendered is not None else None
        except UnicodeDecodeError:
            return None


def _worth_trying(old: str, new: str) -> bool:
    """False when a proof would surely fail, so the whole page is rendered without the lone renders first.

    Only a shortcut: the proofs decide. A heading added, removed or renamed changes the
    identifiers; a footnote is numbered and listed with the whole page's; a work the old
    text did not cite may read differently in place.
    """
    if "[^" in old or "[^" in new or _HEADINGS.findall(old) != _HEADINGS.findall(new):
        return False
    return set(_KEYS.findall(new)) <= set(_KEYS.findall(old))


def _metadata(job: RenderJob, served: str) -> str | None:
    """The job's metadata with ``nocite`` listing every entry of the served page's reference list,
    and ``crossref-known`` the label of each cross-reference target the served page links to."""
    keys = _ENTRY.findall(served)
    meta = job_metadata(job)
    if not keys or meta is None or "nocite" in meta or "crossref-known" in meta:
        return None  # a paper that lists nocite itself: the full path (the lists would need merging)
    meta["nocite"] = " ".join(f"@{key}" for key in keys)
    known = {target: html.unescape(label) for target, label in _CROSSREF.findall(served)}
    if known:
        meta["crossref-known"] = known
    return dump_metadata(meta)


def _proven(served: str, old: str, new: str) -> str | None:
    """The spliced page if the three proofs of the module's docstring hold, else None."""
    ids = _TOP.findall(old)
    if len(ids) != 1 or _TOP.findall(new) != ids:
        return None
    element_id = ids[0]
    old_span, new_span = htmlsplice.element_span(old, element_id), htmlsplice.element_span(new, element_id)
    served_span = htmlsplice.element_span(served, element_id)
    if old_span is None or new_span is None or served_span is None:
        return None
    old_element, new_element = old[old_span[0] : old_span[1]], new[new_span[0] : new_span[1]]
    if served[served_span[0] : served_span[1]] != old_element:  # proof 1
        return None
    if old[: old_span[0]] != new[: new_span[0]] or old[old_span[1] :] != new[new_span[1] :]:  # proof 2
        return None
    if _ID.findall(new_element) != _ID.findall(old_element) or not _cited(new_element) <= _cited(old_element):
        return None  # proof 3
    return served[: served_span[0]] + new_element + served[served_span[1] :]


def _cited(element: str) -> set[str]:
    """The keys the element's citations cite."""
    return {key for cites in _CITES.findall(element) for key in cites.split()}
