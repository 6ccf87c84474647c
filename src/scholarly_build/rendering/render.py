"""Rendering assembled Markdown with pandoc (HTML, DOCX, LaTeX) and latexmk (PDF).

Each render runs in its own work folder and returns the finished files; it must
not install them (``building/build.py`` installs a document's outputs together).
A TeX render starts in an emptied work folder. Only LaTeX's own auxiliary files of
the previous run of the same document (``.aux``, ``.toc``, ``.out``, …; never a
configuration file; latexmk's record of the run) are copied back in, and only from ``aux_dir``, a folder
outside the project that a pull request cannot write: with them latexmk needs
fewer passes after a small edit, and it still runs until they are stable.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from scholarly_build.core import pandoc
from scholarly_build.core.fsutil import install_atomic, sha256_bytes
from scholarly_build.core.limits import ToolLimitExceeded, run_limited
from scholarly_build.core.problems import BuildFailed
from scholarly_build.core.textfile import normalise_newlines
from scholarly_build.rendering import entries, sharedast


@dataclass(frozen=True)
class RenderJob:
    """Everything one render needs; built once, then run in a worker thread."""

    name: str  # e.g. "paper.html"
    fmt: str  # html | docx | latex
    markdown: Path  # the assembled document
    metadata: Path  # the --metadata-file
    outputs: tuple[Path, ...]  # final outputs (tex job: .tex and .pdf)
    work_dir: Path
    defaults_dir: Path
    bibliography: tuple[Path, ...]
    csl: Path
    figures: tuple[Path, ...]  # files the document may include
    pdf_engine: str
    fonts: dict[str, str]
    env: dict[str, str]
    digest: str
    make_pdf: bool = True
    citations: str = "citeproc"  # or "biblatex" (LaTeX outputs only)
    crossref_prefixes: tuple[str, ...] = ("fig:", "tbl:", "eq:", "sec:")
    latex_variables: tuple[str, ...] = ()
    aux_dir: Path | None = None  # the previous run's auxiliary files (outside the project), or None
    # The annotated bibliography: after a one-note edit, that entry may be spliced into the kept
    # rendering (entries.py), if ``context``, the digest of every input but the Markdown, is unchanged.
    entries: bool = False
    context: str = ""
    # Where the document's formats share one citeproc step in this build (sharedast.py), or None:
    # the render runs pandoc on its own (as the bench's floor does).
    shared: Path | None = None


# LaTeX's own records between passes (cross-references, contents, bookmarks) and latexmk's
# record of the last successful run (.fdb_latexmk: the checksums of what each pass read).
# Without that record latexmk takes a restored .aux for a new file and always runs a
# second pass (measured: 2 XeLaTeX passes after a one-word edit of a note, 1 with it);
# -g still forces the first pass. Nothing that configures a tool (latexmkrc, biber.conf)
# is ever kept, nor biber's .bbl/.bcf: a missing .bbl makes latexmk run biber.
AUX_SUFFIXES = (".aux", ".toc", ".out", ".lof", ".lot", ".fdb_latexmk")
_AUX_MAX_BYTES = 64 * 1024 * 1024


def _pandoc_args(
    job: RenderJob, fmt_defaults: str | None, output: Path, extra: list[str], chain: str | None = None
) -> list[str]:
    """pandoc's arguments: the defaults files (common, ``chain``, the format's), the data, ``extra``, the input."""
    # The bibliography and the style are copied into the work directory and named
    # relatively: DOCX stores such metadata as custom properties, and an absolute
    # path would make the output depend on where the project lives.
    shutil.copyfile(job.csl, job.work_dir / "style.csl")
    chain = chain or ("biblatex.yaml" if job.citations == "biblatex" else "citeproc.yaml")
    defaults = ["common.yaml", chain, *([fmt_defaults] if fmt_defaults else [])]
    args = [arg for name in defaults for arg in ("--defaults", str(job.defaults_dir / name))]
    args += ["--metadata-file", str(job.metadata), "--csl", "style.csl", "--output", str(output)]
    for i, bib in enumerate(job.bibliography):
        name = f"bibliography-{i}.bib"
        # Line ends as the check read them: pandoc loses entries after a lone CR.
        (job.work_dir / name).write_bytes(normalise_newlines(bib.read_bytes().decode("utf-8", "replace")).encode())
        args += ["--bibliography", name]
    return [*args, *extra, str(job.markdown)]


def _allowed_images_meta(job: RenderJob) -> list[str]:
    # A list-valued metadata field needs one -M per item.
    args = [arg for f in job.figures if f.suffix == ".png" for arg in ("-M", f"allowed-images={f.name}")]
    return args + [arg for p in job.crossref_prefixes for arg in ("-M", f"crossref-prefixes={p}")]


def citeproc_step(job: RenderJob) -> None:
    """Run now the citeproc step the job's document shares among its formats (if it shares one)."""
    _shared_ast(job)


