"""Hardening (issue 6): bad input gets a clear error, nothing runs that should not, nothing is lost.

Every bad-input case goes through the real command line (`python -m scholarly_build --root DIR build`
in a subprocess) against a copy of the mini fixture that was built successfully first, and must end
the same way: a `path:line: …` message saying what is wrong (and, where there is one, a hint), exit
code 1, no Python traceback, and build/*.pdf|html|tex|docx byte-for-byte as they were.

Cases already covered elsewhere are not repeated: a tab-indented note and an undefined citation
(tests/test_incremental.py), a figure script that exits with a message (test_incremental.py), the
schema and BibTeX faults at the loader level (test_notes.py, test_bibliography.py), and the
write18/`\\input`/HTML/javascript:/Jinja attacks in notes, note fields, sections and BibTeX titles
(test_security.py).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from scholarly_build.building.build import BuildOptions
from scholarly_build.core.problems import BuildFailed
from scholarly_build.inputs.notes import split_front_matter
from scholarly_build.rendering import render

from .conftest import copy_mini, quiet_build

OUTPUT_SUFFIXES = (".pdf", ".html", ".tex", ".docx")
HOSTNAME_FILE = Path("/etc/hostname")
HOSTNAME = HOSTNAME_FILE.read_text().strip() if HOSTNAME_FILE.is_file() else ""


# --- helpers ---------------------------------------------------------------------------


def build_cmd(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "scholarly_build", "--root", str(root), "build", *extra]


def clean_env() -> dict[str, str]:
    """The environment of a CI job: no GitHub annotations, no terminal size."""
    return {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "COLUMNS", "LINES")}


def run_build(root: Path, *extra: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(build_cmd(root, *extra), capture_output=True, text=True, env=clean_env(),
                          timeout=timeout, check=False)


def output_hashes(root: Path) -> dict[str, str]:
    """sha256 of build/*.pdf, *.html, *.tex and *.docx."""
    build = root / "build"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(build.iterdir())
            if p.is_file() and p.suffix in OUTPUT_SUFFIXES}


def temp_files(root: Path) -> list[str]:
    """Temporary or partial files in build/ (outside the render work directories)."""
    build = root / "build"
    return sorted(str(p.relative_to(build)) for p in build.rglob("*")
                  if p.is_file() and ".work" not in p.relative_to(build).parts
                  and (p.name.endswith(".tmp") or ".tmp" in p.relative_to(build).parts
                       or (p.name.startswith(".") and p.name not in (".lock", ".state.json"))))


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def assert_outputs_complete(root: Path) -> None:
    """Every output is a whole file: PDFs read back with pdftotext, HTML and TeX end properly, DOCX unzips."""
    build = root / "build"
    names = sorted(p.name for p in build.iterdir() if p.suffix in OUTPUT_SUFFIXES)
    assert names == ["annotated-bibliography.html", "annotated-bibliography.pdf", "annotated-bibliography.tex",
                     "paper.docx", "paper.html", "paper.pdf", "paper.tex"]
    for name in names:
        path = build / name
        if path.suffix == ".pdf":
            assert "References" in pdf_text(path) or "ANNOTATION-" in pdf_text(path), name
        elif path.suffix == ".html":
            assert path.read_text().rstrip().endswith("</html>"), name
        elif path.suffix == ".tex":
            assert path.read_text().rstrip().endswith("\\end{document}"), name
        else:
            with zipfile.ZipFile(path) as z:
                assert z.testzip() is None, name


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def edit_front_matter(path: Path, change: Callable[[dict], None]) -> None:  # type: ignore[type-arg]
    parts = split_front_matter(path.read_text())
    assert parts is not None
    front, body, _ = parts
    data = yaml.safe_load(front)
    change(data)
    path.write_text("---\n" + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000) + "---\n"
                    + body)


def session_processes(sid: int) -> dict[int, str]:
    """pid -> command name of every process in session ``sid`` (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":  # zombies are gone already (and may never be reaped)
            found[int(entry.name)] = stat[stat.index("(") + 1 : stat.rindex(")")]
    return found


def kill_session(sid: int) -> None:
    """SIGKILL each remaining process of a session this test started (by pid), then wait for them to go."""
    for pid in session_processes(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 20
    while session_processes(sid) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini fixture after one successful build through the command line."""
    root = copy_mini(tmp_path_factory.mktemp("hardening") / "mini")
    proc = run_build(root)
    assert proc.returncode == 0, proc.stderr
    return root


def fresh_copy(built: Path, parent: Path) -> Path:
    """A private copy of the built project below ``parent`` (which is outside the project)."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(built, parent / "mini", symlinks=True))


# --- the bad-input table ---------------------------------------------------------------

NOTE = "bib/notes/gamma1999.md"
BIB = "bib/references.bib"
SECTION = "manuscript/sections/02-body.md"
SETTINGS = "manuscript/paper.yaml"


def latin1(rel: str, old: str, new: str) -> Callable[[Path], None]:
    """Save the file as Latin-1 with ``old`` replaced by ``new`` (which holds a non-ASCII character)."""

    def breaks(root: Path) -> None:
        path = root / rel
        text = path.read_text(encoding="utf-8").replace(old, new, 1)
        text = "".join(c if ord(c) < 256 else "?" for c in text)  # Cyrillic cannot be Latin-1
        path.write_bytes(text.encode("latin-1"))

    return breaks


def replace(rel: str, old: str, new: str) -> Callable[[Path], None]:
    return lambda root: edit(root / rel, old, new)


def write(rel: str, content: str) -> Callable[[Path], None]:
    return lambda root: (root / rel).write_text(content)


def delete(rel: str) -> Callable[[Path], None]:
    return lambda root: (root / rel).unlink()


def deep_nesting(root: Path) -> None:
    edit(root / NOTE, "themes: [regime]", "themes: " + "[" * 1000 + "]" * 1000)


def section_outside(root: Path) -> None:
    (root.parent / "outside.md").write_text("OUTSIDE-CONTENT cites [@outsidesecret2000].\n")
    edit(root / SETTINGS, "  - 02-body.md\n", "  - 02-body.md\n  - ../../../outside.md\n")


def section_symlink_outside(root: Path) -> None:
    (root.parent / "outside.md").write_text("OUTSIDE-CONTENT cites [@outsidesecret2000].\n")
    (root / "manuscript/sections/03-linked.md").symlink_to(root.parent / "outside.md")
    edit(root / SETTINGS, "  - 02-body.md\n", "  - 02-body.md\n  - 03-linked.md\n")


def note_symlink_outside(root: Path) -> None:
    outside = root.parent / "delta2000.md"
    outside.write_text((root / NOTE).read_text().replace("gamma1999", "delta2000")
                       .replace("Gamma's review", "OUTSIDE-CONTENT [@outsidesecret2000]"))
    (root / "bib/notes/delta2000.md").symlink_to(outside)


OUTSIDE_SCRIPT = """\
from pathlib import Path
Path(__file__).with_name("OUTSIDE-SCRIPT-RAN").write_text("ran")
raise SystemExit("OUTSIDE-SCRIPT-RAN")
"""


def figure_script_dotdot(root: Path) -> None:
    (root.parent / "outside.py").write_text(OUTSIDE_SCRIPT)
    edit(root / SETTINGS, "script: figures/bars.py", "script: ../outside.py")


def figure_script_symlink(root: Path) -> None:
    (root.parent / "outside.py").write_text(OUTSIDE_SCRIPT)
    (root / "figures/bars.py").unlink()
    (root / "figures/bars.py").symlink_to(root.parent / "outside.py")


def figure_script_raises(root: Path) -> None:
    path = root / "figures/bars.py"
    path.write_text(path.read_text() + "\n\ndef explode():\n    raise ValueError('figure exploded')\n\n\nexplode()\n")


def insert_line(rel: str, line_no: int, text: str) -> Callable[[Path], None]:
    def breaks(root: Path) -> None:
        path = root / rel
        lines = path.read_text().splitlines(keepends=True)
        lines.insert(line_no - 1, text + "\n")
        path.write_text("".join(lines))

    return breaks


def oversized_bib(root: Path) -> None:
    path = root / BIB
    pad = ("% " + "x" * 1022 + "\n").encode()
    with path.open("ab") as fh:
        for _ in range(65 * 1024):
            fh.write(pad)


def L(text: str) -> str:
    """A literal expected line start."""
    return re.escape(text)


@dataclass(frozen=True)
class Case:
    id: str
    breaks: Callable[[Path], None]
    expect: tuple[str, ...]  # regexes; each must match at the start of a line of stderr
    absent: tuple[str, ...] = ()  # strings that must not appear in stderr (e.g. an outside file's content)
    user_traceback: bool = False  # a figure script's own traceback is expected, ours never
    latex: bool = False  # a LaTeX failure: the log file is named and must exist
    not_run: str | None = None  # a file an outside script would create if it ran
    bug: str | None = None  # the report is wrong (strict xfail)
    bug_outputs: str | None = None  # outputs are changed (strict xfail)


BUG_NONE_STRIP = ("BUG: a note field given as YAML null (`how:` with no value) passes _check_fields (None is "
                  "allowed) and then crashes load_note with AttributeError: 'NoneType' object has no attribute "
                  "'strip' (notes.py, uses/claims/quotations) instead of a note-schema error")
BUG_UNCLOSED_QUOTE = ("BUG: an unclosed quote on line 7 (`summary: \"A review…`) is reported at line 10 as "
                      "\"expected <block end>, but found '<scalar>'\" (where YAML's multi-line quoted scalar happens "
                      "to end), not at the line where the quote opens, and the message does not mention a quote")
BUG_TIMESTAMP = ("BUG: a YAML date that does not exist (`year: 1999-02-30`) makes PyYAML's timestamp constructor "
                 "raise ValueError, which yamldoc.load does not catch: traceback instead of a located error")
BUG_RECURSION = ("BUG: deeply nested YAML (`themes: [[[[…]]]]`, 1000 levels) raises RecursionError in PyYAML's "
                 "composer, which yamldoc.load does not catch: traceback instead of a located error")
BUG_SETTINGS_INT = ("BUG: `annotation_min_words: many` in paper.yaml crashes load_project with ValueError from "
                    "int() (project.py) instead of a `settings` error at its line")
BUG_SECTION_READ = ("BUG: a section that resolves outside the project is read and parsed by check_project "
                    "(pipeline.project_manuscripts only tests is_file) before assemble_paper refuses it, so its "
                    "content reaches the messages (an undefined-citation inside it is reported, with its key) "
                    "and the unsafe-path error is never shown")
BUG_TEMPLATE_WRAPPED = ("BUG: an error in paper.md.j2 (or a partial it includes) is caught by "
                        "pipeline.check_assembled and re-reported as a problem located at `templates` whose message "
                        "is the whole rendered problem, so the line reads `templates: error template: "
                        "templates/paper.md.j2:6: error template: …` (no line of its own; the real location mid-line)")
BUG_UNLOCATED_CITATION = ("BUG: an undefined key cited only as `[-@key]` (suppress-author) is reported as "
                          "`manuscript/sections/02-body.md: error undefined-citation: …` without line or column: "
                          "citations.find_citations's locating pattern never matches `@` after `-`")
BUG_TEX_REPLACED = ("BUG: a LaTeX failure leaves build/ changed: render.run_job installs the new .tex before "
                    "latexmk runs, so build/paper.tex and annotated-bibliography.tex are replaced while the PDFs "
                    "stay old")

CASES = [
    # Notes: malformed YAML front matter (a tab indent is covered by test_incremental.py).
    Case("note-unclosed-quote", replace(NOTE, 'summary: "A review of authoritarian regimes."',
                                        'summary: "A review of authoritarian regimes.'),
         (L(f"{NOTE}:7: error note-schema: malformed YAML front matter: "), L("    hint: YAML uses spaces"))),
    Case("note-front-matter-not-a-mapping", write(NOTE, "---\n- gamma1999\n- complete\n---\nBody.\n"),
         (L(f"{NOTE}:2: error note-schema: front matter must be a mapping of fields"),
          L("    hint: see docs/note-schema.md"))),
    Case("note-unknown-field", replace(NOTE, "year: 1999\n", "year: 1999\npages: 3\n"),
         (L(f"{NOTE}:6: error note-schema: unknown field 'pages'"), L("    hint: allowed fields: key, "))),
    Case("note-missing-field", replace(NOTE, 'summary: "A review of authoritarian regimes."\n', ""),
         (L(f"{NOTE}:2: error note-schema: missing required field 'summary'"), L("    hint: add `summary:`"))),
    Case("note-wrong-type", replace(NOTE, "themes: [regime]", "themes: regime"),
         (L(f"{NOTE}:6: error note-schema: field 'themes' must be a list of theme ids, not str"),)),
    Case("note-null-field", replace(NOTE, '      how: "Supplies the personalist category."', "      how:"),
         (L(f"{NOTE}:"),)),
    Case("note-date-that-does-not-exist", replace(NOTE, "year: 1999", "year: 1999-02-30"),
         (L(f"{NOTE}:5: error note-schema: "),)),
    Case("note-deeply-nested-yaml", deep_nesting, (L(f"{NOTE}:6: error note-schema: "),)),
    Case("note-empty", write(NOTE, ""),
         (L(f"{NOTE}:1: error note-schema: note is empty"), L("    hint: run `invoke new-note gamma1999`"))),
    Case("note-latin-1", latin1(NOTE, "Gamma's review", "Gamma's Café review"),
         (rf"{re.escape(NOTE)}:18: error encoding: file is not valid UTF-8 \(byte 0xe9 at offset \d+\)",
          L("    hint: re-save the file as UTF-8"))),
    # Sections.
    Case("section-latin-1", latin1(SECTION, "As @Fig:bars shows", "As @Fig:bars (café) shows"),
         (rf"{re.escape(SECTION)}:5: error encoding: file is not valid UTF-8 \(byte 0xe9 at offset \d+\)",
          L("    hint: re-save the file as UTF-8"))),
    Case("section-undefined-suppress-author-citation",
         replace(SECTION, "the numbers are large [-@beta2016, n. 41].",
                 "the numbers are large [-@beta2016, n. 41].\n\nAs shown [-@nosuch2000]."),
         (L(f"{SECTION}:7:11: error undefined-citation: citation key 'nosuch2000' is not in any .bib file"),)),
    Case("section-missing", delete(SECTION),
         (L(f"{SETTINGS}:27: error missing-file: section 02-body.md is listed but does not exist"),
          L("    hint: create the file or remove it from `sections`"))),
    # BibTeX.
    Case("bib-unbalanced-braces",
         replace(BIB, "title        = {What Do We Know?},", "title        = {What Do We Know?,"),
         (L(f"{BIB}:21:3: error bib-syntax: entry 'gamma1999' (line 19) is not closed before the next entry; "
            "the braces of field 'title' may be unbalanced"), L("    hint: balance the braces"))),
    Case("bib-missing-comma", replace(BIB, "title       = {[Regimes Compared]},", "title       = {[Regimes Compared]}"),
         (L(f"{BIB}:4:3: error bib-syntax: missing comma after the field 'title'"),
          L("    hint: end every field with a comma"))),
    Case("bib-unterminated-entry", replace(BIB, "  langid       = {english},\n}", "  langid       = {english},\n"),
         (L(f"{BIB}:26:3: error bib-syntax: entry 'gamma1999' (line 19) is not closed"),)),
    # An unknown entry type is a warning since issue 12 (styles extend the data model), so it is
    # no longer a build-breaking case; test_checks covers it.
    Case("bib-undefined-string", replace(BIB, "journaltitle = {Annual Review of Examples},", "journaltitle = annrev,"),
         (L(f"{BIB}:22: error undefined-macro: @string macro 'annrev' is used but never defined"),
          L("    hint: define it with @string{annrev = {...}}"))),
    Case("bib-latin-1", latin1(BIB, "{What Do We Know?}", "{What Do We Know? Café}"),
         (rf"{re.escape(BIB)}:21: error encoding: file is not valid UTF-8 \(byte 0xe9 at offset \d+\)",
          L("    hint: re-save the file as UTF-8"))),
    Case("bib-empty", write(BIB, ""),
         (L(f"{BIB}:1: warning bib-syntax: bibliography file is empty"),
          L("bib/notes/alpha2018.md:1: error orphan-note: note 'alpha2018' has no entry in the bibliography"))),
    Case("bib-over-64-mib", oversized_bib,
         (L(f"{BIB}:1: error file-too-large: file is 65 MiB; the limit is 64 MiB"), L("    hint: split the file"))),
    # Settings (paper.yaml), beyond the YAML syntax errors covered by test_cli.py.
    Case("settings-wrong-type", replace(SETTINGS, "annotation_min_words: 20", "annotation_min_words: many"),
         (L(f"{SETTINGS}:33: error settings: "),)),
    # Templates.
    # A deleted override falls back to the engine's default; a name in neither place is an error.
    Case("template-missing", write("templates/paper.md.j2", '{% include "partials/nosuch.md.j2" %}\n'),
         (L("templates/partials/nosuch.md.j2: error template: template 'partials/nosuch.md.j2' not found"),
          L("    hint: neither templates/ nor the engine's defaults have it: fix the name, or add the file to "
            "templates/"))),
    Case("template-undefined-variable", insert_line("templates/paper.md.j2", 6, "{{ nosuch }}"),
         (L("templates/paper.md.j2:6: error template: template error: 'nosuch' is undefined"),
          L("    hint: check the variable names the template uses"))),
    Case("template-syntax-error", insert_line("templates/annotated-bibliography.md.j2", 4, "{% if %}"),
         (L("templates/annotated-bibliography.md.j2:4: error template: template syntax error: Expected an "
            "expression, got 'end of statement block'"),)),
    # Figures.
    Case("figure-script-missing", delete("figures/bars.py"),
         (L(f"{SETTINGS}:30: error missing-file: figure 'bars': script figures/bars.py does not exist"),
          L("    hint: fix the path in `figures`"))),
    Case("figure-script-raises", figure_script_raises,
         (L("figures/bars.py: error figure: the figure script failed (exit 1); its output:"),
          L("    Traceback (most recent call last):"),
          r"    .*File \".*/figures/bars\.py\", line \d+, in explode",
          L("    ValueError: figure exploded"),
          L("    hint: run it yourself: python figures/bars.py --data figures/data/bars.csv")),
         user_traceback=True),
    # LaTeX.
    # Found before LaTeX runs (issue 11): fontconfig is asked for every font the PDF uses.
    Case("latex-missing-font", replace(SETTINGS, 'main: "Linux Libertine O"', 'main: "No Such Font"'),
         (L(f"{SETTINGS}:10: error settings: font 'No Such Font' (fonts.main) is not installed: "
            "fontconfig does not know it"),
          L("    hint: `fc-list : family` lists the installed fonts")),),
    Case("latex-broken-template", replace("templates/latex/template.tex", "\\begin{document}",
                                          "\\begin{document}\n\\nosuchmacro"),
         (r"/.*/build/\.work/paper-latex/paper\.log: error latex: LaTeX failed; relevant log lines:",
          r"    \./paper\.tex:\d+: Undefined control sequence\.",
          r"    hint: the full log is /.*/build/\.work/paper-latex/paper\.log$"),
         latex=True),
    # Paths that escape the project. (`../outside.md` from manuscript/sections/ is still inside the project,
    # so the escaping section climbs three levels.)
    Case("section-outside-via-dotdot", section_outside,
         (L(f"{SETTINGS}:28: error unsafe-path: section ../../../outside.md resolves outside the project"),),
         absent=("outsidesecret2000", "OUTSIDE-CONTENT")),
    Case("section-symlink-outside", section_symlink_outside,
         (L(f"{SETTINGS}:28: error unsafe-path: section 03-linked.md resolves outside the project"),),
         absent=("outsidesecret2000", "OUTSIDE-CONTENT")),
    Case("note-symlink-outside", note_symlink_outside,
         (L("bib/notes/delta2000.md:1: error unsafe-path: note is a symlink that points outside the project"),
          L("    hint: replace the link with the file itself")),
         absent=("outsidesecret2000", "OUTSIDE-CONTENT")),
    Case("figure-script-outside-via-dotdot", figure_script_dotdot,
         (L(f"{SETTINGS}:30: error unsafe-path: figure 'bars': script resolves outside the project"),),
         absent=("OUTSIDE-SCRIPT-RAN",), not_run="OUTSIDE-SCRIPT-RAN"),
    # Found by the link check (issue 11) before the figure step looks at it.
    Case("figure-script-symlink-outside", figure_script_symlink,
         (r"figures/bars\.py: error unsafe-path: symbolic link to '/.*/outside\.py' leaves the project; "
          r"it is not read$",
          L("    hint: replace the link with the file itself, inside the project")),
         absent=("OUTSIDE-SCRIPT-RAN",), not_run="OUTSIDE-SCRIPT-RAN"),
]


