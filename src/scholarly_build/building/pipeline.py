"""Loading every input once and checking it: shared by `check` and `build`.

Every pandoc parse of a text (sections, notes, the assembled paper, the settings'
metadata) is cached by content hash in ``build/.cache``, so a repeated check or a
no-op build starts no pandoc. This module checks and assembles; it must not render
or write outputs (``build.py`` does).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scholarly_build.assembly.assemble import CitingSection, assemble_paper, citing_sections, paper_metadata
from scholarly_build.checks import rules as checks
from scholarly_build.checks.citations import Citation, ReservedId, scan_markdown
from scholarly_build.checks.figurecaptions import check_figure_captions
from scholarly_build.checks.quotecheck import SourceReport, run_source_checks
from scholarly_build.core.fsutil import sha256_bytes, write_atomic
from scholarly_build.core.limits import MAX_SECTION_BYTES
from scholarly_build.core.pandoc import PandocError, parse_many, parse_markdown
from scholarly_build.core.problems import BuildFailed, Problems
from scholarly_build.core.safety import check_links
from scholarly_build.core.textfile import read_text
from scholarly_build.core.tools import pandoc_version
from scholarly_build.inputs.bibliography import Bibliography, load_bibliography
from scholarly_build.inputs.notes import Note, load_notes
from scholarly_build.inputs.project import Project


@dataclass
class Inputs:
    """Everything the check loaded, passed on to the build so nothing is read twice."""

    bib: Bibliography
    notes: dict[str, Note] | None
    citations: list[Citation]
    manuscripts: list[Path]
    sources: SourceReport | None = None  # quotations and prose against the sources' text
    # The paper as the templates assembled it while checking: the build renders this
    # very text, so the data passes assembly once (None when the check could not assemble).
    paper_markdown: str | None = None
    # Where that text really cites each work, from pandoc's AST (the bibliography's "cited in").
    cited_in: dict[str, list[CitingSection]] = dataclasses.field(default_factory=dict)


def scan_citations(
    paths: list[Path], prefixes: tuple[str, ...], problems: Problems, cache_dir: Path | None = None
) -> list[Citation]:
    """Citations of every file; cached by content hash, since each parse spawns pandoc.

    Files are parsed concurrently: the work happens in pandoc processes. Identifiers the
    build reserves (``refs``, ``ref-KEY``) are reported as errors on the way.
    """
    texts = [read_text(p, problems, limit=MAX_SECTION_BYTES, kind="a manuscript file") for p in paths]
    readable = [(p, t) for p, t in zip(paths, texts, strict=True) if t is not None]
    parsed = parse_uncached(readable, prefixes, cache_dir)
    results = [
        _scan_one(p, t, prefixes, problems, cache_dir, ast) for (p, t), ast in zip(readable, parsed, strict=True)
    ]
    return [c for cites in results for c in cites]


def _cache_file(
    path: Path, text: str, prefixes: tuple[str, ...], cache_dir: Path | None, sections: bool
) -> Path | None:
    """Where the scan of ``text`` is cached: keyed by everything the result depends on, pandoc's version included."""
    if cache_dir is None:
        return None
    tag = "assembled-v1" if sections else "scan-v3"
    digest = sha256_bytes(f"{tag}\0{path}\0{prefixes}\0{pandoc_version()}\0{text}".encode())
    return cache_dir / f"scan-{digest}.json"


def parse_uncached(
    items: list[tuple[Path, str]], prefixes: tuple[str, ...], cache_dir: Path | None
) -> list[dict[str, Any] | None]:
    """Each text's AST when its scan is not cached (else None), parsed a few per pandoc process.

    One process per core, each parsing its share (``parse_many``): starting a process per
    short note cost more than parsing it. A share that fails is left as None, so the caller
    parses those texts one by one and reports which failed, as before.
    """
    found: list[dict[str, Any] | None] = [None] * len(items)
    cached = [_cache_file(p, t, prefixes, cache_dir, False) for p, t in items]
    todo = [i for i, c in enumerate(cached) if c is None or not c.is_file()]
    if len(todo) < 2:
        return found
    shares = [todo[i :: _PARSE_PROCESSES] for i in range(min(_PARSE_PROCESSES, len(todo)))]

    def parse(share: list[int]) -> None:
        try:
            for i, ast in zip(share, parse_many([items[i][1] for i in share]), strict=True):
                found[i] = ast
        except (PandocError, RuntimeError, ValueError, KeyError, TypeError):
            pass

    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        list(pool.map(parse, shares))
    return found