def _shared_ast(job: RenderJob) -> tuple[Path, str] | None:
    """The job's document after the citeproc step its formats share, and that step's warnings; None: not shared."""
    if job.shared is None or job.citations != "citeproc":
        return None
    allowed = _allowed_images_meta(job)

    def make(work: Path) -> str:
        # --sandbox: the step reads only the files named here.
        step = dataclasses.replace(job, work_dir=work)
        args = _pandoc_args(step, None, work / sharedast.JSON, ["--sandbox", *allowed], chain="shared.yaml")
        return _run_pandoc(step, args)

    return sharedast.citeproc_ast(job, job.shared, allowed, make)


def _pandoc(job: RenderJob, fmt_defaults: str, output: Path, extra: list[str]) -> None:
    shared = _shared_ast(job)
    if shared is not None:
        fmt_args = ["--defaults", str(job.defaults_dir / fmt_defaults)]
        args = ["--defaults", str(job.defaults_dir / "after-citeproc.yaml"), *fmt_args, "--output", str(output)]
        args += [*extra, str(shared[0])]
    else:
        args = _pandoc_args(job, fmt_defaults, output, [*_allowed_images_meta(job), *extra])
    stderr = (shared[1] if shared else "") + _run_pandoc(job, args)
    warnings = [line for line in stderr.splitlines() if line.strip()]
    if warnings:
        (job.work_dir / f"{job.name}.pandoc.log").write_text("\n".join(warnings) + "\n")


def _run_pandoc(job: RenderJob, args: list[str]) -> str:
    """Run pandoc in the job's work folder; its warnings, or BuildFailed quoting its error."""
    try:
        return pandoc.run(args, cwd=job.work_dir, env=job.env).stderr
    except pandoc.PandocError as exc:
        raise BuildFailed(
            f"{job.markdown.name}: error pandoc: rendering {job.name} failed:\n"
            + _indent(exc.stderr)
            + f"\n    hint: the assembled input is {job.markdown}"
        ) from None


def _indent(text: str, limit: int = 30) -> str:
    lines = text.rstrip().splitlines()[-limit:]
    return "\n".join("    " + line for line in lines)


def run_job(job: RenderJob) -> None:
    """Render and install the job's outputs (the bench replays jobs this way)."""
    for staged, dest in render_job(job):
        install_atomic(staged, dest)


