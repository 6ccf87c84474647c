"""The preview's fast paths: a saved note's entry spliced into the page, a saved section's page rendered ahead.

A full render of the annotated bibliography takes longer than the preview's
latency target, so when a save changed exactly one existing note, that note is
loaded and checked as the build checks it, the bibliography is assembled as the
build assembles it, and only the note's entry (with everything outside the
annotations: the reference list's context, the legend) is rendered by the very
render job of the last build's HTML, citing only that entry. The entry's element
is cut from that rendering and put in place of the one in the page being served.

Everything here is a preview: the spliced page lives in memory only (this module
must never write into ``build/``, and renders in a folder of its own outside
the project), and the full build that follows replaces it. Whenever the fast
path cannot vouch for its result it returns None and the preview takes the full
path; only a note the check rejects raises :class:`BuildFailed`, with the text
the build prints for it. :class:`SectionFastPath` renders the whole paper page
for a saved section with the same job, before the full check (see its docstring).
"""

from __future__ import annotations

import contextlib
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from scholarly_build.assembly.assemble import assemble_bibliography, assemble_paper
from scholarly_build.building.build import BuildReport
from scholarly_build.building.pipeline import Inputs, check_note_text, scan_citations
from scholarly_build.checks import rules
from scholarly_build.checks.quotecheck import run_source_checks
from scholarly_build.core.fsutil import build_lock
from scholarly_build.core.problems import BuildFailed, Problems
from scholarly_build.inputs.notes import Note, load_note
from scholarly_build.inputs.project import Project
from scholarly_build.preview.sections import SectionSplicer
from scholarly_build.rendering import htmlsplice as splice
from scholarly_build.rendering.entries import fragment_markdown, lone_metadata
from scholarly_build.rendering.render import RenderJob, render_job

PAGE = "annotated-bibliography.html"
# The same words the build stops with (building/build.py _check), so the banner reads the same.
STOPPED = "the build stopped before rendering: fix the errors above (previous outputs in build/ are unchanged)"
_ANNOTATION = '<div class="annotation">'


@dataclass(frozen=True)
class Spliced:
    """A page to serve instead of ``build/NAME`` until the full build has written it."""

    name: str  # the file in build/, e.g. annotated-bibliography.html
    element_id: str  # the spliced element, e.g. ref-KEY ("": the whole page is compared with the build's)
    element: str  # its markup as spliced (the whole page when element_id is "")
    page: bytes
    label: str = ""  # what the preview prints for it, if not the element's id


def _load_checked(project: Project, inputs: Inputs, path: Path, key: str, problems: Problems) -> Note | None:
    """Load the saved note and run the build's rules on it (all but the pandoc parse of its text).

    None when it is not the same note (another key, or nothing usable without an error to show).
    """
    note = load_note(path, project, problems)
    if note is None or note.key != key:
        return None
    data = rules.CheckInput(
        bib=inputs.bib,
        citations=[],
        notes={key: note},
        listed=set(inputs.notes or {}),
        annotation_min_words=project.annotation_min_words,
        annotation_max_words=project.annotation_max_words,
    )
    rules.check_note(data, key, note, problems)
    run_source_checks(project, {key: note}, [], problems, None, set(inputs.bib.entries))
    return note