_Scan = tuple[list[Citation], list[ReservedId], dict[str, list[CitingSection]]]
# pandoc processes that parse uncached texts at once (each takes a share of them).
_PARSE_PROCESSES = max(1, min(4, os.cpu_count() or 1))


def _scan_text(
    path: Path, text: str, prefixes: tuple[str, ...], cache_dir: Path | None, ast: dict[str, Any] | None = None
) -> tuple[list[Citation], list[ReservedId]]:
    """scan_markdown, cached by content (raises PandocError); ``ast`` is ``text`` already parsed, if it was."""
    cites, ids, _ = _scan_cached(path, text, prefixes, cache_dir, sections=False, ast=ast)
    return cites, ids


def _scan_assembled(path: Path, text: str, prefixes: tuple[str, ...], cache_dir: Path | None) -> _Scan:
    """The assembled paper's citations, reserved ids and citing sections, from one pandoc parse cached by content.

    Raises PandocError. The citing sections ("cited in" under each annotation) come from
    the same AST as the citations, so the two cannot disagree.
    """
    return _scan_cached(path, text, prefixes, cache_dir, sections=True)


def _scan_cached(
    path: Path,
    text: str,
    prefixes: tuple[str, ...],
    cache_dir: Path | None,
    sections: bool,
    ast: dict[str, Any] | None = None,
) -> _Scan:
    """One pandoc parse of ``text`` (citations, reserved ids, and with ``sections`` the citing sections), cached.

    A corrupt or unwritable cache only costs the parse again.
    """
    cache = _cache_file(path, text, prefixes, cache_dir, sections)
    if cache is not None and cache.is_file():
        try:
            data = json.loads(cache.read_text())
            return (
                [Citation(**{**row, "path": Path(row["path"])}) for row in data["cites"]],
                [ReservedId(**row) for row in data["ids"]],
                {k: [CitingSection(*pair) for pair in v] for k, v in data.get("cited_in", {}).items()},
            )
        except (ValueError, TypeError, KeyError):
            pass  # a corrupt cache entry is simply recomputed
    if ast is None:
        ast = parse_markdown(text)
    cites, ids = scan_markdown(path, text, prefixes, ast=ast)
    cited_in = citing_sections(ast) if sections else {}
    if cache is not None:
        rows = {
            "cites": [{**dataclasses.asdict(c), "path": str(c.path)} for c in cites],
            "ids": [dataclasses.asdict(i) for i in ids],
            "cited_in": {k: [[s.ident, s.title] for s in v] for k, v in cited_in.items()},
        }
        try:
            write_atomic(cache, json.dumps(rows))
        except OSError:
            pass  # the cache is an optimisation: a full or read-only disk must not fail the check
    return cites, ids, cited_in


def report_reserved(ids: list[ReservedId], problems: Problems, path: Path, line_offset: int = 0) -> None:
    """Report identifiers the build reserves (``refs``, ``ref-KEY``) found in a text."""
    for rid in ids:
        problems.error(
            "reserved-id",
            f"the identifier {rid.ident!r} is reserved: the build gives it to the bibliography"
            + (" and its entries" if rid.ident != "refs" else "")
            + "; here it would capture the citation links or print the bibliography twice",
            path=path,
            line=rid.line + line_offset,
            column=rid.column,
            hint="rename it (identifiers `refs` and `ref-…` are the build's own; a heading gets one from its text)",
        )


def _scan_one(
    path: Path,
    text: str,
    prefixes: tuple[str, ...],
    problems: Problems,
    cache_dir: Path | None,
    ast: dict[str, Any] | None,
) -> list[Citation]:
    """One manuscript file's citations; its reserved identifiers and a failed parse are reported."""
    try:
        cites, ids = _scan_text(path, text, prefixes, cache_dir, ast)
    except (PandocError, RuntimeError) as exc:
        problems.error(
            "parse", f"pandoc could not parse this file: {exc}", path=path, line=1, hint=getattr(exc, "hint", None)
        )
        return []
    report_reserved(ids, problems, path)
    return cites


def check_note_text(
    notes: dict[str, Note], bib: Bibliography, prefixes: tuple[str, ...], problems: Problems, cache_dir: Path | None
) -> None:
    """What the annotated bibliography renders of each note (body, `uses.how`) is checked like a section."""
    joined = {key: _note_text(note) for key, note in notes.items()}
    parsed = parse_uncached([(notes[k].path, text) for k, (text, _s) in joined.items()], prefixes, cache_dir)
    for (key, note), ast in zip(notes.items(), parsed, strict=True):
        text, starts = joined[key]
        _check_note(note, text, starts, bib, prefixes, problems, cache_dir, ast)


_Starts = list[tuple[int, int, bool]]  # (first line in the joined text, line in the note, body?)