def render_job(job: RenderJob) -> list[tuple[Path, Path]]:
    """Render into the work directory; return (finished file, final output) pairs, installing nothing.

    The build installs a document's outputs only when every one of them rendered, so a
    failed PDF never leaves a new HTML beside an old PDF.
    """
    job.work_dir.mkdir(parents=True, exist_ok=True)
    (job.work_dir / entries.SPLICED).unlink(missing_ok=True)
    if job.fmt in ("html", "docx"):
        tmp = job.work_dir / job.outputs[0].name
        if not _splice_entry(job, tmp):
            # Figures are read from the work directory only (copied there by the build).
            for fig in job.figures:
                shutil.copyfile(fig, job.work_dir / fig.name)
            _pandoc(job, f"{job.fmt}.yaml", tmp, ["--resource-path", str(job.work_dir)])
            _keep_entries(job, tmp)
        return [(tmp, job.outputs[0])]
    if job.fmt == "latex":
        # A clean work folder for every TeX run: nothing a previous run (or a committed
        # build/) left there, such as a biber.conf or a latexmkrc, is read.
        shutil.rmtree(job.work_dir)
        job.work_dir.mkdir(parents=True)
        _restore_aux(job)
        tex = job.work_dir / job.outputs[0].name
        variables = [
            "-V",
            f"pdf-trailer-id=<{job.digest[:32]}> <{job.digest[:32]}>",
            "-V",
            f"mainfont={job.fonts.get('main', 'Linux Libertine O')}",
            "-V",
            f"sansfont={job.fonts.get('sans', 'Linux Biolinum O')}",
            "-V",
            f"monofont={job.fonts.get('mono', 'DejaVu Sans Mono')}",
        ]
        if not _splice_entry(job, tex):
            # --sandbox: producing LaTeX source needs no files beyond those named here.
            _pandoc(job, "latex.yaml", tex, ["--sandbox", *variables, *job.latex_variables])
            _keep_entries(job, tex)
        if job.make_pdf and len(job.outputs) > 1:
            for fig in job.figures:
                if fig.suffix == ".pdf":
                    shutil.copyfile(fig, job.work_dir / fig.name)
            pdf = latexmk(tex, job.pdf_engine, job.env)
            _save_aux(job)
            return [(tex, job.outputs[0]), (pdf, job.outputs[1])]
        return [(tex, job.outputs[0])]
    raise ValueError(job.fmt)  # pragma: no cover - the build only creates the formats above


def _splice_entry(job: RenderJob, out: Path) -> bool:
    """Write ``out`` by splicing the one changed annotated entry into the kept rendering (entries.py), if it can."""
    spliced = entries.spliced_output(job, render_job) if job.entries else None
    if spliced is None:
        return False
    out.write_text(spliced.text, encoding="utf-8")
    entries.keep(job, spliced.text, (spliced.lone_markdown, spliced.lone_output))
    (job.work_dir / entries.SPLICED).write_text(spliced.key + "\n", encoding="utf-8")
    return True


def _keep_entries(job: RenderJob, out: Path) -> None:
    """After a full render of the annotated bibliography: keep it for the next build's splice."""
    if job.entries:
        entries.keep(job, out.read_text(encoding="utf-8"))


def spliced_entry(job: RenderJob) -> str | None:
    """The key of the entry the job's last render spliced in, or None (rendered in full)."""
    try:
        return (job.work_dir / entries.SPLICED).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _aux_names(job: RenderJob) -> list[str]:
    stem = job.outputs[0].stem
    return [stem + suffix for suffix in AUX_SUFFIXES]


def _restore_aux(job: RenderJob) -> None:
    """Copy the previous run's auxiliary files (regular files, not links) into the fresh work folder."""
    if job.aux_dir is None or not job.aux_dir.is_dir() or job.aux_dir.is_symlink():
        return
    for name in _aux_names(job):
        src = job.aux_dir / name
        try:
            if src.is_file() and not src.is_symlink() and src.stat().st_size <= _AUX_MAX_BYTES:
                shutil.copyfile(src, job.work_dir / name)
        except OSError:
            pass  # a lost auxiliary file only costs a LaTeX pass


def _save_aux(job: RenderJob) -> None:
    """Keep this run's auxiliary files for the next run (best effort: they only save passes)."""
    if job.aux_dir is None:
        return
    try:
        job.aux_dir.mkdir(parents=True, exist_ok=True)
        for name in _aux_names(job):
            src = job.work_dir / name
            if src.is_file() and not src.is_symlink():
                tmp = job.aux_dir / f".{name}.tmp"
                shutil.copyfile(src, tmp)
                os.replace(tmp, job.aux_dir / name)
            else:
                (job.aux_dir / name).unlink(missing_ok=True)
    except OSError:
        pass


def tex_env(base: dict[str, str]) -> dict[str, str]:
    """TeX may read and write only below its working directory; no shell escape."""
    return {**os.environ, **base, "openin_any": "p", "openout_any": "p", "shell_escape": "f"}


