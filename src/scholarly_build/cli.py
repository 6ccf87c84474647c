"""Command line: ``python -m scholarly_build COMMAND``, one ``cmd_*`` function per command.

The commands: init, build, check, doctor, new-note, import-notes, reader-check,
serve, preview, verify-reproducible, clean.

Each command is a function ``cmd_*`` taking a frozen options dataclass and
returning an exit code; :func:`main` parses argv into those options and
``tasks.py`` builds them directly, both through :func:`run`, which turns a user's
mistake into ``path:line: …`` and exit 1 without a traceback. Commands only
parse options, call the stages and print: checking, building and rendering
logic belongs in the stages, never here.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rich.console import Console

from scholarly_build.core import limits
from scholarly_build.core.fsutil import build_lock
from scholarly_build.core.problems import BuildFailed, Problems, os_error_message

Opts = TypeVar("Opts", bound="Options")


@dataclass(frozen=True)
class Options:
    """Options every command has: the project root."""

    root: str = "."


@dataclass(frozen=True)
class CheckOptions(Options):
    """``check``: which inputs (default: the project's settings), report format and policy, sources folder."""

    manuscript: Sequence[str] = ()
    bib: Sequence[str] = ()
    notes: str | None = None
    crossref_prefix: Sequence[str] | None = None
    format: str = "human"
    select: Sequence[str] | None = None
    ignore: Sequence[str] | None = None
    strict: bool = False
    sources: str | None = None


@dataclass(frozen=True)
class BuildCommandOptions(Options):
    """``build``: which formats and documents (comma lists), whether to force, provision TeX, explain."""

    formats: str | None = None
    documents: str | None = None
    force: bool = False
    no_provision: bool = False
    citations: str | None = None
    explain: bool = False


@dataclass(frozen=True)
class NewNoteOptions(Options):
    """``new-note``: the key of the entry whose note is written (never over an existing one)."""

    key: str = ""


@dataclass(frozen=True)
class ImportNotesOptions(Options):
    """``import-notes``: the Zotero or JabRef ``.bib`` export to read."""

    bib: str = ""


@dataclass(frozen=True)
class InitOptions(Options):
    """``init``: where, and what the new project is about."""

    dir: str = ""
    title: str = "A Comparative Reading"
    author: str = "Your Name"
    csl: str = "chicago-author-date"
    work: Sequence[str] | None = None  # the compared works' keys; None: the examples
    force: bool = False


@dataclass(frozen=True)
class ReaderCheckOptions(Options):
    """``reader-check``: only HTML or only PDF, and the overfull-box width that counts as a finding."""

    only: str | None = None
    overfull_pt: float = 10.0


@dataclass(frozen=True)
class ServeOptions(Options):
    """``serve``: the local port (0: any free one)."""

    port: int = 8000


@dataclass(frozen=True)
class PreviewOptions(Options):
    """``preview``: the port on 127.0.0.1 the preview server listens on."""

    port: int = 8000


def cmd_check(args: CheckOptions) -> int:
    """Check the project (or the files named) and print the report; 1 on errors (or warnings with --strict)."""
    from scholarly_build.building.pipeline import check_project, load_and_check
    from scholarly_build.checks import report
    from scholarly_build.core.safety import check_build_dir
    from scholarly_build.inputs.project import load_project

    root = Path(args.root).resolve()
    problems = Problems(root)
    check_build_dir(root)  # check caches its parses in build/.cache
    if args.manuscript or args.bib:
        if not args.bib:
            raise BuildFailed("error usage: --manuscript needs at least one --bib")
        prefixes = tuple(args.crossref_prefix or ("fig:", "tbl:", "eq:", "sec:"))
        if args.sources:
            print("note: --sources works with the settings' `sources:`, not with --manuscript", file=sys.stderr)
        project = None
        if args.notes:
            try:
                project = load_project(root)
            except BuildFailed:
                project = None
        if args.notes and project is None:
            raise BuildFailed("error usage: --notes needs a manuscript/paper.yaml (for themes and works) under --root")
        inputs = load_and_check(
            bib_paths=[Path(b) for b in args.bib],
            manuscripts=[Path(m) for m in args.manuscript],
            notes_dir=Path(args.notes) if args.notes else None,
            project=project,
            problems=problems,
            cache_dir=root / "build" / ".cache",
            prefixes=prefixes,
        )
        nfiles = len(args.bib) + len(args.manuscript) + len(inputs.notes or {})
    else:
        project = load_project(root)
        inputs = check_project(project, problems, args.sources)
        nfiles = len(inputs.bib.files) + len(inputs.manuscripts) + len(inputs.notes or {}) + 1
    from scholarly_build.checks import policy

    select = list(args.select or [])
    ignore = list(args.ignore or [])
    if project is not None:
        select = select or list(project.check_select)  # the command line wins over the setting
        ignore = [*project.check_ignore, *ignore]
    items = policy.apply(list(problems), root=root, select=select, ignore=ignore)
    counts = report.summary(
        items,
        files=nfiles,
        entries=len(inputs.bib.entries),
        citations=sum(1 for c in inputs.citations if not c.crossref),
    )
    if inputs.sources is not None and inputs.sources.files and args.format == "json":
        counts["quotations_verified"] = sum(inputs.sources.verified.values())
    report.emit(items, counts, args.format, sys.stdout, sys.stderr)
    if inputs.sources is not None and (inputs.sources.files or inputs.sources.missing) and args.format != "json":
        print(inputs.sources.line())
    if counts["errors"] or (args.strict and counts["warnings"]):
        return 1
    return 0


def cmd_build(args: BuildCommandOptions) -> int:
    """Build the outputs (the check runs first and stops it on errors); provision TeX when PDFs need it."""
    from scholarly_build.building.build import BuildOptions, build
    from scholarly_build.core import tools

    console = Console(stderr=True, soft_wrap=True)
    formats = tuple(args.formats.split(",")) if args.formats else ("html", "latex", "pdf", "docx")
    documents = tuple(args.documents.split(",")) if args.documents else ("paper", "bibliography")
    from scholarly_build.inputs.project import load_project

    project = load_project(Path(args.root))
    if "pdf" in formats and not tools.latex_available(project.pdf_engine) and not args.no_provision:
        console.print("TeX Live is missing; trying to install it with apt-get…")
        tools.provision_tex(console.print)
    options = BuildOptions(
        documents=documents, formats=formats, force=args.force, citations=args.citations, explain=args.explain
    )
    report = build(Path(args.root), options, console)
    console.print(
        f"done in {report.seconds:.1f} s: {len(report.rendered)} rendered, "
        f"{len(report.skipped)} up to date, {len(report.figures_run)} figure(s) run; outputs in build/"
    )
    return 0


def cmd_doctor(args: Options) -> int:
    """List every tool and font the build uses with its version; 1 when any is missing."""
    from scholarly_build.core import tools
    from scholarly_build.inputs.project import load_project

    try:
        project = load_project(Path(args.root))
        engine, fonts = project.pdf_engine, project.fonts
    except BuildFailed:
        engine, fonts = "xelatex", {}
    missing = 0
    for name, version in tools.versions(engine, reuse=False).items():
        print(f"{name:28} {version or 'MISSING'}")
        missing += version is None
    for role, font in sorted(fonts.items()):
        ok = tools.font_available(font)
        print(f"{'font:' + role:28} {font if ok else font + ' MISSING'}")
        missing += not ok
    if missing:
        print(f"\n{missing} item(s) missing. On Debian/Ubuntu: sudo apt-get install {' '.join(tools.TEX_PACKAGES)}")
        return 1
    print("\nall tools present")
    return 0


def cmd_new_note(args: NewNoteOptions) -> int:
    """``new-note KEY``: write bib/notes/KEY.md prefilled from the entry; never overwrite one."""
    from scholarly_build.inputs.bibliography import load_bibliography
    from scholarly_build.inputs.project import load_project
    from scholarly_build.inputs.scaffold import note_path, write_note

    project = load_project(Path(args.root))
    path = note_path(project, args.key)
    problems = Problems(project.root)
    bib = load_bibliography(list(project.bibliography), problems)
    entry = bib.get(args.key)
    if entry is None:
        raise BuildFailed(
            f"error new-note: {args.key!r} is not in "
            f"{', '.join(str(p.relative_to(project.root)) for p in project.bibliography)}\n"
            "    hint: add the entry first"
        )
    if write_note(project, entry) is None:
        raise BuildFailed(
            f"{path.relative_to(project.root)}: error new-note: the note exists; new-note never overwrites a note\n"
            "    hint: edit it, or delete it first to start again from the entry"
        )
    print(f"wrote {path.relative_to(project.root)}")
    return 0


def cmd_import_notes(args: ImportNotesOptions) -> int:
    """``import-notes FILE.bib``: a note for every entry of a Zotero or JabRef export that has none."""
    from scholarly_build.inputs.project import load_project
    from scholarly_build.inputs.scaffold import import_notes

    project = load_project(Path(args.root))
    bib = Path(args.bib)
    if not bib.is_file():
        raise BuildFailed(f"{args.bib}: error import-notes: no such file\n    hint: name a .bib export")
    problems = Problems(project.root)
    report = import_notes(project, bib, problems)
    for problem in problems:
        print(problem.format(), file=sys.stderr)
    for path in report.created:
        print(f"created {path.relative_to(project.root)}")
    for key, why in report.skipped:
        print(f"skipped {key}: {why}")
    print(f"{len(report.created)} note(s) created, {len(report.skipped)} skipped")
    return 1 if problems.errors else 0


def cmd_init(args: InitOptions) -> int:
    """``init DIR``: write a new project; refuse a non-empty folder without --force; never overwrite."""
    from scholarly_build.newproject.create import create_project

    report = create_project(Path(args.dir), args)
    for path in report.created:
        print(f"created {path}")
    for path in report.skipped:
        print(f"kept    {path} (exists; init never overwrites)")
    print(
        f"\nnew project in {args.dir}: {len(report.created)} file(s) written, {len(report.skipped)} kept\n"
        f"next: cd {args.dir} && python3 -m pip install -e '.[dev]' && invoke build"
    )
    return 0


def cmd_verify_reproducible(args: Options) -> int:
    """Build twice in fresh copies and compare every output's hash; 1 on any difference."""
    from scholarly_build.building.reproducible import verify

    hashes, diffs = verify(Path(args.root))
    for name, digest in sorted(hashes.items()):
        mark = "DIFFERS" if any(d.name == name for d in diffs) else "identical"
        print(f"{mark:9}  {digest}  {name}")
    for d in diffs:
        print(f"build/{d.name}: error not-reproducible: first difference at byte {d.first_byte}; {d.context}")
    if diffs:
        return 1
    print(f"{len(hashes)} outputs byte-identical across two clean builds in different directories")
    return 0


def cmd_reader_check(args: ReaderCheckOptions) -> int:
    """Check the built HTML (Chromium) and PDFs (poppler) as a reader meets them; 1 on findings or skips."""
    from scholarly_build.verification.readerview import reader_check

    root = Path(args.root).resolve()
    report = reader_check(
        root,
        html=args.only != "pdf",
        pdf=args.only != "html",
        threshold_pt=args.overfull_pt,
        progress=lambda message: print(message, file=sys.stderr),
    )
    for line in report.skipped:
        print(f"not checked: {line}")
    for finding in report.findings:
        print(finding)
    checked = [_rel(r.path, root) for r in report.html] + [_rel(r.path, root) for r in report.pdf]
    shots = root / "build" / "screenshots"
    print(
        f"{len(report.findings)} finding(s) in {', '.join(checked) or 'nothing'}"
        + (f"; screenshots in {_rel(shots, root)}/" if shots.is_dir() else "")
    )
    return 1 if report.findings or report.skipped else 0


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def cmd_serve(args: ServeOptions) -> int:
    """Serve ``build/`` on 127.0.0.1 until Ctrl-C (only built files, never the project's sources)."""
    from scholarly_build.verification.readerview import make_server

    build_dir = Path(args.root).resolve() / "build"
    if not build_dir.is_dir():
        raise BuildFailed("error serve: there is no build/ to serve\n    hint: run `invoke build` first")
    try:
        server = make_server(build_dir, args.port)
    except OSError as exc:
        raise BuildFailed(f"error serve: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}") from None
    host, port = server.server_address[:2]
    print(
        f"serving build/ at http://{host!s}:{port}/paper.html and /annotated-bibliography.html; Ctrl-C to stop",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        limits.kill_all()
        print("stopped serving")
    finally:
        server.server_close()
    return 0


def cmd_preview(args: PreviewOptions) -> int:
    """Build what is stale, serve build/ with live reload, and rebuild on each save (Ctrl-C to stop)."""
    from scholarly_build.core.safety import check_build_dir
    from scholarly_build.inputs.project import load_project
    from scholarly_build.preview.session import run_preview

    root = Path(args.root).resolve()
    load_project(root)  # a project that cannot be read stops here, with its path:line message
    check_build_dir(root)  # never serve (or build into) a build/ that is a link
    (root / "build").mkdir(exist_ok=True)
    return run_preview(root, args.port, Console(stderr=True, soft_wrap=True))


def cmd_clean(args: Options) -> int:
    """Remove ``build/`` under the build lock; never follows a ``build`` that is a symbolic link."""
    build_dir = Path(args.root).resolve() / "build"
    if build_dir.is_symlink():
        # Never follow it: the target may be anywhere (a committed link is an attack).
        raise BuildFailed(
            f"build: error unsafe-build-dir: build/ is a symbolic link (to {os.readlink(build_dir)!r}); "
            "clean removes only a real build/ folder and did not touch the target\n"
            "    hint: remove the link itself with `rm build`"
        )
    if build_dir.exists() and not build_dir.is_dir():
        raise BuildFailed("build: error clean: build is not a folder; nothing was removed\n    hint: remove it by hand")
    if build_dir.is_dir():
        # The build lock: a build that is running keeps its build/ (clean fails instead of wait).
        with build_lock(build_dir, wait=False):
            for child in build_dir.iterdir():
                if child.name == ".lock":
                    continue
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            (build_dir / ".lock").unlink(missing_ok=True)  # still held: no build can start in between
        build_dir.rmdir()
    print("removed build/")
    from scholarly_build.building import auxcache  # late: keeps `import cli` cheap

    if auxcache.remove_project(Path(args.root).resolve()):
        print(f"removed the TeX records kept for this project in {auxcache.cache_base()}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per command, each bound to its function and its options class."""
    p = argparse.ArgumentParser(prog="scholarly_build", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--root", default=".", help="project root (default: current directory)")
    sub = p.add_subparsers(dest="command", required=True)

    _add_check(sub)
    _add_build(sub)

    d = sub.add_parser("doctor", help="list tools and versions, and what is missing")
    d.set_defaults(func=cmd_doctor, options=Options)

    n = sub.add_parser("new-note", help="scaffold bib/notes/KEY.md from the bib entry (never overwrites)")
    n.add_argument("key")
    n.set_defaults(func=cmd_new_note, options=NewNoteOptions)

    m = sub.add_parser("import-notes", help="a note for every entry of a Zotero or JabRef .bib export that has none")
    m.add_argument("bib", metavar="FILE.bib")
    m.set_defaults(func=cmd_import_notes, options=ImportNotesOptions)

    _add_init(sub)

    r = sub.add_parser("verify-reproducible", help="build twice in fresh copies and compare output hashes")
    r.set_defaults(func=cmd_verify_reproducible, options=Options)

    _add_reader_check(sub)

    sv = sub.add_parser("serve", help="serve build/ on http://127.0.0.1:PORT/ to read it in a browser")
    sv.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free port)")
    sv.set_defaults(func=cmd_serve, options=ServeOptions)

    pv = sub.add_parser(
        "preview", help="build, serve build/ on http://127.0.0.1:PORT/ and rebuild and reload the page on each save"
    )
    pv.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free port)")
    pv.set_defaults(func=cmd_preview, options=PreviewOptions)

    k = sub.add_parser("clean", help="remove build/")
    k.set_defaults(func=cmd_clean, options=Options)
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m scholarly_build``: parse the command line into a command's typed options and run it."""
    ns = parser().parse_args(argv)
    fields = {f.name for f in dataclasses.fields(ns.options)}
    return run(ns.func, ns.options(**{k: v for k, v in vars(ns).items() if k in fields}))


def run(command: Callable[[Opts], int], options: Opts) -> int:
    """Run one command with its options; a user's mistake ends in a message and exit 1, not a traceback.

    ``tasks.py`` calls this directly with typed options, as the command line does.
    """
    args = options
    try:
        return int(command(options))
    except BuildFailed as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    except OSError as exc:
        # The disk, not the input: full, read-only, or a path that is not what it should be.
        print(os_error_message(exc, Path(args.root).resolve()), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        limits.kill_all()
        print(
            "interrupted; every file in build/ is complete (the previous version, or a finished new one)",
            file=sys.stderr,
        )
        return 130


# --- the commands' arguments (kept out of parser() so that it reads as the list of commands) ---


def _add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``check``: its options mirror :class:`CheckOptions`."""
    c = sub.add_parser("check", help="check citations, bibliography and notes")
    c.add_argument("--manuscript", action="append", default=[], metavar="PATH", help="a Markdown file (repeatable)")
    c.add_argument("--bib", action="append", default=[], metavar="PATH", help="a .bib file (repeatable)")
    c.add_argument("--notes", metavar="DIR", help="a notes directory")
    c.add_argument("--crossref-prefix", action="append", metavar="PREFIX", help="cross-reference prefix, e.g. fig:")
    c.add_argument("--format", choices=("human", "json", "sarif"), default="human")
    c.add_argument(
        "--select",
        action="append",
        metavar="CODES",
        help="report only these codes (comma list; a prefix ending in '-' or ALL matches several)",
    )
    c.add_argument("--ignore", action="append", metavar="CODES", help="never report these codes (comma list)")
    c.add_argument("--strict", action="store_true", help="warnings fail too")
    c.add_argument(
        "--sources",
        metavar="DIR",
        help="folder of the cited works' texts named in `sources:` "
        "(default: $SCHOLARLY_BUILD_SOURCES, else the `sources_dir` setting)",
    )
    c.set_defaults(func=cmd_check, options=CheckOptions)


def _add_build(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``build``: its options mirror :class:`BuildCommandOptions`."""
    b = sub.add_parser("build", help="build the paper and the annotated bibliography")
    b.add_argument("--formats", help="comma list of html,latex,pdf,docx (default: all)")
    b.add_argument("--documents", help="comma list of paper,bibliography (default: both)")
    b.add_argument("--force", action="store_true", help="re-render everything")
    b.add_argument("--no-provision", action="store_true", help="never run apt-get")
    b.add_argument(
        "--explain",
        action="store_true",
        help="print why each output is rebuilt (the declared input that changed: a file or a setting, "
        "'no previous build' or '--force') and what it reads, then build as usual",
    )
    b.add_argument(
        "--citations",
        choices=("citeproc", "biblatex"),
        help="LaTeX citations: citeproc (CSL, default) or biblatex + biber",
    )
    b.set_defaults(func=cmd_build, options=BuildCommandOptions)


def _add_reader_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``reader-check``: its options mirror :class:`ReaderCheckOptions`."""
    rc = sub.add_parser(
        "reader-check",
        help="check the built HTML in Chromium and the PDFs with poppler as a reader would; screenshots in build/",
    )
    rc.add_argument("--only", choices=("html", "pdf"), help="check only the HTML or only the PDF files")
    rc.add_argument(
        "--overfull-pt",
        type=float,
        default=10.0,
        metavar="PT",
        help="Overfull \\hbox wider than this many points is a finding (default: 10)",
    )
    rc.set_defaults(func=cmd_reader_check, options=ReaderCheckOptions)


def _add_init(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``init DIR`` and its options (title, author, CSL style, compared works, --force)."""
    i = sub.add_parser("init", help="write a new project (manuscript, bib, notes, figures, tasks, tests, CI) in DIR")
    i.add_argument("dir", metavar="DIR")
    i.add_argument("--title", default=InitOptions.title, help="the paper's title")
    i.add_argument("--author", default=InitOptions.author, help="the author's name")
    i.add_argument("--csl", default=InitOptions.csl, help="a CSL style name (default: chicago-author-date)")
    i.add_argument(
        "--work",
        action="append",
        metavar="KEY",
        help="a compared work's BibTeX key (give two or more; default: the two examples); "
        "a key that is not an example gets a placeholder entry and note",
    )
    i.add_argument("--force", action="store_true", help="write into a non-empty folder (existing files are kept)")
    i.set_defaults(func=cmd_init, options=InitOptions)