@dataclass
class Outcome:
    root: Path
    proc: subprocess.CompletedProcess[str]
    before: dict[str, str]
    after: dict[str, str]


@pytest.fixture(scope="module")
def outcome(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[Case], Outcome]:
    """Run each case's failing build once; both table tests read the same outcome."""
    cache: dict[str, Outcome] = {}

    def get(case: Case) -> Outcome:
        if case.id not in cache:
            root = fresh_copy(built, tmp_path_factory.mktemp(case.id))
            before = output_hashes(root)
            case.breaks(root)
            proc = run_build(root)
            cache[case.id] = Outcome(root, proc, before, output_hashes(root))
        return cache[case.id]

    return get


def table(field: str) -> list[object]:
    params = []
    for case in CASES:
        reason = getattr(case, field)
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


def _missing_lines(stderr: str, patterns: tuple[str, ...]) -> list[str]:
    return [p for p in patterns if not re.search(f"^(?:{p})", stderr, re.MULTILINE)]


@pytest.mark.integration
@pytest.mark.parametrize("case", table("bug"))
def test_bad_input_is_reported(outcome: Callable[[Case], Outcome], case: Case) -> None:
    """Exit 1 with a located `path:line: …` message (and hint), nothing from outside, no traceback of ours."""
    result = outcome(case)
    stderr = result.proc.stderr
    assert result.proc.returncode == 1, stderr[-3000:]
    assert _missing_lines(stderr, case.expect) == [], stderr[-3000:]
    assert [s for s in case.absent if s in stderr] == []
    if case.user_traceback:
        # The script's own traceback is quoted, indented under the error line; no frame of the engine's.
        assert all(line.startswith("    ") for line in stderr.splitlines() if "Traceback" in line)
        assert not re.search(r'File "[^"]*scholarly_build', stderr)
    else:
        assert "Traceback" not in stderr
    if case.latex:
        log = Path(re.findall(r"hint: the full log is (\S+)$", stderr, re.MULTILINE)[0])
        assert log.is_file() and log.suffix == ".log"
    if case.not_run:
        assert sorted(p.name for p in result.root.parent.rglob(case.not_run)) == []