def _note_text(note: Note) -> tuple[str, _Starts]:
    """A note's rendered text for one parse: the body, then each `how` as its own paragraph."""
    parts = [(note.body, note.body_line, True)] + [(u.how, u.line, False) for u in note.uses]
    starts: _Starts = []
    lines = 1
    chunks = []
    for text, line, is_body in parts:
        starts.append((lines, line, is_body))
        chunks.append(text)
        lines += text.count("\n") + 2
    return "\n\n".join(chunks), starts


def _check_note(
    note: Note,
    joined: str,
    starts: _Starts,
    bib: Bibliography,
    prefixes: tuple[str, ...],
    problems: Problems,
    cache_dir: Path | None,
    ast: dict[str, Any] | None,
) -> None:
    """Check one note's rendered text: reserved identifiers, citations of keys not in the bibliography."""

    def where(line: int) -> int:
        """The note's line for a line of the joined text."""
        line = max(line, 1)
        first, at, is_body = max((s for s in starts if s[0] <= line), key=lambda s: s[0])
        return at + (line - first) if is_body else at

    try:
        cites, ids = _scan_text(note.path, joined, prefixes, cache_dir, ast)
    except PandocError as exc:
        problems.error(
            "parse", f"pandoc could not parse this note: {exc}", path=note.path, line=note.body_line, hint=exc.hint
        )
        return
    for rid in ids:
        report_reserved([ReservedId(rid.ident, where(rid.line), rid.column)], problems, note.path)
    seen: set[str] = set()
    for cite in cites:
        if cite.crossref or cite.key in bib.entries or cite.key in seen:
            continue
        seen.add(cite.key)
        problems.error(
            "undefined-citation",
            f"citation key {cite.key!r} is not in any .bib file (the annotated bibliography renders it)",
            path=note.path,
            line=where(cite.line),
            key=cite.key,
            hint="add an entry for it to the bibliography, or fix the key",
        )


def load_and_check(
    *,
    bib_paths: list[Path],
    manuscripts: list[Path],
    notes_dir: Path | None,
    project: Project | None,
    problems: Problems,
    cache_dir: Path | None,
    min_words: int = 80,
    max_words: int = 200,
    prefixes: tuple[str, ...] = ("fig:", "tbl:", "eq:", "sec:"),
) -> Inputs:
    """Load the bibliography, notes and manuscripts' citations and run every rule on them."""
    with _gc_paused():
        return _load_and_check(
            bib_paths, manuscripts, notes_dir, project, problems, cache_dir, min_words, max_words, prefixes
        )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cycle collector off while the inputs load (it is on again after).

    Loading allocates hundreds of thousands of small objects that are freed by reference
    counting; each allocation burst otherwise triggers collections that walk every live
    object, which cost a large bibliography's check about as much as parsing it. The
    bibliography loader collects once per parsed batch, so memory stays bounded.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load_and_check(
    bib_paths: list[Path],
    manuscripts: list[Path],
    notes_dir: Path | None,
    project: Project | None,
    problems: Problems,
    cache_dir: Path | None,
    min_words: int,
    max_words: int,
    prefixes: tuple[str, ...],
) -> Inputs:
    # Citation scanning runs in pandoc processes, so it overlaps the pybtex parse.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(scan_citations, manuscripts, prefixes, problems, cache_dir)
        bib = load_bibliography(bib_paths, problems, cache_dir)
        notes: dict[str, Note] | None = None
        if notes_dir is not None and project is not None:
            notes = load_notes(project, problems, notes_dir)
        citations = pending.result()
    data = checks.CheckInput(
        bib=bib,
        citations=citations,
        notes=notes,
        listed=set(notes or {}),
        annotation_min_words=min_words,
        annotation_max_words=max_words,
    )
    checks.run_all(data, problems)
    if notes:
        check_note_text(notes, bib, prefixes, problems, cache_dir)
    return Inputs(bib, notes, citations, manuscripts)


def project_manuscripts(project: Project) -> list[Path]:
    """Section files that exist and lie inside the project (others are reported, never read)."""
    return [
        project.sections_dir / s.path
        for s in project.sections
        if s.path is not None
        and (project.sections_dir / s.path).is_file()
        and project.inside(project.sections_dir / s.path)
    ]