class NoteFastPath:
    """What the last good build of the bibliography left (its inputs and HTML job), and the fast path over it."""

    def __init__(self, root: Path, work_dir: Path) -> None:
        self.root = root
        self.work_dir = work_dir  # outside the project: the fragment's render folder
        self.project: Project | None = None
        self.inputs: Inputs | None = None
        self.job: RenderJob | None = None

    def remember(self, report: BuildReport) -> None:
        """Keep what a successful build of the bibliography's HTML checked and rendered with."""
        project, inputs, job = report.project, report.inputs, report.html_jobs.get(PAGE)
        if project is not None and inputs is not None and inputs.notes and job is not None:
            self.project, self.inputs, self.job = project, inputs, job

    def forget(self) -> None:
        """The last build failed: nothing is spliced until one succeeds again."""
        self.project = self.inputs = self.job = None

    def note_key(self, changed: set[str]) -> str | None:
        """The key of the one existing note that ``changed`` consists of, or None."""
        if len(changed) != 1 or self.inputs is None or not self.inputs.notes:
            return None
        rel = next(iter(changed))
        parts = rel.split("/")
        if len(parts) != 3 or parts[:2] != ["bib", "notes"] or not parts[2].endswith(".md"):
            return None
        key = parts[2][: -len(".md")]
        note = self.inputs.notes.get(key)
        path = self.root / rel
        if note is None or note.path != path or not path.is_file() or path.is_symlink():
            return None  # new, renamed, deleted or linked: the full path decides
        return key

    def try_note(self, changed: set[str], served: bytes) -> Spliced | None:
        """``served`` (the page now shown) with the saved note's entry rendered anew, or None: full path.

        Raises BuildFailed with the build's text when the note does not pass the check.
        """
        key = self.note_key(changed)
        # The settings are as the last build read them: a save of only a note did not change them.
        project, inputs, job = self.project, self.inputs, self.job
        if key is None or project is None or inputs is None or job is None or not job.defaults_dir.is_dir():
            return None
        problems = Problems(project.root)
        note = _load_checked(project, inputs, self.root / next(iter(changed)), key, problems)
        if note is None:
            if problems.errors:
                raise BuildFailed(STOPPED, problems.errors)
            return None
        # The parse of the note's text (pandoc) runs while its entry renders (pandoc too): two cores.
        args = ({key: note}, inputs.bib, project.crossref_prefixes, problems, project.build_dir / ".cache")
        with ThreadPoolExecutor(max_workers=1) as pool:
            parsed = pool.submit(check_note_text, *args)
            spliced = None if problems.errors else self._entry(project, inputs, job, note, served)
            parsed.result()
        if problems.errors:
            raise BuildFailed(STOPPED, problems.errors)
        return spliced

    def _entry(self, project: Project, inputs: Inputs, job: RenderJob, note: Note, served: bytes) -> Spliced | None:
        """Assemble as the build does, check that only ``note``'s block changed, render it and splice it."""
        key = note.key
        markdown = assemble_bibliography(project, {**(inputs.notes or {}), key: note}, job.csl.stem, inputs.cited_in)
        split_now = fragment_markdown(markdown, key)
        split_before = fragment_markdown(job.markdown.read_text(encoding="utf-8"), key)
        # Only this note's block may differ from what the page was rendered from.
        if split_now is None or split_before is None or split_now[1] != split_before[1]:
            return None
        if split_now[2] == split_before[2]:
            return None  # nothing the bibliography shows changed (claims, say): the full path has little to do
        element = self._render(job, key, split_now[0])
        return _splice(served, key, element) if element is not None else None

    def _render(self, job: RenderJob, key: str, markdown: str) -> str | None:
        """Render ``markdown`` with the job of the real page, citing ``key`` only; that entry's element."""
        metadata = lone_metadata(job, key)
        if metadata is None:
            return None
        rendered = render_aside(job, self.work_dir, markdown, metadata)
        return splice.element_html(rendered.decode("utf-8"), f"ref-{key}") if rendered is not None else None


def render_aside(
    job: RenderJob, work_dir: Path, markdown: str, metadata: str | None = None, *, lock: bool = True
) -> bytes | None:
    """The page ``job`` renders from ``markdown`` (and ``metadata``, else the job's own), made in ``work_dir``.

    Outside the project and never installed: the preview serves it from memory. None when
    a build holds the lock (it may be replacing the staged templates) or the render fails.
    ``lock=False``: the caller holds the build lock already (renders side by side).
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "page.md").write_text(markdown, encoding="utf-8")
    if metadata is not None:
        (work_dir / "page.meta.yaml").write_text(metadata, encoding="utf-8")
    aside = dataclasses.replace(
        job,
        markdown=work_dir / "page.md",
        metadata=work_dir / "page.meta.yaml" if metadata is not None else job.metadata,
        outputs=(work_dir / "out" / job.outputs[0].name,),
        work_dir=work_dir / "render",
        aux_dir=None,
        shared=None,  # one format alone: a shared citeproc step would only add a pandoc process
    )
    try:
        with build_lock(job.outputs[0].parent, wait=False) if lock else contextlib.nullcontext():
            [(rendered, _dest)] = render_job(aside)
        return rendered.read_bytes()
    except (BuildFailed, OSError, ValueError):
        return None


def _before_annotation(element: str) -> str:
    """The formatted reference of an entry's element: its markup before the annotation."""
    at = element.find(_ANNOTATION)
    return element[:at] if at >= 0 else element