# biber reads no configuration file (a biber.conf in its working folder could send its output anywhere).
BIBER_COMMAND = "biber --noconf %O %S"
# LuaTeX's Lua `io`, `os` and `lfs` ignore openin_any/openout_any, and its --safer stops luaotfload
# (fontspec) from working. So Lua runs in a sandbox set up before the document is read (see
# luasandbox.lua: reading only here and in the TeX and font trees, writing only here and in the
# font cache, no processes), and --nosocket removes the network library.
PASSES_FILE = "tex-passes.txt"  # in the work folder: how many TeX passes latexmk ran (the build reports it)
LUA_SANDBOX = Path(__file__).with_name("luasandbox.lua")
LUA_SANDBOX_NAME = "scholarly-sandbox.lua"
ENGINE_OPTIONS = {"xelatex": (), "lualatex": ("--nosocket",)}
PRETEX = {"xelatex": None, "lualatex": f"\\directlua{{dofile([[{LUA_SANDBOX_NAME}]])}}"}


def latexmk_command(tex_name: str, engine: str) -> list[str]:
    """The latexmk command line: no rc files, no shell escape, biber without its config file."""
    flag = {"xelatex": "-xelatex", "lualatex": "-lualatex"}[engine]
    return [
        "latexmk",
        flag,
        # -norc: no latexmkrc (Perl) from the working folder, the home folder or the system.
        "-norc",
        "-e",
        f"$biber = '{BIBER_COMMAND}';",
        # -g: decide from the sources, not from latexmk's record of an earlier run,
        # which after an interrupted build would wrongly say "nothing to do".
        "-g",
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-file-line-error",
        "-latexoption=-no-shell-escape",
        *(f"-latexoption={o}" for o in ENGINE_OPTIONS[engine]),
        *([f"-usepretex={PRETEX[engine]}"] if PRETEX[engine] else []),
        "-quiet",
        tex_name,
    ]


def latexmk(tex: Path, engine: str, env: dict[str, str]) -> Path:
    """Run latexmk in the TeX file's folder (with TeX's limits); return the PDF or raise BuildFailed."""
    cmd = latexmk_command(tex.name, engine)
    if engine == "lualatex":
        shutil.copyfile(LUA_SANDBOX, tex.parent / LUA_SANDBOX_NAME)
    try:
        proc = run_limited(cmd, tool="latex", cwd=tex.parent, env=tex_env(env))
    except ToolLimitExceeded as exc:
        raise BuildFailed(f"{tex}: error limit: {exc}\n    hint: {exc.hint}") from None
    log = tex.with_suffix(".log")
    pdf = tex.with_suffix(".pdf")
    if proc.returncode != 0 or not pdf.is_file():
        raise BuildFailed(latex_failure(log, proc.stdout + proc.stderr))
    passes = len(re.findall(r"Run number \d+ of rule '(?:xe|lua)?latex'", proc.stdout))
    tex.with_name(PASSES_FILE).write_text(f"{passes}\n")
    return pdf


def tex_passes(job: RenderJob) -> int | None:
    """How many TeX passes the job's latexmk ran (None: no PDF was made, or the record is unreadable)."""
    try:
        return int((job.work_dir / PASSES_FILE).read_text())
    except (OSError, ValueError):
        return None


def latex_failure(log: Path, output: str) -> str:
    """Quote the relevant lines of the TeX log and name the log file."""
    text = log.read_text(errors="replace") if log.is_file() else output
    lines = text.splitlines()
    picked: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^[^:\s]+:\d+: ", line):
            picked.extend(lines[i : i + 6])
            if len(picked) > 24:
                break
    if not picked:
        picked = lines[-20:]
    return (
        f"{log}: error latex: LaTeX failed; relevant log lines:\n"
        + _indent("\n".join(picked))
        + f"\n    hint: the full log is {log}"
    )


def overfull_boxes(log: Path, threshold_pt: float) -> list[str]:
    """Overfull \\hbox warnings wider than ``threshold_pt``."""
    if not log.is_file():
        return []
    found = []
    for m in re.finditer(r"Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\)[^\n]*", log.read_text(errors="replace")):
        if float(m.group(1)) > threshold_pt:
            found.append(m.group(0))
    return found


def digest_of(*parts: bytes | str) -> str:
    """sha256 of the parts, NUL-separated (strings as UTF-8)."""
    return sha256_bytes(b"\0".join(p.encode() if isinstance(p, str) else p for p in parts))
