"""The build graph as data: what each rendered output reads, and whether it is stale.

Every render (``paper.html``, ``paper.tex+paper.pdf``, …) is an :class:`Output`
whose inputs are declared in one place, :func:`document_inputs` (what every
output of a document reads) and :func:`format_inputs` (what one format adds).
An output's key is the digest of those inputs' values, in the declared order;
it is fresh when the key recorded by the last build matches and its files are
the ones that build wrote. What ``paper.pdf`` depends on, in one table:

====================================  ==========================================================
input                                 made from (named by ``--explain`` when it changed)
====================================  ==========================================================
build/assembled/paper.md              settings, sections, notes, ``templates/*.j2``
build/assembled/paper.meta.yaml       settings
templates/ (pandoc resources)         every template file except ``*.j2`` (defaults, filters, CSS)
the CSL style                         the ``csl`` setting's file
bibliography                          the ``bibliography`` setting's files
figures                               the figure scripts and data (file names and bytes)
pandoc version                        the installed pandoc
pdf_engine, fonts, crossref_prefixes  settings
SOURCE_DATE_EPOCH                     the environment, else the last commit's date
format, citations, LaTeX variables    ``--formats``, the ``citations`` setting or ``--citations``
output names                          which of .tex/.pdf are made together
annotated .bib (biblatex only)        the bibliography and the notes
====================================  ==========================================================

This module must not render, write files or take the lock: ``build.py`` runs
the jobs and records the state; the figures declare their own inputs
(``rendering/figures.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scholarly_build.core import tools
from scholarly_build.core.fsutil import sha256_file
from scholarly_build.inputs.project import Project, input_name
from scholarly_build.rendering.render import digest_of

ANNOTATED = "annotated-bibliography"
# biblatex options of the annotated bibliography's LaTeX (the paper keeps the style's defaults).
_ANNOTATED_BIBLATEX = (
    "annotation=true",
    "entryhead=true",
    "abstract=false",
    "file=false",
    "library=false",
    "entrykey=false",
)


@dataclass(frozen=True)
class Input:
    """One declared input: a file path or a setting name, the parts hashed into the key, its sources."""

    name: str
    parts: tuple[str | bytes, ...]
    sources: tuple[Path, ...] = ()  # files this (derived) input is made from, for --explain

    @property
    def fingerprint(self) -> str:
        """Digest of this input alone (recorded so that --explain can name what changed)."""
        return digest_of(*self.parts)


@dataclass(frozen=True)
class Output:
    """One render: the files it writes together and every input it reads."""

    document: str  # "paper" | "annotated-bibliography"
    fmt: str  # html | docx | latex
    method: str  # citeproc | biblatex
    files: tuple[Path, ...]
    shared: tuple[Input, ...]  # what every output of the document reads
    own: tuple[Input, ...]  # what this format adds
    latex_variables: tuple[str, ...] = ()
    figures: tuple[Path, ...] = ()

    @property
    def label(self) -> str:
        """The name in reports and in the state, e.g. ``paper.tex+paper.pdf``."""
        return "+".join(f.name for f in self.files)

    @property
    def inputs(self) -> tuple[Input, ...]:
        """Every declared input, document-wide first."""
        return self.shared + self.own

    @property
    def key(self) -> str:
        """The digest the state records: changes when any declared input changes."""
        base = digest_of(*(part for i in self.shared for part in i.parts))
        return digest_of(base, *(part for i in self.own for part in i.parts))


@dataclass(frozen=True)
class BuildContext:
    """What the declarations read, computed once per build."""

    project: Project
    documents: Mapping[str, tuple[str, str]]  # document -> (assembled Markdown, metadata YAML)
    csl: Path
    resources: str  # digest of the templates every render reads
    figures: tuple[Path, ...]  # the figure files (PNG and PDF)
    epoch: int
    formats: tuple[str, ...]
    tex_ok: bool
    citations: str  # the LaTeX outputs' citation method
    biblatex_bib: Path | None
    # Digest of each figure's file names and sources (script + data): known before the
    # scripts run, so every output is declared, and the renders scheduled, up front.
    figure_digest: str = ""
    keep_aux: bool = True  # TeX jobs start from the previous run's auxiliary files (render.AUX_SUFFIXES)


def document_inputs(ctx: BuildContext, document: str) -> tuple[Input, ...]:
    """What every output of ``document`` reads, in the order its key hashes them."""
    project = ctx.project
    md, meta = ctx.documents[document]
    notes = tuple(sorted(project.notes_dir.glob("*.md")))
    j2 = tuple(p for p in project.template_files().values() if p.suffix == ".j2")
    sections = tuple(project.sections_dir / s.path for s in project.sections if s.path is not None)
    figures = ctx.figures if document == "paper" else ()
    return (
        Input(f"build/assembled/{document}.md", (md,), (project.settings_path, *sections, *notes, *j2)),
        # The paper's metadata carries each note's opening (its citation cards).
        Input(
            f"build/assembled/{document}.meta.yaml",
            (meta,),
            (project.settings_path, *(notes if document == "paper" else ())),
        ),
        Input("templates/ (pandoc resources)", (ctx.resources,), _resource_files(project)),
        Input(_rel(project, ctx.csl, "the csl setting's style"), (ctx.csl.read_bytes(),)),
        Input("bibliography", (b"".join(p.read_bytes() for p in project.bibliography),), project.bibliography),
        # Names too: the document refers to figures by file name (a renamed id changes the output).
        Input("figures", (ctx.figure_digest if figures else digest_of(),), _figure_sources(ctx) if figures else ()),
        Input("pandoc version", (tools.pandoc_version(),)),
        Input("pdf_engine (setting)", (project.pdf_engine,)),
        Input("fonts (setting)", (repr(sorted(project.fonts.items())),)),
        Input("crossref_prefixes (setting)", (repr(project.crossref_prefixes),)),
        Input("SOURCE_DATE_EPOCH", (str(ctx.epoch),)),
    )


def format_inputs(ctx: BuildContext, document: str, fmt: str, files: tuple[Path, ...]) -> tuple[Input, ...]:
    """What one format of ``document`` adds to the document's inputs, in key order."""
    method = ctx.citations if fmt == "latex" else "citeproc"
    declared = [
        Input("format", (fmt,)),
        Input("citations (setting or --citations)", (method,)),
        Input("LaTeX variables", latex_variables(document, method)),
        Input("output names", tuple(f.name for f in files)),
    ]
    if method == "biblatex" and ctx.biblatex_bib is not None:
        notes = tuple(sorted(ctx.project.notes_dir.glob("*.md")))
        sources = (*ctx.project.bibliography, *notes)
        declared.append(Input(_rel(ctx.project, ctx.biblatex_bib), (ctx.biblatex_bib.read_bytes(),), sources))
    return tuple(declared)