def check_project(project: Project, problems: Problems, sources_dir: str | None = None) -> Inputs:
    """Check this repository: sections, notes, bibliography."""
    check_links(project.root, problems)  # a link that leaves the project is reported and never followed
    missing = [s for s in project.sections if s.path is not None and not (project.sections_dir / s.path).is_file()]
    for s in project.sections:
        if (
            s.path is not None
            and (project.sections_dir / s.path).is_file()
            and not project.inside(project.sections_dir / s.path)
        ):
            problems.error(
                "unsafe-path",
                f"section {s.path} resolves outside the project; it was not read",
                path=project.settings_path,
                line=s.line,
                hint="keep sections under manuscript/sections/",
            )
    for s in missing:
        problems.error(
            "missing-file",
            f"section {s.path} is listed but does not exist",
            path=project.settings_path,
            line=s.line,
            hint="create the file or remove it from `sections`",
        )
    inputs = load_and_check(
        bib_paths=list(project.bibliography),
        manuscripts=project_manuscripts(project),
        notes_dir=project.notes_dir,
        project=project,
        problems=problems,
        cache_dir=project.build_dir / ".cache",
        min_words=project.annotation_min_words,
        max_words=project.annotation_max_words,
        prefixes=project.crossref_prefixes,
    )
    check_figure_captions(project, project_manuscripts(project), problems)
    inputs.sources = run_source_checks(
        project, inputs.notes, inputs.manuscripts, problems, sources_dir, set(inputs.bib.entries)
    )
    # The assembled paper needs the templates; without them `build` reports that.
    if not problems.errors and inputs.notes is not None and project.template("paper.md.j2") is not None:
        check_assembled(project, inputs, problems)
    return inputs


def check_assembled(project: Project, inputs: Inputs, problems: Problems) -> None:
    """Citations the templates generate (comparison table, sources by theme) must resolve too.

    The assembled paper is kept in ``inputs.paper_markdown`` for the build to render. Its
    pandoc scan is cached by content like the sections' (a no-op build parses nothing).
    """
    try:
        markdown, _ = assemble_paper(project, inputs.notes or {}, Problems(project.root))
    except BuildFailed as exc:
        problems.extend(exc.problems)
        if exc.message:
            problems.error("template", exc.message, path=project.templates_dir)
        return
    inputs.paper_markdown = markdown
    path = project.build_dir / "assembled" / "paper.md"
    cache_dir = project.build_dir / ".cache"
    seen = {c.key for c in inputs.citations}
    try:
        cites, ids, inputs.cited_in = _scan_assembled(path, markdown, project.crossref_prefixes, cache_dir)
    except PandocError as exc:
        problems.error("parse", f"pandoc could not parse the assembled paper: {exc}", path=path, line=1, hint=exc.hint)
        return
    _report_assembled_ids(ids, path, problems)
    _check_settings_citations(project, inputs, seen, problems, cache_dir)
    for cite in cites:
        if not cite.crossref and cite.key not in inputs.bib.entries and cite.key not in seen:
            seen.add(cite.key)
            problems.error(
                "undefined-citation",
                f"the assembled paper cites {cite.key!r}, which is in no .bib file",
                path=path,
                line=cite.line,
                column=cite.column,
                key=cite.key,
                hint="a template or a note's claims generate this citation; fix the key there",
            )


def _report_assembled_ids(ids: list[ReservedId], path: Path, problems: Problems) -> None:
    """The template makes one `refs` (the bibliography); any other reserved id comes from a note's claim."""
    own = next((i for i in reversed(ids) if i.ident == "refs"), None)  # the template's is the last
    for rid in ids:
        if rid is not own:
            problems.error(
                "reserved-id",
                f"the assembled paper has the identifier {rid.ident!r}, which the build reserves for the "
                "bibliography and its entries",
                path=path,
                line=rid.line,
                column=rid.column,
                hint="a note's claim or stance (the comparison table) or a template defines it; rename it there",
            )


def _check_settings_citations(
    project: Project, inputs: Inputs, seen: set[str], problems: Problems, cache_dir: Path
) -> None:
    """The settings' title, abstract etc. are Markdown too (pandoc's --metadata-file renders them)."""
    text = f"---\n{paper_metadata(project)}...\n"
    try:
        meta_cites, _ids = _scan_text(project.settings_path, text, (), cache_dir)  # as find_citations: no prefixes
    except PandocError:
        meta_cites = []
    settings_lines = project.settings_path.read_text(errors="replace").splitlines()
    for cite in meta_cites:
        if cite.key not in inputs.bib.entries and cite.key not in seen:
            seen.add(cite.key)
            line = next((i for i, row in enumerate(settings_lines, 1) if "@" + cite.key in row), 1)
            problems.error(
                "undefined-citation",
                f"the settings cite {cite.key!r} (metadata such as the title or abstract is rendered), "
                "which is in no .bib file",
                path=project.settings_path,
                line=line,
                key=cite.key,
                hint="add an entry for it to the bibliography, or fix the key",
            )