@pytest.mark.integration
@pytest.mark.parametrize("case", table("bug_outputs"))
def test_bad_input_leaves_outputs_untouched(outcome: Callable[[Case], Outcome], case: Case) -> None:
    """After the failed build, build/*.pdf|html|tex|docx are byte-for-byte the previous good outputs."""
    result = outcome(case)
    assert result.proc.returncode == 1
    assert sorted(result.before) == sorted(
        ["annotated-bibliography.html", "annotated-bibliography.pdf", "annotated-bibliography.tex",
         "paper.docx", "paper.html", "paper.pdf", "paper.tex"])
    assert {k: v for k, v in result.after.items() if result.before.get(k) != v} == {}
    assert result.after == result.before


# --- a byte-order mark is a warning, and the build succeeds --------------------------------

BOM_FILES = {"note": NOTE, "section": SECTION, "bib": BIB}


@pytest.mark.integration
@pytest.mark.parametrize("which", list(BOM_FILES))
def test_bom_builds_with_a_warning(built: Path, tmp_path: Path, which: str) -> None:
    """A UTF-8 file with a BOM builds (exit 0) with `path:1: warning encoding: …`, and the outputs are whole."""
    root = fresh_copy(built, tmp_path)
    path = root / BOM_FILES[which]
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    proc = run_build(root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert (f"{BOM_FILES[which]}:1: warning encoding: file starts with a UTF-8 byte-order mark; it was ignored "
            "hint: save the file as UTF-8 without BOM") in flat(proc.stderr)
    assert_outputs_complete(root)
    assert temp_files(root) == []


@pytest.mark.integration
def test_build_warnings_stay_on_one_line(built: Path, tmp_path: Path) -> None:
    """A warning printed by `build` is one `path:line: severity code: message` line, as `check` prints it."""
    root = fresh_copy(built, tmp_path)
    path = root / NOTE
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    proc = run_build(root)
    assert proc.returncode == 0
    assert (f"{NOTE}:1: warning encoding: file starts with a UTF-8 byte-order mark; it was ignored\n"
            in proc.stderr)


# --- YAML alias expansion ("billion laughs") -------------------------------------------------


def yaml_bomb(levels: int = 9) -> str:
    lines = ["x0: &a0 [q, q, q, q, q, q, q, q, q]"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.integration
def test_yaml_alias_bomb_in_a_note_fails_fast(built: Path, tmp_path: Path) -> None:
    """A note whose front matter expands aliases exponentially is refused within seconds, not a hang."""
    root = fresh_copy(built, tmp_path)
    edit(root / NOTE, "year: 1999\n", "year: 1999\n" + yaml_bomb())
    proc = subprocess.Popen(build_cmd(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=clean_env(), start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        kill_session(proc.pid)
        proc.communicate()
        pytest.fail("the build was still checking the note after 10 s")
    assert proc.returncode == 1
    assert f"{NOTE}:" in stderr and "Traceback" not in stderr


# --- a huge .bib: clean failure in bounded memory -------------------------------------------

RSS_WRAPPER = """\
import resource, subprocess, sys
rc = subprocess.run(sys.argv[2:]).returncode
with open(sys.argv[1], "w") as fh:
    fh.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(rc)
"""


def generated_bib(entries: int) -> str:
    return "".join(
        f"@article{{huge{n:07d},\n  author = {{Author{n}, Ann and Other{n}, Bob}},\n"
        f"  title = {{A title number {n} about regimes and foreign policy}},\n"
        f"  journaltitle = {{Journal of Tests}},\n  volume = {{{n % 50}}},\n  pages = {{1--20}},\n"
        f"  date = {{2001}},\n}}\n\n" for n in range(entries))


@pytest.mark.integration
def test_huge_bib_fails_cleanly_in_bounded_memory(built: Path, tmp_path: Path) -> None:
    """A generated 5 MB .bib (22,000 entries without notes): exit 1 with located errors, RSS < 2 GiB, outputs kept.

    The 50 MB version takes minutes; it is `python scripts/huge_bib.py` (a benchmark, not a test).
    """
    root = fresh_copy(built, tmp_path)
    before = output_hashes(root)
    huge = root / "bib/huge.bib"
    huge.write_text(generated_bib(22_700))
    assert huge.stat().st_size > 5_000_000
    edit(root / SETTINGS, "annotation_min_words: 20", "bibliography: [bib/references.bib, bib/huge.bib]\n"
                                                      "annotation_min_words: 20")
    rss_file = tmp_path / "rss"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", RSS_WRAPPER, str(rss_file), *build_cmd(root)],
                          capture_output=True, text=True, env=clean_env(), timeout=600, check=False)
    seconds = time.monotonic() - t0
    peak_kib = int(rss_file.read_text())
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert re.search(r"^bib/huge\.bib:1: error missing-note: entry 'huge0000000' has no note$", proc.stderr,
                     re.MULTILINE)
    assert peak_kib < 2 * 1024 * 1024, f"peak RSS {peak_kib // 1024} MiB"
    assert seconds < 120
    assert output_hashes(root) == before


# --- interrupted builds -----------------------------------------------------------------------


def interrupt_during_pdf(root: Path, sig: signal.Signals) -> subprocess.Popen[str]:
    """Start a build that must re-render the paper, and send ``sig`` once XeTeX runs."""
    proc = subprocess.Popen(build_cmd(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=clean_env(), start_new_session=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if {"xelatex", "xdvipdfmx"} & set(session_processes(proc.pid).values()):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the build ended before the PDF step"
    time.sleep(0.3)
    os.killpg(proc.pid, sig)  # like Ctrl-C (SIGINT) in a terminal, or kill -9 of the whole job
    return proc


@dataclass
class Interrupted:
    root: Path
    returncode: int
    stderr: str
    before: dict[str, str]
    after: dict[str, str]
    temp_files: list[str]


@pytest.fixture(scope="module")
def interrupted(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[signal.Signals], Interrupted]:
    """A build of an edited paper, stopped by ``sig`` while LaTeX runs (once per signal)."""
    cache: dict[signal.Signals, Interrupted] = {}

    def get(sig: signal.Signals) -> Interrupted:
        if sig not in cache:
            root = fresh_copy(built, tmp_path_factory.mktemp(f"interrupted-{sig.name}"))
            before = output_hashes(root)
            section = root / SECTION
            section.write_text(section.read_text() + "\n\nINTERRUPTMARKER closes the section.\n")
            proc = interrupt_during_pdf(root, sig)
            _, stderr = proc.communicate(timeout=120)
            kill_session(proc.pid)  # whatever survived is a process this test started
            cache[sig] = Interrupted(root, proc.returncode, stderr, before, output_hashes(root), temp_files(root))
        return cache[sig]

    return get


SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGKILL, id="SIGKILL")]
PDFS = ("paper.pdf", "annotated-bibliography.pdf")


@pytest.mark.integration
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc")
@pytest.mark.parametrize("sig", SIGNALS)
def test_interrupted_pdf_step_leaves_no_partial_output(interrupted: Callable[[signal.Signals], Interrupted],
                                                       sig: signal.Signals) -> None:
    """Ctrl-C or kill -9 while LaTeX runs: no partial or temp-named file in build/, the previous PDFs intact."""
    result = interrupted(sig)
    if sig == signal.SIGINT:
        assert result.returncode == 130
        assert "interrupted" in result.stderr and "Traceback" not in result.stderr
    else:
        assert result.returncode == -signal.SIGKILL
    assert result.temp_files == []
    # The PDF step never finished, so both PDFs are the previous ones; whatever was re-rendered is whole.
    assert {n: result.after[n] for n in PDFS} == {n: result.before[n] for n in PDFS}
    assert_outputs_complete(result.root)


BUG_WEDGED = ("BUG: after Ctrl-C during the PDF step every later build fails, even with --force, quoting the stale "
              "'Interruption.' log: latexmk records the interrupted run's error in build/.work/*/paper.fdb_latexmk "
              "and, since paper.tex is unchanged, answers 'Nothing to do … gave an error' (render.latexmk never "
              "forces a rerun, e.g. with -g); only `clean` recovers")


@pytest.mark.integration
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc")
@pytest.mark.parametrize("sig", [pytest.param(signal.SIGINT, id="SIGINT"),
                                 pytest.param(signal.SIGKILL, id="SIGKILL")])
def test_build_after_interruption_completes(interrupted: Callable[[signal.Signals], Interrupted],
                                            sig: signal.Signals) -> None:
    """The next build after an interrupted one exits 0 and writes complete, current outputs."""
    root = interrupted(sig).root
    rerun = run_build(root)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_outputs_complete(root)
    assert temp_files(root) == []
    assert "INTERRUPTMARKER" in pdf_text(root / "build/paper.pdf")
    assert "INTERRUPTMARKER" in (root / "build/paper.html").read_text()


# --- two builds at once ------------------------------------------------------------------------


def lock_is_held(build_dir: Path) -> bool:
    with (build_dir / ".lock").open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


@pytest.mark.integration
def test_concurrent_builds_wait_for_each_other(built: Path, tmp_path: Path) -> None:
    """A second build started during a first one says it waits, then both exit 0 and the outputs are whole."""
    root = fresh_copy(built, tmp_path)
    section = root / SECTION
    section.write_text(section.read_text() + "\n\nCONCURRENTMARKER closes the section.\n")
    first = subprocess.Popen(build_cmd(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=clean_env(), start_new_session=True)
    deadline = time.monotonic() + 60
    while not lock_is_held(root / "build") and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.poll() is None, "the first build ended before the second could start"
    second = subprocess.Popen(build_cmd(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=clean_env(), start_new_session=True)
    _, err1 = first.communicate(timeout=300)
    out2, err2 = second.communicate(timeout=300)
    assert (first.returncode, second.returncode) == (0, 0), err1[-2000:] + err2[-2000:]
    assert "another build of this project is running; waiting for it to finish" in out2
    assert "Traceback" not in err1 + err2
    assert_outputs_complete(root)
    assert temp_files(root) == []
    assert "CONCURRENTMARKER" in pdf_text(root / "build/paper.pdf")


# --- untrusted content: the attacks test_security.py does not try ----------------------------------


def tex_attacks(tag: str) -> str:
    """\\openout, \\catcode and ^^-notation attacks on one line (fits a YAML field, a BibTeX field, a paragraph)."""
    return (
        f"{tag}OSTART \\newwrite\\hw \\immediate\\openout\\hw=pwned-openout.tex \\immediate\\write\\hw{{x}} "
        f"\\immediate\\closeout\\hw {tag}OEND "
        f"{tag}CSTART \\catcode`\\|=0 |immediate|write18{{touch pwned-catcode}} |input{{/etc/hostname}} {tag}CEND "
        f"{tag}KSTART ^^5cinput{{/etc/hostname}} ^^5cimmediate^^5cwrite18{{touch pwned-caret}} {tag}KEND"
    )


# Where each Markdown tag's text ends up. (pandoc's BibTeX reader interprets a field's LaTeX instead of
# printing it, and drops a field holding `\\write` altogether, so BIBFIELD is checked only for effects.)
TEX_PLACES = {"NOTEBODY": ["annotated-bibliography"], "HOW": ["annotated-bibliography"], "SECTION": ["paper"]}


@pytest.fixture(scope="module")
def tex_attacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini fixture with TeX attacks in a note body, a note field, a BibTeX field and a section; built."""
    root = copy_mini(tmp_path_factory.mktemp("tex-attacked") / "mini")
    beta = root / "bib/notes/beta2016.md"
    beta.write_text(beta.read_text() + "\n" + tex_attacks("NOTEBODY") + "\n")

    def how(data: dict) -> None:  # type: ignore[type-arg]
        data["uses"]["alpha2018"][0]["how"] = tex_attacks("HOW")

    edit_front_matter(root / "bib/notes/gamma1999.md", how)
    edit(root / BIB, "title        = {What Do We Know?},",
         "title        = {What Do We Know? " + tex_attacks("BIBFIELD") + "},")
    section = root / SECTION
    section.write_text(section.read_text() + "\n\n" + tex_attacks("SECTION") + "\n")
    quiet_build(root)
    return root


@pytest.mark.integration
def test_openout_catcode_and_caret_tricks_write_nothing(tex_attacked: Path) -> None:
    """`\\openout`, `|write18` after `\\catcode`\\|=0` and `^^5cwrite18` create no file anywhere."""
    found = [str(p) for p in tex_attacked.parent.rglob("pwned*")] + [
        str(p) for p in Path.cwd().glob("pwned*")]
    assert found == []


@pytest.mark.integration
@pytest.mark.parametrize("name", ["paper.tex", "annotated-bibliography.tex"])
def test_openout_catcode_and_caret_reach_tex_escaped(tex_attacked: Path, name: str) -> None:
    """The .tex carries no live `\\openout`, `\\catcode`, `\\newwrite` or `^^` sequence from the inputs."""
    tex = (tex_attacked / "build" / name).read_text()
    assert [c for c in ("\\openout\\hw", "\\catcode`", "\\newwrite", "^^5c", "\\immediate") if c in tex] == []
    assert "OSTART" in tex


@pytest.mark.integration
@pytest.mark.parametrize(("tag", "doc"), [(t, d) for t, docs in TEX_PLACES.items() for d in docs])
def test_tex_tricks_print_as_text_in_pdf(tex_attacked: Path, tag: str, doc: str) -> None:
    """Each attack is in the PDF as its own text (the commands' names are visible), not executed."""
    text = flat(pdf_text(tex_attacked / "build" / f"{doc}.pdf")).lower()
    tag = tag.lower()
    spans = {k: re.findall(rf"{tag}{k}start(.*?){tag}{k}end", text) for k in "ock"}
    assert all(spans.values()), spans
    assert all("openout" in s for s in spans["o"])
    assert all("catcode" in s and "input" in s for s in spans["c"])
    assert all("input" in s for s in spans["k"])


@pytest.mark.integration
@pytest.mark.skipif(not HOSTNAME, reason="no /etc/hostname on this machine")
def test_tex_tricks_do_not_read_the_hostname(tex_attacked: Path) -> None:
    """Neither `|input` (after \\catcode) nor `^^5cinput` brings /etc/hostname's text into a PDF."""
    word = re.compile(rf"(?<!\w){re.escape(HOSTNAME)}(?!\w)", re.IGNORECASE)
    sources = "".join(p.read_text(errors="replace") for p in tex_attacked.rglob("*")
                      if p.is_file() and "build" not in p.relative_to(tex_attacked).parts)
    allowed = len(word.findall(sources))
    found = {d: len(word.findall(pdf_text(tex_attacked / "build" / f"{d}.pdf")))
             for d in ("paper", "annotated-bibliography")}
    assert {d: n for d, n in found.items() if n > allowed} == {}


# Links and images that citeproc makes from BibTeX fields never pass the safety filter (it runs before citeproc).

@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outside-secret") / "secret.txt"
    path.write_text(f"SECRET-{os.urandom(8).hex()}\n")
    return path


@pytest.fixture(scope="module")
def bib_links(tmp_path_factory: pytest.TempPathFactory, secret: Path) -> Path:
    """BibTeX fields: a javascript: URL, `\\href{javascript:…}`, `\\includegraphics{/outside}`; HTML, DOCX, TeX."""
    root = copy_mini(tmp_path_factory.mktemp("bib-links") / "mini")
    edit(root / BIB, "title        = {What Do We Know?},",
         f"title        = {{What Do We Know? \\href{{javascript:alert(1)}}{{JSLINK}} "
         f"\\includegraphics{{{secret}}}}},\n  url          = {{javascript://example.org/%0Aalert(2)}},")
    quiet_build(root, BuildOptions(formats=("html", "docx", "latex")))
    return root


def javascript_targets(root: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name in ("paper.html", "annotated-bibliography.html"):
        hrefs = re.findall(r'href="([^"]*)"', (root / "build" / name).read_text())
        found[name] = [h for h in hrefs if h.strip().lower().startswith("javascript:")]
    with zipfile.ZipFile(root / "build/paper.docx") as z:
        rels = z.read("word/_rels/document.xml.rels").decode()
    found["paper.docx"] = [t for t in re.findall(r'Target="([^"]*)"', rels) if t.lower().startswith("javascript:")]
    found["paper.tex"] = re.findall(r"\\href\{(javascript:[^}]*)\}", (root / "build/paper.tex").read_text())
    return {k: v for k, v in found.items() if v}


@pytest.mark.integration
def test_bibtex_fields_plant_no_javascript_links(bib_links: Path) -> None:
    """No href, DOCX relationship or \\href made from a BibTeX field uses the javascript: scheme."""
    assert javascript_targets(bib_links) == {}


@pytest.mark.integration
def test_bibtex_includegraphics_embeds_no_outside_file(bib_links: Path, secret: Path) -> None:
    """An outside file named in a BibTeX field is neither embedded in HTML or DOCX nor included by the .tex."""
    raw = secret.read_bytes()
    leaks = []
    for name in ("paper.html", "annotated-bibliography.html"):
        if base64.b64encode(raw).decode() in (bib_links / "build" / name).read_text():
            leaks.append(name)
    with zipfile.ZipFile(bib_links / "build/paper.docx") as z:
        leaks += [f"paper.docx:{n}" for n in z.namelist() if z.read(n) == raw]
    if re.search(r"\\includegraphics(\[[^\]]*\])?\{" + re.escape(str(secret)) + r"\}",
                 (bib_links / "build/paper.tex").read_text()):
        leaks.append("paper.tex")
    assert leaks == []


# --- TeX's own sandbox ---------------------------------------------------------------------------


def test_latexmk_runs_without_shell_escape_in_paranoid_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """render.latexmk passes -no-shell-escape and never enables write18; its environment is openin/openout `p`."""
    seen: dict[str, object] = {}

    def fake_run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        seen["cmd"], seen["env"] = cmd, kw["env"]
        (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.5\n")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(render, "run_limited", fake_run)
    (tmp_path / "doc.tex").write_text("x")
    monkeypatch.setenv("shell_escape", "t")  # whatever the caller's environment says
    monkeypatch.setenv("openin_any", "a")
    render.latexmk(tmp_path / "doc.tex", "xelatex", {"openout_any": "a"})
    cmd, env = seen["cmd"], seen["env"]
    assert isinstance(cmd, list) and isinstance(env, dict)
    assert cmd[0] == "latexmk" and "-latexoption=-no-shell-escape" in cmd
    assert [a for a in cmd if ("shell-escape" in a and "no-shell-escape" not in a) or "write18" in a
            or "shell-restricted" in a] == []
    assert (env["openin_any"], env["openout_any"], env["shell_escape"]) == ("p", "p", "f")


PROBE = r"""\documentclass{article}
\begin{document}
\newread\probe
\openin\probe=@SECRETPATH@
\ifeof\probe SECRETNOTREAD\else SECRETREAD: \read\probe to\line\line\fi

\openin\probe=/etc/hostname
\ifeof\probe HOSTNAMENOTREAD\else HOSTNAMEREAD: \read\probe to\line\line\fi
\immediate\write18{touch pwned}
\end{document}
"""


@pytest.mark.integration
def test_tex_cannot_read_outside_files_or_run_commands(tmp_path: Path, secret: Path) -> None:
    """A TeX file run by render.latexmk cannot read /etc/hostname or an outside file, and write18 does nothing."""
    work = tmp_path / "work"
    work.mkdir()
    tex = work / "probe.tex"
    tex.write_text(PROBE.replace("@SECRETPATH@", str(secret)))
    pdf = render.latexmk(tex, "xelatex", {})
    text = flat(pdf_text(pdf))
    assert "SECRETNOTREAD" in text and "HOSTNAMENOTREAD" in text
    assert secret.read_text().strip() not in text
    assert sorted(str(p) for p in tmp_path.rglob("pwned")) == [] and not (Path.cwd() / "pwned").exists()
    log = tex.with_suffix(".log").read_text()
    assert "runsystem(touch pwned)...disabled" in log
    assert "write18 enabled" not in log
    # Control: the same probe with reading allowed does read the outside file, so the probe itself works.
    control = tmp_path / "control"
    control.mkdir()
    (control / "probe.tex").write_text(tex.read_text())
    subprocess.run(["latexmk", "-xelatex", "-interaction=nonstopmode", "-quiet", "probe.tex"], cwd=control,
                   env={**render.tex_env({}), "openin_any": "a"}, capture_output=True, check=False, timeout=300)
    assert secret.read_text().strip() in flat(pdf_text(control / "probe.pdf"))


@pytest.mark.integration
@pytest.mark.parametrize("body", [r"\input{/etc/hostname}",
                                  r"\newwrite\w\immediate\openout\w=../escaped.txt\immediate\write\w{x}"],
                         ids=["input-absolute", "openout-parent"])
def test_tex_file_access_outside_is_a_clean_latex_error(tmp_path: Path, body: str) -> None:
    """`\\input{/etc/hostname}` or `\\openout` to ../ stops LaTeX with a BuildFailed quoting the log; nothing leaks."""
    work = tmp_path / "work"
    work.mkdir()
    tex = work / "doc.tex"
    tex.write_text("\\documentclass{article}\n\\begin{document}\n" + body + "\nx\n\\end{document}\n")
    with pytest.raises(BuildFailed) as info:
        render.latexmk(tex, "xelatex", {})
    message = info.value.render()
    assert message.startswith(f"{work / 'doc.log'}: error latex: LaTeX failed; relevant log lines:")
    assert ("File `/etc/hostname.tex' not found" in message) or ("I can't write on file `../escaped.txt'" in message)
    assert not (tmp_path / "escaped.txt").exists()
    assert not (work / "doc.pdf").exists()