def latex_variables(document: str, method: str) -> tuple[str, ...]:
    """pandoc ``-V`` arguments of a LaTeX render with ``method`` citations."""
    if method != "biblatex":
        return ()
    style = "reading" if document == ANNOTATED else "authoryear"
    extra = _ANNOTATED_BIBLATEX if document == ANNOTATED else ()
    return ("-V", f"biblio-style={style}", *(x for o in extra for x in ("-V", f"biblatexoptions={o}")))


def wanted_files(ctx: BuildContext, document: str) -> list[tuple[str, tuple[Path, ...]]]:
    """(format, files made together) of ``document`` for the requested formats."""
    build_dir = ctx.project.build_dir
    wanted: list[tuple[str, tuple[Path, ...]]] = []
    if "html" in ctx.formats:
        wanted.append(("html", (build_dir / f"{document}.html",)))
    if document == "paper" and "docx" in ctx.formats:
        wanted.append(("docx", (build_dir / f"{document}.docx",)))
    if "latex" in ctx.formats or "pdf" in ctx.formats:
        outs: tuple[Path, ...] = (build_dir / f"{document}.tex",)
        if "pdf" in ctx.formats and ctx.tex_ok:
            outs += (build_dir / f"{document}.pdf",)
        wanted.append(("latex", outs))
    return wanted


