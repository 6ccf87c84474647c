"""The build: check -> assemble -> figures -> render (in parallel) -> manifest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from scholarly_build.assembly import assemble
from scholarly_build.building.pipeline import check_project
from scholarly_build.core import limits, tools
from scholarly_build.core.fsutil import build_lock, install_atomic, sha256_file, write_atomic
from scholarly_build.core.problems import BuildFailed, Problems, os_error_message
from scholarly_build.core.safety import check_build_dir
from scholarly_build.inputs.csl import resolve_csl
from scholarly_build.inputs.project import Project
from scholarly_build.rendering.biblatex_export import annotated_bib
from scholarly_build.rendering.figures import build_figures
from scholarly_build.rendering.render import RenderJob, digest_of, render_job

# Used when the project is not a git checkout (documented in the README).
FALLBACK_SOURCE_DATE_EPOCH = 1704067200  # 2024-01-01T00:00:00Z
DOCUMENTS = ("paper", "bibliography")
STATE_FILE = ".state.json"


@dataclass
class BuildOptions:
    documents: tuple[str, ...] = DOCUMENTS
    formats: tuple[str, ...] = ("html", "latex", "pdf", "docx")
    force: bool = False
    jobs: int = 2
    citations: str | None = None  # None: the `citations` setting


@dataclass
class BuildReport:
    rendered: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # rendered, not installed: another output of its document failed
    figures_run: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    jobs: list[RenderJob] = field(default_factory=list)  # what was rendered (the bench replays them)
    seconds: float = 0.0


def source_date_epoch(root: Path) -> int:
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
    for path in sorted((project.templates_dir).rglob("*")):
        if path.is_file() and path.suffix != ".j2":
            parts += [str(path.relative_to(project.root)).encode(), path.read_bytes()]
    return digest_of(*parts)


def build(root: Path, options: BuildOptions, console: Console | None = None) -> BuildReport:
    console = console or Console(stderr=True, soft_wrap=True)
    project_root = root.resolve()
    from scholarly_build.inputs.project import load_project  # late: keeps `import build` cheap for tasks.py --list

    project = load_project(project_root)
    check_build_dir(project.root)  # before the lock: taking it writes build/.lock
    with build_lock(project.build_dir):
        return _build_locked(project, options, console)


def _build_locked(project: Project, options: BuildOptions, console: Console) -> BuildReport:
    start = time.monotonic()
    report = BuildReport()
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
    notes = inputs.notes or {}
    csl = resolve_csl(project.csl, project.root, project.settings_lines.get("csl", 0))
    epoch = source_date_epoch(project.root)
    env = {"SOURCE_DATE_EPOCH": str(epoch), "FORCE_SOURCE_DATE": "1", "TZ": "UTC", "LC_ALL": "C.UTF-8"}
    build_dir = project.build_dir
    state_path = build_dir / STATE_FILE
    state = {} if options.force else _load_state(state_path)

    # Assemble both documents (cheap; always done, so the digests below capture every input).
    assembled = build_dir / "assembled"
    docs: dict[str, tuple[str, str]] = {}
    if "paper" in options.documents:
        # Assembled once: what the check read is what is rendered.
        md = inputs.paper_markdown
        if md is None:  # no templates/paper.md.j2 (the check could not assemble); let assembly report it
            md, _ = assemble.assemble_paper(project, notes, Problems(project.root))
        docs["paper"] = (md, assemble.paper_metadata(project))
    if "bibliography" in options.documents:
        md = assemble.assemble_bibliography(project, notes, csl.stem)
        docs["annotated-bibliography"] = (md, assemble.bibliography_metadata(project, sorted(notes)))
    for name, (md, meta) in docs.items():
        for path, text in ((assembled / f"{name}.md", md), (assembled / f"{name}.meta.yaml", meta)):
            if not path.is_file() or path.read_text() != text:
                write_atomic(path, text)
    console.print(
        f"[green]✓[/green] assembled {', '.join(docs)} ({len(notes)} notes, "
        f"{len(inputs.bib.entries)} entries, {len(inputs.citations)} citations)"
    )

    with console.status("running figure scripts…"):
        figure_log: list[str] = []
        figures = build_figures(project, notes, env, state, figure_log)
    report.figures_run = figure_log
    for line in figure_log:
        console.print(f"[green]✓[/green] {line}")
    write_atomic(state_path, json.dumps(state, indent=1, sort_keys=True))

    tex_ok = tools.latex_available(project.pdf_engine)
    citations = options.citations or project.citations
    biblatex_bib: tuple[Path, ...] = ()
    if citations == "biblatex":
        # One .bib for both documents, with each note's annotation in `annotation`.
        path = build_dir / "biblatex" / "references-annotated.bib"
        text = annotated_bib(inputs.bib, notes)
        if not path.is_file() or path.read_text() != text:
            write_atomic(path, text)
        biblatex_bib = (path,)
    resources = _resource_digest(project)
    bib_bytes = b"".join(p.read_bytes() for p in project.bibliography)
    jobs: list[RenderJob] = []
    for name, (md, meta) in docs.items():
        fig_files = tuple(p for f in figures for p in (f.png, f.pdf)) if name == "paper" else ()
        # Names too: the document refers to figures by file name (a renamed id changes the output).
        fig_digest = digest_of(*(part for p in fig_files for part in (p.name, p.read_bytes())))
        base = digest_of(
            md,
            meta,
            resources,
            csl.read_bytes(),
            bib_bytes,
            fig_digest,
            tools.pandoc_version(),
            project.pdf_engine,
            repr(sorted(project.fonts.items())),
            repr(project.crossref_prefixes),
            str(epoch),
        )
        wanted: list[tuple[str, tuple[Path, ...]]] = []
        if "html" in options.formats:
            wanted.append(("html", (build_dir / f"{name}.html",)))
        if name == "paper" and "docx" in options.formats:
            wanted.append(("docx", (build_dir / f"{name}.docx",)))
        if "latex" in options.formats or "pdf" in options.formats:
            outs: tuple[Path, ...] = (build_dir / f"{name}.tex",)
            if "pdf" in options.formats and tex_ok:
                outs += (build_dir / f"{name}.pdf",)
            wanted.append(("latex", outs))
        for fmt, outs in wanted:
            method = citations if fmt == "latex" else "citeproc"
            latex_vars: tuple[str, ...] = ()
            if method == "biblatex":
                style = "reading" if name == "annotated-bibliography" else "authoryear"
                latex_vars = ("-V", f"biblio-style={style}")
                if name == "annotated-bibliography":
                    latex_vars += (
                        "-V",
                        "biblatexoptions=annotation=true",
                        "-V",
                        "biblatexoptions=entryhead=true",
                        "-V",
                        "biblatexoptions=abstract=false",
                        "-V",
                        "biblatexoptions=file=false",
                        "-V",
                        "biblatexoptions=library=false",
                        "-V",
                        "biblatexoptions=entrykey=false",
                    )
            digest = digest_of(
                base,
                fmt,
                method,
                *latex_vars,
                *(o.name for o in outs),
                *(p.read_bytes() for p in biblatex_bib if method == "biblatex"),
            )
            label = "+".join(o.name for o in outs)
            fresh = state.get(f"render:{label}") == digest and all(
                o.is_file() and state.get(f"hash:{o.name}") == sha256_file(o) for o in outs
            )
            if fresh:
                report.skipped.append(label)
                continue
            jobs.append(
                RenderJob(
                    name=label,
                    fmt=fmt,
                    markdown=assembled / f"{name}.md",
                    metadata=assembled / f"{name}.meta.yaml",
                    outputs=outs,
                    # One work directory per citation method: biblatex's .aux/.bcf must never meet
                    # citeproc's (or the other way round) when the mode is switched.
                    work_dir=build_dir
                    / ".work"
                    / (f"{name}-{fmt}" if method == "citeproc" else f"{name}-{fmt}-{method}"),
                    defaults_dir=project.templates_dir / "pandoc",
                    bibliography=biblatex_bib if method == "biblatex" else project.bibliography,
                    csl=csl,
                    figures=fig_files,
                    pdf_engine=project.pdf_engine,
                    fonts=project.fonts,
                    env=env,
                    digest=digest,
                    make_pdf=len(outs) > 1,
                    citations=method,
                    crossref_prefixes=project.crossref_prefixes,
                    latex_variables=latex_vars,
                )
            )

    report.jobs = jobs
    failures: list[BuildFailed] = []
    staged: dict[str, list[tuple[RenderJob, list[tuple[Path, Path]], float]]] = {}
    failed_documents: set[str] = set()
    if jobs:
        with (
            console.status(f"rendering {len(jobs)} output group(s) on {options.jobs} worker(s)…"),
            ThreadPoolExecutor(max_workers=options.jobs) as pool,
        ):
            futures = {pool.submit(_timed, job): job for job in jobs}
            try:
                for future in as_completed(futures):
                    job = futures[future]
                    try:
                        files, seconds = future.result()
                    except BuildFailed as exc:
                        failures.append(exc)
                        failed_documents.add(_document_of(job))
                        console.print(f"[red]✗[/red] {job.name}")
                        continue
                    except OSError as exc:  # the disk (full, read-only), not the input
                        failures.append(BuildFailed(os_error_message(exc, project.root)))
                        failed_documents.add(_document_of(job))
                        console.print(f"[red]✗[/red] {job.name}")
                        continue
                    staged.setdefault(_document_of(job), []).append((job, files, seconds))
            except BaseException:
                limits.kill_all()  # the tools run in process groups of their own
                raise
    # A document's outputs are replaced together or not at all.
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
                state[f"render:{job.name}"] = job.digest
                for out in job.outputs:
                    state[f"hash:{out.name}"] = sha256_file(out)
                report.rendered.append(job.name)
                console.print(f"[green]✓[/green] {job.name} ({seconds:.1f} s)")
            write_atomic(state_path, json.dumps(state, indent=1, sort_keys=True))
        except OSError as exc:  # the disk (full, read-only), not the input
            failures.append(BuildFailed(os_error_message(exc, project.root)))
    for name in report.skipped:
        console.print(f"[dim]· {name} is up to date[/dim]")
    out_of_date = sorted(out.name for job in jobs if _document_of(job) in failed_documents for out in job.outputs)
    try:
        write_manifest(project, inputs_files(project), env, csl, out_of_date)
    except OSError as exc:
        # Reported after the render errors (which must not be lost behind it).
        failures.append(BuildFailed(os_error_message(exc, project.root)))
    report.seconds = time.monotonic() - start
    if failures:
        raise BuildFailed(
            "\n".join(f.render() for f in failures)
            + "\n"
            + "; ".join(
                f"{doc}: no output was replaced (the previous {doc} files are unchanged and consistent)"
                for doc in sorted(failed_documents)
            )
        )
    if ("pdf" in options.formats) and not tex_ok:
        raise BuildFailed(tools.missing_tex_message(project.pdf_engine))
    return report


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


def _timed(job: RenderJob) -> tuple[list[tuple[Path, Path]], float]:
    t0 = time.monotonic()
    files = render_job(job)
    return files, time.monotonic() - t0


def inputs_files(project: Project) -> list[Path]:
    files = [project.settings_path, *project.bibliography]
    files += sorted(project.notes_dir.glob("*.md"))
    files += [project.sections_dir / s.path for s in project.sections if s.path is not None]
    files += sorted(p for p in project.templates_dir.rglob("*") if p.is_file())
    for f in project.figures:
        files.append(project.root / f.script)
        if f.data is not None:
            files.append(project.root / f.data)
    return [p for p in files if p.is_file()]


def write_manifest(
    project: Project, inputs: list[Path], env: dict[str, str], csl: Path, out_of_date: list[str] | None = None
) -> None:
    """Record inputs, tools and outputs; ``out_of_date`` names outputs a failed render left from an earlier build."""
    build_dir = project.build_dir
    existing = build_dir / "manifest.json"
    if existing.is_file():
        try:
            old = json.loads(existing.read_text())
            same_inputs = old.get("inputs") == {str(p.relative_to(project.root)): sha256_file(p) for p in inputs}
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
        "inputs": {str(p.relative_to(project.root)): sha256_file(p) for p in inputs},
        "tools": tools.versions(project.pdf_engine),
        "outputs": {p.name: sha256_file(p) for p in outputs},
    }
    if out_of_date:
        # These files were not rebuilt from the inputs above: their render failed.
        manifest["out_of_date"] = sorted(set(out_of_date))
    write_atomic(build_dir / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
