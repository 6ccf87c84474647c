"""The build: check -> assemble -> figures -> render (in parallel) -> manifest."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import cast

from rich.console import Console

from scholarly_build.assembly import assemble
from scholarly_build.building import auxcache, graph
from scholarly_build.building.pipeline import Inputs, check_project
from scholarly_build.building.schedule import Task, run_tasks
from scholarly_build.core import limits, tools
from scholarly_build.core.fsutil import build_lock, install_atomic, sha256_file, write_atomic
from scholarly_build.core.problems import BuildFailed, Problems, os_error_message
from scholarly_build.core.safety import check_build_dir
from scholarly_build.inputs.csl import resolve_csl
from scholarly_build.inputs.project import PACKAGE_TEMPLATES, Project
from scholarly_build.rendering import figurehost, sharedast
from scholarly_build.rendering.biblatex_export import annotated_bib
from scholarly_build.rendering.disambiguation import equivalent_style
from scholarly_build.rendering.earlyfigures import EarlyRuns
from scholarly_build.rendering.figures import FigurePlan, may_run_figures, plan_figures, run_figure
from scholarly_build.rendering.render import (
    RenderJob,
    citeproc_step,
    digest_of,
    render_job,
    spliced_entry,
    tex_passes,
)

# Used when the project is not a git checkout (documented in the README).
FALLBACK_SOURCE_DATE_EPOCH = 1704067200  # 2024-01-01T00:00:00Z
DOCUMENTS = ("paper", "bibliography")
STATE_FILE = ".state.json"
RECORD_FILE = ".cache/build-inputs.json"  # what --explain compares (not what decides)


@dataclass
class BuildOptions:
    """What to build: documents, formats, --force, workers, citation method, --explain."""

    documents: tuple[str, ...] = DOCUMENTS
    formats: tuple[str, ...] = ("html", "latex", "pdf", "docx")
    force: bool = False
    jobs: int = 2
    citations: str | None = None  # None: the `citations` setting
    explain: bool = False  # print why each output is rebuilt
    # The (documents, formats) of the build whose outputs the HTML links to; None: this build's own.
    # The preview renders one document's HTML at a time, as a full build (run next) renders it.
    linked_as: tuple[tuple[str, ...], tuple[str, ...]] | None = None


@dataclass
class BuildReport:
    """What a build did: rendered, skipped and kept outputs, figures run, jobs, their order and timings."""

    rendered: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # rendered, not installed: another output of its document failed
    figures_run: list[str] = field(default_factory=list)
    figures_early: list[str] = field(default_factory=list)  # of those, the ones that ran while the check ran
    warnings: list[str] = field(default_factory=list)
    jobs: list[RenderJob] = field(default_factory=list)  # what was rendered (the bench replays them)
    depends: dict[str, tuple[str, ...]] = field(default_factory=dict)  # each job: the jobs it waited for
    started: list[str] = field(default_factory=list)  # the jobs (figures and renders) in the order they started
    failed: list[str] = field(default_factory=list)  # the jobs that failed
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage (the bench reads them)
    job_seconds: dict[str, float] = field(default_factory=dict)  # seconds of each figure script and render
    tex_passes: dict[str, int] = field(default_factory=dict)  # TeX passes latexmk ran, per installed PDF job
    spliced: dict[str, str] = field(default_factory=dict)  # installed job -> the one entry rendered alone
    seconds: float = 0.0
    # What the check loaded, and the HTML render of each declared HTML output (rendered or
    # not): the preview renders a single saved note's entry with the very same job.
    project: Project | None = None
    inputs: Inputs | None = None
    html_jobs: dict[str, RenderJob] = field(default_factory=dict)


def source_date_epoch(root: Path) -> int:
    """``SOURCE_DATE_EPOCH`` from the environment, else the last commit's date, else a fixed date."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%ct"], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
        if out.returncode == 0 and out.stdout.strip().isdigit():
            return int(out.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    return FALLBACK_SOURCE_DATE_EPOCH


def _load_state(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _resource_digest(project: Project) -> str:
    """Templates, filters and CSS that every render reads."""
    parts: list[bytes] = []
    for path in project.template_files().values():
        if path.suffix != ".j2":
            parts += [project.input_name(path).encode(), path.read_bytes()]
    return digest_of(*parts)


def _stage_templates(project: Project) -> None:
    """Copy the resolved pandoc resources (defaults, filters, HTML/LaTeX templates, CSS: the engine's,
    overridden file by file by the project's) into one fresh folder, so that ``${.}`` in a defaults
    file finds its neighbours whichever of the two folders each came from."""
    staged = project.build_dir / ".work" / "templates"
    if staged.exists():
        shutil.rmtree(staged)
    for rel, path in project.template_files().items():
        if path.suffix != ".j2":
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, staged / rel)


def build(root: Path, options: BuildOptions, console: Console | None = None) -> BuildReport:
    """Check, assemble and render what is stale under the build lock (the public entry point)."""
    console = console or Console(stderr=True, soft_wrap=True)
    project_root = root.resolve()
    from scholarly_build.inputs.project import load_project  # late: keeps `import build` cheap for tasks.py --list

    project = load_project(project_root)
    check_build_dir(project.root)  # before the lock: taking it writes build/.lock
    with build_lock(project.build_dir):
        return _build_locked(project, options, console)


def _build_locked(project: Project, options: BuildOptions, console: Console) -> BuildReport:
    """check -> assemble -> declare outputs -> figures and stale renders, by dependency -> record -> manifest."""
    start = time.monotonic()
    report = BuildReport(project=project)
    state = {} if options.force else _load_state(project.build_dir / STATE_FILE)
    epoch = source_date_epoch(project.root)
    env = {"SOURCE_DATE_EPOCH": str(epoch), "FORCE_SOURCE_DATE": "1", "TZ": "UTC", "LC_ALL": "C.UTF-8"}
    if may_run_figures(project, state):
        figurehost.warm()  # matplotlib's imports, on the other core while the check runs
    # The stale figures that read no note run meanwhile too; a failed check stops them.
    with EarlyRuns(project, state, env) as early:
        try:
            return _check_and_build(project, options, console, report, state, epoch, env, early, start)
        finally:
            report.figures_early = [f"figure {figure_id}" for figure_id in early.taken]


def _check_and_build(
    project: Project, options: BuildOptions, console: Console, report: BuildReport, state: dict[str, str],
    epoch: int, env: dict[str, str], early: EarlyRuns, start: float,
) -> BuildReport:
    """The build proper, from the check on (``_build_locked`` started what runs beside the check)."""
    report.inputs = inputs = _check(project, options, console, report)
    report.stages["check"] = time.monotonic() - start
    notes = inputs.notes or {}
    csl = resolve_csl(project.csl, project.root, project.settings_lines.get("csl", 0))
    docs = _assemble(project, options, inputs, csl)
    console.print(
        f"[green]✓[/green] assembled {', '.join(docs)} ({len(notes)} notes, "
        f"{len(inputs.bib.entries)} entries, {len(inputs.citations)} citations)"
    )
    report.stages["assembly"] = time.monotonic() - start - report.stages["check"]
    mark = time.monotonic()
    plans = plan_figures(project, notes, state)
    ctx = _context(project, options, inputs, docs, csl, epoch, plans)
    outputs = graph.declare_outputs(ctx)
    report.html_jobs = {o.label: _render_job(o, ctx, env) for o in outputs if o.fmt == "html"}
    fresh = [graph.is_fresh(o, state) for o in outputs]
    # A figure script about to run may change its files, which the paper's renders read: those
    # are declared again once the scripts ran (an unchanged picture re-renders nothing).
    recheck = {o.label for o in outputs if o.figures and any(f.needs_run for f in plans)}
    stale = [o for o, ok in zip(outputs, fresh, strict=True) if not ok or o.label in recheck]
    report.skipped = [o.label for o, ok in zip(outputs, fresh, strict=True) if ok and o.label not in recheck]
    if options.explain:
        _explain(project, [o for o, ok in zip(outputs, fresh, strict=True) if not ok], state, options.force, console)
    if stale:
        _stage_templates(project)  # the resolved pandoc files, where the jobs read them
    report.jobs = jobs = _render_jobs(stale, ctx, env, options.force)
    report.stages["declare"] = time.monotonic() - mark
    mark = time.monotonic()
    failures, staged, failed_documents, declared, versions = _run_stale(
        project, options, ctx, env, plans, stale, recheck, state, report, console, early
    )
    report.stages["jobs (wall)"] = time.monotonic() - mark
    if any(name in report.failed for name in report.depends if name.startswith("figure ")):
        # As when the figures ran first: a failed figure script stops the build and replaces no output.
        raise BuildFailed("\n".join(f.render() for f in failures))
    mark = time.monotonic()
    _install(project, staged, failed_documents, declared, state, report, failures, console)
    for name in report.skipped:
        console.print(f"[dim]· {name} is up to date[/dim]")
    out_of_date = sorted(out.name for job in jobs if _document_of(job) in failed_documents for out in job.outputs)
    try:
        write_manifest(project, inputs_files(project), env, csl, out_of_date, versions)
    except OSError as exc:
        # Reported after the render errors (which must not be lost behind it).
        failures.append(BuildFailed(os_error_message(exc, project.root)))
    report.stages["install and manifest"] = time.monotonic() - mark
    report.seconds = time.monotonic() - start
    _raise_failures(failures, failed_documents)
    if ("pdf" in options.formats) and not ctx.tex_ok:
        raise BuildFailed(tools.missing_tex_message(project.pdf_engine))
    return report


def _context(
    project: Project,
    options: BuildOptions,
    inputs: Inputs,
    docs: dict[str, tuple[str, str]],
    csl: Path,
    epoch: int,
    plans: list[FigurePlan],
) -> graph.BuildContext:
    """What the graph declares the outputs from."""
    citations = options.citations or project.citations
    return graph.BuildContext(
        project=project,
        documents=docs,
        # An equivalent copy of the style that pandoc's citeproc runs much faster, where there is one.
        csl=equivalent_style(csl, list(project.bibliography), project.build_dir),
        resources=_resource_digest(project),
        figures=tuple(p for f in plans for p in (f.png, f.pdf)),
        epoch=epoch,
        formats=options.formats,
        tex_ok=tools.latex_available(project.pdf_engine),
        citations=citations,
        biblatex_bib=_write_biblatex_bib(project, inputs) if citations == "biblatex" else None,
        figure_digest=figure_digest(plans),
    )


def _check(project: Project, options: BuildOptions, console: Console, report: BuildReport) -> Inputs:
    """The check every build starts with; errors stop the build before anything is written."""
    problems = Problems(project.root)
    with console.status("checking bibliography, notes and citations…"):
        inputs = check_project(project, problems)
    for w in problems.warnings:
        report.warnings.append(w.format())
        console.print(f"[yellow]{w.format()}[/yellow]", highlight=False)
    if problems.errors:
        raise BuildFailed(
            "the build stopped before rendering: fix the errors above (previous outputs in build/ are unchanged)",
            problems.errors,
        )
    if "pdf" in options.formats and tools.latex_available(project.pdf_engine):
        _check_fonts(project)
    return inputs


def _assemble(project: Project, options: BuildOptions, inputs: Inputs, csl: Path) -> dict[str, tuple[str, str]]:
    """Both documents' Markdown and metadata, written to build/assembled/ when they changed."""
    notes = inputs.notes or {}
    docs: dict[str, tuple[str, str]] = {}
    # The HTML links to the other outputs this build writes (never to a file it may not have).
    documents, formats = options.linked_as or (options.documents, options.formats)
    outputs = assemble.linked_outputs(documents, formats, tools.latex_available(project.pdf_engine))
    if "paper" in options.documents:
        # Assembled once: what the check read is what is rendered.
        md = inputs.paper_markdown
        if md is None:  # no templates/paper.md.j2 (the check could not assemble); let assembly report it
            md, _ = assemble.assemble_paper(project, notes, Problems(project.root))
        docs["paper"] = (md, assemble.paper_metadata(project, notes, outputs))
    if "bibliography" in options.documents:
        cited_in = inputs.cited_in  # from the AST the check parsed
        md = assemble.assemble_bibliography(project, notes, csl.stem, cited_in)
        docs["annotated-bibliography"] = (md, assemble.bibliography_metadata(project, sorted(notes), outputs))
    assembled = project.build_dir / "assembled"
    for name, (md, meta) in docs.items():
        for path, text in ((assembled / f"{name}.md", md), (assembled / f"{name}.meta.yaml", meta)):
            _write_if_changed(path, text)
    return docs


def _write_biblatex_bib(project: Project, inputs: Inputs) -> Path:
    """One .bib for both documents, with each note's annotation in `annotation`."""
    path = project.build_dir / "biblatex" / "references-annotated.bib"
    _write_if_changed(path, annotated_bib(inputs.bib, inputs.notes or {}))
    return path


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text() != text:
        write_atomic(path, text)


def _explain(project: Project, stale: list[graph.Output], state: dict[str, str], force: bool, console: Console) -> None:
    """Print, for each output about to be rendered, which declared inputs changed."""
    if not stale:
        console.print("nothing to rebuild: every output is up to date")
        return
    recorded = _load_record(project.build_dir / RECORD_FILE)
    previous = _previous_inputs(project.build_dir / "manifest.json")
    for output in stale:
        reasons = graph.why_stale(output, state, recorded.get(output.label), previous, force, project.root)
        console.print(f"{output.label} is rebuilt: {'; '.join(reasons)}", highlight=False)
        console.print(f"  [dim]reads: {', '.join(i.name for i in output.inputs)}[/dim]", highlight=False)


def _run_stale(
    project: Project,
    options: BuildOptions,
    ctx: graph.BuildContext,
    env: dict[str, str],
    plans: list[FigurePlan],
    stale: list[graph.Output],
    recheck: set[str],
    state: dict[str, str],
    report: BuildReport,
    console: Console,
    early: EarlyRuns | None = None,
) -> tuple[list[BuildFailed], Staged, set[str], dict[str, graph.Output], Future[dict[str, str | None]] | None]:
    """Run the figure scripts and the stale renders; also the outputs as finally declared, and the tool probe."""
    redeclared: dict[str, graph.Output] = {}
    shared = sharing(stale)
    runners: dict[str, Callable[[], object]] = {
        o.label: partial(_render_current, o, ctx, env, plans, state, redeclared, o.document in shared)
        for o in stale
        if o.label in recheck
    }
    runners.update({f"figure {p.figure.id}": partial(_timed_figure, project, p, env, early) for p in plans})
    runners.update({name: partial(_prestep, job) for name, job in presteps(plans, report.jobs).items()})
    probe = ThreadPoolExecutor(max_workers=1)
    # Something will be rendered, so the manifest changes: ask the tools their versions meanwhile.
    busy = report.jobs or any(p.needs_run for p in plans)
    versions = probe.submit(tools.versions, project.pdf_engine, reuse=not options.force) if busy else None
    try:
        failures, staged, failed = _run_all(
            project, plans, report.jobs, options.jobs, state, report, console, env, runners
        )
    finally:
        probe.shutdown(wait=False)
    report.jobs = [job for done in staged.values() for job, _f, _s in done]  # what was rendered
    return failures, staged, failed, {o.label: o for o in stale} | redeclared, versions


def figure_digest(plans: list[FigurePlan]) -> str:
    """The figures' file names and bytes, as the paper's renders read them (missing: empty)."""
    files = [p for f in plans for p in (f.png, f.pdf)]
    return digest_of(*(x for p in files for x in (p.name, p.read_bytes() if p.is_file() else b"")))


def _render_current(
    output: graph.Output,
    ctx: graph.BuildContext,
    env: dict[str, str],
    plans: list[FigurePlan],
    state: dict[str, str],
    redeclared: dict[str, graph.Output],
    share: bool = False,
) -> tuple[RenderJob, list[tuple[Path, Path]], float] | None:
    """A render that reads figures a script just made: declared again from their bytes; None if up to date."""
    now_ctx = dataclasses.replace(ctx, figure_digest=figure_digest(plans))
    now = next(o for o in graph.declare_outputs(now_ctx) if o.label == output.label)
    redeclared[now.label] = now
    if graph.is_fresh(now, state):
        return None
    return _timed(_render_job(now, now_ctx, env, share))


def _render_jobs(
    stale: list[graph.Output], ctx: graph.BuildContext, env: dict[str, str], force: bool
) -> list[RenderJob]:
    """The renders of the stale outputs; with ``force`` from scratch: no auxiliary file of an earlier run."""
    shared = sharing(stale)
    jobs = [_render_job(o, ctx, env, o.document in shared) for o in stale]
    for job in jobs if force else []:
        if job.aux_dir is not None:
            shutil.rmtree(job.aux_dir, ignore_errors=True)
    return jobs


def _render_job(output: graph.Output, ctx: graph.BuildContext, env: dict[str, str], share: bool = False) -> RenderJob:
    """The render of one declared output (``share``: its document's citeproc step is shared, see sharing())."""
    project, name, method = ctx.project, output.document, output.method
    assembled = project.build_dir / "assembled"
    return RenderJob(
        name=output.label,
        fmt=output.fmt,
        markdown=assembled / f"{name}.md",
        metadata=assembled / f"{name}.meta.yaml",
        outputs=output.files,
        # One work directory per citation method: biblatex's .aux/.bcf must never meet
        # citeproc's (or the other way round) when the mode is switched.
        work_dir=project.build_dir
        / ".work"
        / (f"{name}-{output.fmt}" if method == "citeproc" else f"{name}-{output.fmt}-{method}"),
        defaults_dir=project.build_dir / ".work" / "templates" / "pandoc",  # staged by _stage_templates
        bibliography=(ctx.biblatex_bib,) if method == "biblatex" and ctx.biblatex_bib else project.bibliography,
        csl=ctx.csl,
        figures=output.figures,
        pdf_engine=project.pdf_engine,
        fonts=project.fonts,
        env=env,
        digest=output.key,
        make_pdf=len(output.files) > 1,
        citations=method,
        crossref_prefixes=project.crossref_prefixes,
        latex_variables=output.latex_variables,
        aux_dir=aux_cache_dir(project, f"{name}-{output.fmt}-{method}") if ctx.keep_aux else None,
        entries=name == graph.ANNOTATED and method == "citeproc" and output.fmt in ("html", "latex"),
        context=_context_digest(output),
        shared=project.build_dir / ".work" / f"{name}-shared" if share and _share_citeproc(project, method) else None,
    )


def sharing(stale: list[graph.Output]) -> set[str]:
    """The documents with two or more outputs to render with citeproc: only they gain by sharing its step."""
    counts = Counter(o.document for o in stale if o.method == "citeproc")
    return {document for document, n in counts.items() if n > 1}


def _share_citeproc(project: Project, method: str) -> bool:
    """Whether the document's formats share one citeproc step (not with biblatex, nor with the step's files changed)."""
    return method == "citeproc" and sharedast.engine_steps(project.template_files(), PACKAGE_TEMPLATES)


def _context_digest(output: graph.Output) -> str:
    """Digest of every declared input but the assembled Markdown: what a spliced entry needs unchanged."""
    markdown = f"build/assembled/{output.document}.md"
    return digest_of(*(f"{i.name}\0{i.fingerprint}" for i in output.inputs if i.name != markdown))


def aux_cache_dir(project: Project, job: str) -> Path:
    """Where a TeX job's auxiliary files wait for the next build: the user's cache, outside the project.

    Never under ``build/``: a pull request can commit build/, and LaTeX reads its .aux as TeX.
    """
    return auxcache.job_dir(project.root, job)


Staged = dict[str, list[tuple[RenderJob, list[tuple[Path, Path]], float]]]
# Rough relative costs, for the order only: a TeX job (pandoc, then two or three engine
# passes) takes several times a pandoc-only render or a figure script.
_WEIGHT_TEX, _WEIGHT_OTHER = 4.0, 1.0
# An HTML render (contents, cards, figures embedded) costs about 1.5 times a DOCX one: of two
# jobs with the same chain behind them, the costlier starts first, so a short one ends the build.
_WEIGHT_FORMAT = {"html": 1.5}
PRESTEP = "citeproc "  # the task running a document's shared citeproc step (see schedule)


def schedule(plans: list[FigurePlan], jobs: list[RenderJob]) -> list[Task]:
    """The build's tasks: each figure that must run, and each render, waiting only for what it reads.

    A render waits for the figure scripts whose files it includes (the paper's); the
    annotated bibliography includes no figure, so it starts at once. The citeproc step
    that such a document's formats share reads no figure: it is a task of its own
    (:func:`presteps`), run while the figures are drawn, and the renders wait for it too.
    """
    tasks = [Task(f"figure {p.figure.id}", lambda: None, weight=_WEIGHT_OTHER) for p in plans if p.needs_run]
    running = {p.png: f"figure {p.figure.id}" for p in plans if p.needs_run}
    running.update({p.pdf: f"figure {p.figure.id}" for p in plans if p.needs_run})
    steps = {_document_of(job): name for name, job in presteps(plans, jobs).items()}
    tasks += [Task(name, lambda: None, weight=_WEIGHT_OTHER) for name in steps.values()]
    for job in jobs:
        after = tuple(dict.fromkeys(running[f] for f in job.figures if f in running))
        if after and job.shared is not None and _document_of(job) in steps:
            after = (*after, steps[_document_of(job)])
        weight = _WEIGHT_TEX if job.make_pdf and len(job.outputs) > 1 else _WEIGHT_FORMAT.get(job.fmt, _WEIGHT_OTHER)
        tasks.append(Task(job.name, lambda: None, after, weight))
    return tasks


def presteps(plans: list[FigurePlan], jobs: list[RenderJob]) -> dict[str, RenderJob]:
    """``citeproc DOCUMENT`` -> a render of it, for each document whose renders wait for a figure script."""
    running = {f for p in plans if p.needs_run for f in (p.png, p.pdf)}
    steps: dict[str, RenderJob] = {}
    for job in jobs:
        if job.shared is not None and job.citations == "citeproc" and running.intersection(job.figures):
            steps.setdefault(f"{PRESTEP}{_document_of(job)}", job)
    return steps


def _prestep(job: RenderJob) -> None:
    """Run the document's shared citeproc step early; a failure is left to its renders, which report it."""
    try:
        citeproc_step(job)
    except (BuildFailed, OSError):
        pass


@dataclass
class _Results:
    """What the scheduled jobs left: failures, each document's staged files, the documents that failed."""

    project: Project
    plans: dict[str, FigurePlan]  # task name -> figure
    jobs: dict[str, RenderJob]  # task name -> render
    state: dict[str, str]
    report: BuildReport
    console: Console
    failures: list[BuildFailed] = field(default_factory=list)
    staged: Staged = field(default_factory=dict)
    failed_documents: set[str] = field(default_factory=set)

    def done(self, name: str, result: object, error: BaseException | None) -> None:
        """One job finished (called in the build's own thread, in completion order)."""
        if name.startswith(PRESTEP) and error is None:
            return  # its renders use (or report) what it did
        if error is not None:
            if not isinstance(error, (BuildFailed, OSError)):
                raise error
            # OSError: the disk (full, read-only), not the input.
            failed = error if isinstance(error, BuildFailed) else None
            self.failures.append(failed or BuildFailed(os_error_message(error, self.project.root)))  # type: ignore[arg-type]
            self.report.failed.append(name)
            if name in self.jobs:
                self.failed_documents.add(_document_of(self.jobs[name]))
            self.console.print(f"[red]✗[/red] {name}")
        elif name in self.plans:
            self.report.job_seconds[name] = cast(float, result)
            self.state[f"figure:{self.plans[name].figure.id}"] = self.plans[name].digest
            self.report.figures_run.append(name)
            self.console.print(f"[green]✓[/green] {name}")
        elif result is None:  # declared again after the figures ran: up to date
            self.report.skipped.append(name)
        else:
            job, files, seconds = cast(tuple[RenderJob, list[tuple[Path, Path]], float], result)
            self.report.job_seconds[name] = seconds
            self.staged.setdefault(_document_of(job), []).append((job, files, seconds))


def _run_all(
    project: Project,
    plans: list[FigurePlan],
    jobs: list[RenderJob],
    workers: int,
    state: dict[str, str],
    report: BuildReport,
    console: Console,
    env: dict[str, str],
    render_runners: dict[str, Callable[[], object]] | None = None,
) -> tuple[list[BuildFailed], Staged, set[str]]:
    """Run the figure scripts and render ``jobs`` into their work folders; nothing in build/ is replaced yet.

    ``render_runners`` replaces the plain render of some jobs (see :func:`_render_current`).
    """
    figures = {f"figure {p.figure.id}": p for p in plans}
    results = _Results(project, figures, {job.name: job for job in jobs}, state, report, console)
    runners: dict[str, Callable[[], object]] = {n: partial(_timed_figure, project, p, env) for n, p in figures.items()}
    runners.update({job.name: partial(_timed, job) for job in jobs})
    runners.update(render_runners or {})
    tasks = [dataclasses.replace(t, run=runners[t.name]) for t in schedule(plans, jobs)]
    report.depends = {t.name: t.after for t in tasks}
    if not tasks:
        return results.failures, results.staged, results.failed_documents
    with console.status(f"running {len(tasks)} job(s) on {workers} worker(s)…"):
        try:
            # The tools run in process groups of their own: an interrupt kills them whole.
            outcome = run_tasks(tasks, workers, results.done, abort=limits.kill_all)
        finally:
            if report.figures_run:
                write_atomic(project.build_dir / STATE_FILE, json.dumps(state, indent=1, sort_keys=True))
    report.started = outcome.started
    for name in outcome.skipped:  # a figure it includes failed
        results.failed_documents.add(_document_of(results.jobs[name]))
        console.print(f"[red]✗[/red] {name} (not rendered: a figure it includes failed)")
    return results.failures, results.staged, results.failed_documents


def _install(
    project: Project,
    staged: Staged,
    failed_documents: set[str],
    declared: dict[str, graph.Output],
    state: dict[str, str],
    report: BuildReport,
    failures: list[BuildFailed],
    console: Console,
) -> None:
    """Install each document's outputs together (or none of them), record the state, mark the kept records used."""
    for document, done in sorted(staged.items()):
        if document in failed_documents:
            for job, _files, _seconds in done:
                report.kept.append(job.name)
                console.print(f"[yellow]·[/yellow] {job.name} rendered but not installed: another output failed")
            continue
        try:
            for job, files, seconds in done:
                for src, dest in files:
                    install_atomic(src, dest)
                _record(state, job)
                report.rendered.append(job.name)
                passes = tex_passes(job) if job.fmt == "latex" and len(job.outputs) > 1 else None
                if passes is not None:
                    report.tex_passes[job.name] = passes
                detail = f", {passes} TeX pass{'es' if passes != 1 else ''}" if passes is not None else ""
                entry = spliced_entry(job)
                if entry is not None:
                    report.spliced[job.name] = entry
                    detail = f", entry {entry} spliced{detail}"
                console.print(f"[green]✓[/green] {job.name} ({seconds:.1f} s{detail})")
            write_atomic(project.build_dir / STATE_FILE, json.dumps(state, indent=1, sort_keys=True))
            _save_record(project.build_dir / RECORD_FILE, [declared[job.name] for job, _f, _s in done])
        except OSError as exc:  # the disk (full, read-only), not the input
            failures.append(BuildFailed(os_error_message(exc, project.root)))
    auxcache.mark_used_and_prune(project.root)  # the records its jobs kept are in use; old ones go


def _record(state: dict[str, str], job: RenderJob) -> None:
    """What the next build compares: the key the job was rendered from and its files' hashes."""
    state[f"render:{job.name}"] = job.digest
    for out in job.outputs:
        state[f"hash:{out.name}"] = sha256_file(out)


def _load_record(path: Path) -> dict[str, dict[str, str]]:
    """Each output's input fingerprints at its last build (for --explain; missing is fine)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.items() if isinstance(v, dict)}


def _save_record(path: Path, outputs: list[graph.Output]) -> None:
    """Record the rendered outputs' input fingerprints; best effort, like the other caches in build/.cache."""
    record = _load_record(path)
    record.update({o.label: graph.fingerprints(o) for o in outputs})
    try:
        write_atomic(path, json.dumps(record, indent=1, sort_keys=True))
    except OSError:
        pass  # --explain then says less; the build itself does not depend on it


def _previous_inputs(manifest: Path) -> dict[str, str]:
    """The input hashes the last manifest recorded."""
    try:
        data = json.loads(manifest.read_text())
        inputs = data.get("inputs", {}) if isinstance(data, dict) else {}
        return {str(k): str(v) for k, v in inputs.items()} if isinstance(inputs, dict) else {}
    except (OSError, ValueError):
        return {}


def _raise_failures(failures: list[BuildFailed], failed_documents: set[str]) -> None:
    if failures:
        raise BuildFailed(
            "\n".join(f.render() for f in failures)
            + "\n"
            + "; ".join(
                f"{doc}: no output was replaced (the previous {doc} files are unchanged and consistent)"
                for doc in sorted(failed_documents)
            )
        )


def _check_fonts(project: Project) -> None:
    """Every font the PDF asks for must be known to fontconfig (its characters were checked on load)."""
    if shutil.which("fc-list") is None:
        return  # no fontconfig to ask; LaTeX reports a missing font itself
    problems = Problems(project.root)
    for role, font in sorted(project.fonts.items()):
        if not tools.font_available(font):
            problems.error(
                "settings",
                f"font {font!r} (fonts.{role}) is not installed: fontconfig does not know it",
                path=project.settings_path,
                line=project.settings_lines.get("fonts", 0),
                hint="`fc-list : family` lists the installed fonts; `invoke doctor` checks them",
            )
    if problems.errors:
        raise BuildFailed(problems=problems)


def _document_of(job: RenderJob) -> str:
    return job.outputs[0].stem


def _timed_figure(project: Project, plan: FigurePlan, env: dict[str, str], early: EarlyRuns | None = None) -> float:
    t0 = time.monotonic()
    run_figure(project, plan, env, early)
    return time.monotonic() - t0


def _timed(job: RenderJob) -> tuple[RenderJob, list[tuple[Path, Path]], float]:
    t0 = time.monotonic()
    files = render_job(job)
    return job, files, time.monotonic() - t0


def inputs_files(project: Project) -> list[Path]:
    """Every input file the manifest hashes: settings, .bib files, notes, sections, templates, figures."""
    files = [project.settings_path, *project.bibliography]
    files += sorted(project.notes_dir.glob("*.md"))
    files += [project.sections_dir / s.path for s in project.sections if s.path is not None]
    files += list(project.template_files().values())
    for f in project.figures:
        files.append(project.root / f.script)
        if f.data is not None:
            files.append(project.root / f.data)
    return [p for p in files if p.is_file()]


def write_manifest(
    project: Project,
    inputs: list[Path],
    env: dict[str, str],
    csl: Path,
    out_of_date: list[str] | None = None,
    tool_versions: Future[dict[str, str | None]] | None = None,
) -> None:
    """Record inputs, tools and outputs; ``out_of_date`` names outputs a failed render left from an earlier build.

    ``tool_versions``: the versions, probed while the renders ran (else probed here).
    """
    build_dir = project.build_dir
    existing = build_dir / "manifest.json"
    if existing.is_file():
        try:
            old = json.loads(existing.read_text())
            same_inputs = old.get("inputs") == {project.input_name(p): sha256_file(p) for p in inputs}
            same_outputs = all(
                (build_dir / name).is_file() and sha256_file(build_dir / name) == digest
                for name, digest in old.get("outputs", {}).items()
            )
            if (
                same_inputs
                and same_outputs
                and not out_of_date
                and not old.get("out_of_date")
                and old.get("source_date_epoch") == int(env["SOURCE_DATE_EPOCH"])
            ):
                return  # nothing changed: skip probing every tool's version again
        except (ValueError, OSError, AttributeError):
            pass
    outputs = sorted(
        p for p in build_dir.iterdir() if p.is_file() and not p.name.startswith(".") and p.name != "manifest.json"
    )
    manifest = {
        "source_date_epoch": int(env["SOURCE_DATE_EPOCH"]),
        "csl": csl.name,
        "inputs": {project.input_name(p): sha256_file(p) for p in inputs},
        "tools": tool_versions.result() if tool_versions is not None else tools.versions(project.pdf_engine),
        "outputs": {p.name: sha256_file(p) for p in outputs},
    }
    if out_of_date:
        # These files were not rebuilt from the inputs above: their render failed.
        manifest["out_of_date"] = sorted(set(out_of_date))
    write_atomic(build_dir / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