def declare_outputs(ctx: BuildContext) -> list[Output]:
    """Every output of the requested documents and formats, with its declared inputs."""
    outputs: list[Output] = []
    for document in ctx.documents:
        shared = document_inputs(ctx, document)
        for fmt, files in wanted_files(ctx, document):
            method = ctx.citations if fmt == "latex" else "citeproc"
            own = format_inputs(ctx, document, fmt, files)
            figures = ctx.figures if document == "paper" else ()
            variables = latex_variables(document, method)
            outputs.append(Output(document, fmt, method, files, shared, own, variables, figures))
    return outputs


def is_fresh(output: Output, state: Mapping[str, str]) -> bool:
    """The last build recorded this key, and the files are the ones it wrote."""
    return state.get(f"render:{output.label}") == output.key and all(
        f.is_file() and state.get(f"hash:{f.name}") == sha256_file(f) for f in output.files
    )


def fingerprints(output: Output) -> dict[str, str]:
    """Each declared input's digest, as recorded for --explain."""
    return {i.name: i.fingerprint for i in output.inputs}


def why_stale(
    output: Output,
    state: Mapping[str, str],
    recorded: Mapping[str, str] | None,
    previous_files: Mapping[str, str],
    force: bool,
    root: Path,
) -> list[str]:
    """Why ``output`` is rebuilt: ``--force``, no previous build, a changed or missing file, or changed inputs.

    ``recorded`` is the fingerprint of each input at the last build of this output;
    ``previous_files`` the manifest's hash of each input file (names the changed source).
    """
    if force:
        return ["--force"]
    if f"render:{output.label}" not in state:
        return ["no previous build"]
    if state[f"render:{output.label}"] == output.key:
        return [f"build/{f.name} is missing or was changed after the build" for f in output.files if _edited(f, state)]
    if recorded is None:
        return ["an input changed (the previous build recorded no inputs to compare)"]
    reasons: list[str] = []
    for i in output.inputs:
        if recorded.get(i.name) != i.fingerprint:
            reasons += _changed_sources(i, root, previous_files) or [f"{i.name} changed"]
    return reasons or ["an input changed"]


def _changed_sources(i: Input, root: Path, previous_files: Mapping[str, str]) -> list[str]:
    """The source files of ``i`` whose hash differs from the previous manifest's."""
    changed = []
    for path in i.sources:
        rel = input_name(root, path)
        now = sha256_file(path) if path.is_file() else None
        if previous_files.get(rel) != now:
            changed.append(f"{rel} changed" if now is not None and rel in previous_files else f"{rel} added or removed")
    return [f"{c} (via {i.name})" if c.split(" ")[0] != i.name else c for c in changed]


def _edited(path: Path, state: Mapping[str, str]) -> bool:
    return not path.is_file() or state.get(f"hash:{path.name}") != sha256_file(path)


def _resource_files(project: Project) -> tuple[Path, ...]:
    return tuple(p for p in project.template_files().values() if p.suffix != ".j2")


def _figure_sources(ctx: BuildContext) -> tuple[Path, ...]:
    root = ctx.project.root
    files = [root / f.script for f in ctx.project.figures]
    files += [root / f.data for f in ctx.project.figures if f.data is not None]
    return tuple(files)


def _rel(project: Project, path: Path, outside: str = "outside the project") -> str:
    """The path as a reader of this project names it (a packaged style: its file name)."""
    return str(path.relative_to(project.root)) if path.is_relative_to(project.root) else f"{path.name} ({outside})"