def _splice(served: bytes, key: str, element: str) -> Spliced | None:
    """``served`` with the entry ``ref-KEY`` replaced by ``element``; None if the page cannot take it as is.

    Rendered alone, the entry must read as in the full page: the same formatted reference
    (its year suffix, numbering or repeated-author dash could depend on the other entries)
    and no citation in the annotation (its form could depend on them too).
    """
    element_id = f"ref-{key}"
    page = served.decode("utf-8")
    span = splice.element_span(page, element_id)  # the served page is parsed once
    if span is None or splice.element_span(element, element_id) != (0, len(element)):
        return None
    current = page[span[0] : span[1]]
    if _before_annotation(current) != _before_annotation(element) or 'class="citation"' in element:
        return None
    spliced = page[: span[0]] + element + page[span[1] :]
    return Spliced(PAGE, element_id, element, spliced.encode("utf-8"))


PAPER = "paper.html"


class SectionFastPath:
    """A saved section: the whole paper page rendered at once by the last build's job, before the full check.

    The section's own citations are checked first (its parse, keys in the bibliography,
    reserved identifiers); what only the full check sees (the assembled paper's
    generated citations, quotations against the sources) follows with the build, which
    runs next as always: an error then replaces the page with the banner.
    """

    def __init__(self, root: Path, work_dir: Path) -> None:
        self.root = root
        self.work_dir = work_dir  # outside the project
        self.project: Project | None = None
        self.inputs: Inputs | None = None
        self.job: RenderJob | None = None
        self.sections = SectionSplicer(work_dir / "sections", render_aside)

    def remember(self, report: BuildReport) -> None:
        """Keep what a successful build of the paper's HTML checked and rendered with."""
        project, inputs, job = report.project, report.inputs, report.html_jobs.get(PAPER)
        if project is not None and inputs is not None and inputs.notes is not None and job is not None:
            self.project, self.inputs, self.job = project, inputs, job
            try:
                self.sections.served_from(_section_files(project), job.markdown.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                self.sections.texts.clear()

    def forget(self) -> None:
        """The last build failed: nothing is rendered ahead until one succeeds again."""
        self.project = self.inputs = self.job = None

    def try_section(self, changed: set[str], served: bytes | None = None) -> Spliced | None:
        """The paper's page with the saved section, or None: the full path decides.

        With the ``served`` page, the section alone is rendered and spliced into it when it
        can be (see ``sections``); otherwise the whole page is rendered.
        """
        project, inputs, job = self.project, self.inputs, self.job
        if len(changed) != 1 or project is None or inputs is None or job is None or not job.defaults_dir.is_dir():
            return None
        path = self.root / next(iter(changed))
        listed = set(_section_files(project))
        if path not in listed or path.is_symlink() or not path.is_file():
            return None
        problems = Problems(project.root)
        cites = scan_citations([path], project.crossref_prefixes, problems, project.build_dir / ".cache")
        unknown = [c for c in cites if not c.crossref and c.key not in inputs.bib.entries]
        if problems.errors or unknown:
            return None  # the full check reports it, with everything else it finds
        if served is not None:
            spliced = self._section(job, path, served)
            if spliced is not None:
                return spliced
        markdown, _ = assemble_paper(project, inputs.notes or {}, problems)
        if problems.errors:
            return None
        page = render_aside(job, self.work_dir, markdown)
        if page is None:
            return None
        self.sections.served_from(_section_files(project), markdown)
        return Spliced(PAPER, "", page.decode("utf-8"), page)

    def _section(self, job: RenderJob, path: Path, served: bytes) -> Spliced | None:
        """The served page with ``path``'s section rendered alone and spliced in, or None."""
        try:
            text, page = path.read_text(encoding="utf-8"), served.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        spliced = self.sections.splice(job, path, text, page)
        if spliced is None:
            return None
        label = f"section {path.relative_to(self.root).as_posix()}"
        return Spliced(PAPER, "", spliced, spliced.encode("utf-8"), label)


def _section_files(project: Project) -> list[Path]:
    """The paper's section files, as listed in the settings."""
    return [project.sections_dir / s.path for s in project.sections if s.path is not None]
