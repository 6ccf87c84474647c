"""Hardening, round two (issue 11): denial of service, wrong results that look right, and the small tasks.

Every case runs the real command (`python -m scholarly_build --root DIR …` in a subprocess) on a
copy of the mini fixture, and each class has at least one variant besides the issue's example.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from scholarly_build.building.reproducible import copy_project

from .conftest import copy_mini

pytestmark = pytest.mark.integration

BIB = "bib/references.bib"
SETTINGS = "manuscript/paper.yaml"
INTRO = "manuscript/sections/01-intro.md"
BODY = "manuscript/sections/02-body.md"


def cli(root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> tuple[int, str]:
    """Run the command line; return (exit code, stdout + stderr) and make sure it did not crash."""
    base = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "COLUMNS", "LINES")}
    proc = subprocess.run(
        [sys.executable, "-m", "scholarly_build", "--root", str(root), *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=timeout,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    return proc.returncode, out


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def settings(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((root / SETTINGS).read_text())
    return data


def write_settings(root: Path, data: dict[str, Any]) -> None:
    (root / SETTINGS).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def entry(key: str, extra: str = "") -> str:
    fields = "  author = {Doe, Jane},\n  title = {T},\n  publisher = {P},\n  date = {2000},\n"
    return f"\n@book{{{key},\n{fields}{extra}}}\n"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    return copy_mini(tmp_path / "mini")


# --- Denial of service ------------------------------------------------------------------------


def test_check_reports_crossref_and_xdata_cycles(mini: Path) -> None:
    """A→B→A by crossref (the issue's example), an entry naming itself in xdata, and a three-step
    cycle mixing crossref and xref: each is an error at the linking field's line, and the build stops."""
    bib = mini / BIB
    append(bib, entry("cycA", "  crossref = {cycB},\n") + entry("cycB", "  crossref = {cycA},\n"))
    append(bib, entry("selfref", "  xdata = {gamma1999, selfref},\n"))
    append(
        bib,
        entry("triA", "  xref = {triB},\n")
        + entry("triB", "  crossref = {triC},\n")
        + entry("triC", "  xref = {triA},\n"),
    )
    code, out = cli(mini, "check")
    assert code == 1
    cycle_lines = [line for line in out.splitlines() if "reference-cycle" in line]
    assert len(cycle_lines) == 3, out
    where = {
        needle: f"{BIB}:{line_of(bib, needle)}: error reference-cycle: entry "
        for needle in ("crossref = {cycB}", "xdata = {gamma1999, selfref}", "xref = {triB}")
    }
    assert where["crossref = {cycB}"] + "'cycA': `crossref` is part of a cycle: cycA → cycB → cycA" in out
    assert where["xdata = {gamma1999, selfref}"] + "'selfref': `xdata` names itself" in out
    assert where["xref = {triB}"] + "'triA': `xref` is part of a cycle: triA → triB → triC → triA" in out
    assert "hint: an entry may inherit from another" in out
    code, out = cli(mini, "build", "--formats", "html", timeout=120)
    assert code == 1 and "reference-cycle" in out and not (mini / "build" / "paper.html").exists()


def _hanging_figure(mini: Path, body: str) -> None:
    (mini / "figures" / "hang.py").write_text(body)
    data = settings(mini)
    data["figures"] = [{"id": "bars", "script": "figures/hang.py", "data": "figures/data/bars.csv"}]
    write_settings(mini, data)


def test_hanging_figure_script_is_killed_with_its_process_group(mini: Path, tmp_path: Path) -> None:
    """At the time limit the script and its children (a grandchild too) are gone; a clear error, exit 1."""
    pids = tmp_path / "pids"
    _hanging_figure(
        mini,
        f"""import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
    "p = subprocess.Popen(['sleep', '300']); open({str(pids)!r} + '.grand', 'w').write(str(p.pid)); time.sleep(300)"])
with open({str(pids)!r}, "w") as fh:
    fh.write(f"{{os.getpid()}} {{child.pid}}")
time.sleep(300)
""",
    )
    start = time.monotonic()
    code, out = cli(mini, "build", "--formats", "none", env={"SCHOLARLY_BUILD_TIME_LIMIT_S": "4"}, timeout=60)
    assert time.monotonic() - start < 40
    assert code == 1
    assert re.search(
        r"^figures/hang\.py: error limit: figure 'bars': the figure script exceeded its time limit of 4 s", out, re.M
    ), out
    assert "hint: look for a runaway input" in out and "SCHOLARLY_BUILD_TIME_LIMIT_S" in out
    time.sleep(0.5)
    alive = [int(p) for p in [*pids.read_text().split(), (tmp_path / "pids.grand").read_text()]]
    for pid in alive:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2], pid


def test_a_figure_script_that_exits_leaves_no_children(mini: Path, tmp_path: Path) -> None:
    """Variant: the script finishes but leaves a background child running; the group is stopped."""
    pid_file = tmp_path / "bg"
    original = (mini / "figures" / "bars.py").read_text()
    _hanging_figure(
        mini,
        f"""import subprocess
p = subprocess.Popen(["sleep", "300"])
open({str(pid_file)!r}, "w").write(str(p.pid))
"""
        + original,
    )
    code, out = cli(mini, "build", "--formats", "none", timeout=120)
    assert code == 0, out
    time.sleep(0.5)
    pid = int(pid_file.read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_memory_limit_ends_tools_with_a_clear_error(mini: Path) -> None:
    """A figure script that allocates past the limit, and pandoc under a limit too small for it."""
    _hanging_figure(mini, "data = bytearray(2 * 1024 ** 3)\n")
    code, out = cli(mini, "build", "--formats", "none", env={"SCHOLARLY_BUILD_MEMORY_LIMIT_MB": "300"}, timeout=120)
    assert code == 1
    assert "figures/hang.py: error limit: figure 'bars': the figure script exceeded its memory limit of 300 MiB" in out
    assert "SCHOLARLY_BUILD_MEMORY_LIMIT_MB" in out
    # pandoc (the check parses the sections, or the assembled paper, with it) under 60 MiB;
    # the scans are cached by content, so the cache the build above left is removed first.
    shutil.rmtree(mini / "build" / ".cache", ignore_errors=True)
    code, out = cli(mini, "check", env={"SCHOLARLY_BUILD_MEMORY_LIMIT_MB": "60"}, timeout=120)
    assert code == 1
    assert re.search(r"^\S+:1: error parse: .*pandoc exceeded its memory limit of 60 MiB", out, re.M), out
    assert out.count("hint: look for a runaway input") >= 1


def test_pandoc_and_latex_run_with_a_time_limit(mini: Path) -> None:
    """A 3 s limit: pandoc's parses and renders fit, XeLaTeX does not; the whole latexmk group is stopped,
    the build says which tool and limit, and (the paper's PDF having failed) none of its outputs is installed.

    The paper gets a 12,000-line code block first: the mini paper alone now takes XeLaTeX less than 3 s
    (two passes of about 0.5 s), while 209 pages of verbatim keep it busy about 10 s (measured); for pandoc the block
    is one node, so its parses and renders stay short."""
    lines = "\n".join(f"line {n} of a long listing that only TeX has to set, page after page" for n in range(12000))
    intro = mini / INTRO
    intro.write_text(intro.read_text() + f"\n\n```\n{lines}\n```\n")
    code, out = cli(mini, "build", "--formats", "none")
    assert code == 0, out  # the figure is made, and the check's parses cached
    code, out = cli(mini, "build", "--formats", "html,pdf", env={"SCHOLARLY_BUILD_TIME_LIMIT_S": "3"}, timeout=120)
    assert code == 1
    assert re.search(r"error limit: (pandoc|LaTeX \(latexmk, TeX and biber\)) exceeded its time limit of 3 s", out), out
    assert "hint: look for a runaway input" in out
    # The paper's XeLaTeX takes longer than 3 s (the short bibliography fits, under load maybe not).
    assert not (mini / "build" / "paper.html").exists() and not (mini / "build" / "paper.pdf").exists()
    assert "paper: no output was replaced" in out
    time.sleep(0.5)
    leftover = subprocess.run(["pgrep", "-f", f"{mini}/build/.work"], capture_output=True, text=True, check=False)
    assert leftover.stdout == "", leftover.stdout


@pytest.mark.parametrize(
    ("rel", "size", "limit"),
    [
        (INTRO, 3 * 1024 * 1024, "2 MiB for a manuscript file"),  # the issue: a huge section
        ("bib/notes/gamma1999.md", 300 * 1024, "256 KiB for a note"),  # variant: a huge note
    ],
)
def test_size_limits_are_clear_errors(mini: Path, rel: str, size: int, limit: str) -> None:
    path = mini / rel
    text = path.read_text()
    path.write_text(text + ("\n\nPadding words for the limit. " * (size // 28)))
    start = time.monotonic()
    code, out = cli(mini, "check", timeout=120)
    assert time.monotonic() - start < 30
    assert code == 1
    assert re.search(
        rf"^{re.escape(rel)}:1: error file-too-large: file is \d+ (MiB|KiB); the limit is {limit}$", out, re.M
    ), out
    assert "docs/settings.md" in out
    docs = (Path(__file__).resolve().parents[1] / "docs" / "settings.md").read_text()
    assert limit.split(" for ")[0] in docs


# --- Wrong results that look right ------------------------------------------------------------


def test_renaming_a_figure_id_re_renders(mini: Path) -> None:
    """The issue: renaming the id leaves the paper 'up to date'. Variant: rename it back, and change
    the cross-reference prefixes (they change how the paper is rendered, too)."""
    code, out = cli(mini, "build", "--formats", "html", "--documents", "paper", timeout=120)
    assert code == 0, out
    first = sha(mini / "build" / "paper.html")
    data = settings(mini)
    data["figures"][0]["id"] = "bars2"
    write_settings(mini, data)
    # The id alone (the issue): the section still names bars.png, which the build no longer makes.
    code, out = cli(mini, "build", "--formats", "html", "--documents", "paper", timeout=120)
    assert code == 0, out
    assert "paper.html (" in out and "paper.html is up to date" not in out
    assert "[image not included: bars.png]" in (mini / "build" / "paper.html").read_text()
    edit(mini / BODY, "(bars.png)", "(bars2.png)")
    code, out = cli(mini, "build", "--formats", "html", "--documents", "paper", timeout=120)
    assert code == 0, out
    assert (
        '<img role="img" aria-label="Shares reported by Beta, in per cent." src="data:image/png'
        in (mini / "build" / "paper.html").read_text()
    )
    data["figures"][0]["id"] = "bars"
    write_settings(mini, data)
    edit(mini / BODY, "(bars2.png)", "(bars.png)")
    code, out = cli(mini, "build", "--formats", "html", "--documents", "paper", timeout=120)
    assert code == 0 and "paper.html (" in out, out
    assert sha(mini / "build" / "paper.html") == first
    data["crossref_prefixes"] = ["fig:", "eq:", "sec:"]
    write_settings(mini, data)
    code, out = cli(mini, "build", "--formats", "html", "--documents", "paper", timeout=120)
    assert "paper.html is up to date" not in out, out


def test_switching_citation_modes_needs_no_clean(mini: Path) -> None:
    """citeproc → biblatex → citeproc without `clean`, then both modes at once (two processes)."""
    for mode in ("citeproc", "biblatex", "citeproc"):
        code, out = cli(mini, "build", "--formats", "pdf", "--documents", "paper", "--citations", mode)
        assert code == 0, (mode, out)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scholarly_build",
                "--root",
                str(mini),
                "build",
                "--formats",
                "pdf",
                "--documents",
                "bibliography",
                "--citations",
                mode,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for mode in ("biblatex", "citeproc")
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
    assert (mini / "build" / ".work" / "paper-latex").is_dir()
    assert (mini / "build" / ".work" / "paper-latex-biblatex").is_dir()


def test_failed_pdf_replaces_no_output_of_its_document_and_manifest_tells(mini: Path) -> None:
    """A LaTeX-only failure after changed inputs: the HTML/DOCX/TeX/PDF stay the previous ones together,
    and manifest.json names them out of date while its hashes match the files."""
    code, out = cli(mini, "build")
    assert code == 0, out
    build = mini / "build"
    before = {p.name: sha(p) for p in build.iterdir() if p.suffix in (".pdf", ".html", ".tex", ".docx")}
    append(mini / BODY, "\nA new sentence that changes every paper output.\n")
    # The LaTeX template (code, not data) now breaks TeX for both documents.
    edit(
        mini / "templates" / "latex" / "template.tex",
        "\\begin{document}",
        "\\begin{document}\n\\undefinedcontrolsequence",
    )
    code, out = cli(mini, "build")
    assert code == 1
    assert "error latex" in out and "paper: no output was replaced" in out
    after = {p.name: sha(p) for p in build.iterdir() if p.suffix in (".pdf", ".html", ".tex", ".docx")}
    assert after == before
    manifest = json.loads((build / "manifest.json").read_text())
    assert {n: d for n, d in manifest["outputs"].items() if n in before} == before
    assert {"paper.html", "paper.docx", "paper.pdf", "paper.tex"} <= set(manifest["out_of_date"])
    # Variant: the template fixed, everything renders and the manifest stops saying "out of date".
    edit(mini / "templates" / "latex" / "template.tex", "\n\\undefinedcontrolsequence", "")
    code, out = cli(mini, "build")
    assert code == 0, out
    manifest = json.loads((build / "manifest.json").read_text())
    assert "out_of_date" not in manifest
    assert manifest["outputs"]["paper.html"] == sha(build / "paper.html") != before["paper.html"]


def test_check_sees_citations_wherever_pandoc_renders_them(mini: Path) -> None:
    """Undefined keys in a heading, a line block, a definition-list term, a note's body and its
    `uses.how` (the issue), plus a table caption, a footnote, an image caption and a table cell."""
    append(
        mini / INTRO,
        "\n## A heading citing @nohead\n\n| a line block citing @noline\n| second line\n\n"
        "Term citing @noterm\n:   its definition\n\n| a |\n|---|\n| @nocell |\n\n"
        ": a caption citing @nocaption\n\nText.^[A footnote citing @nofoot.]\n\n"
        "![An image citing @noimage](bars.png)\n",
    )
    note = mini / "bib" / "notes" / "beta2016.md"
    edit(note, "uses: {}", 'uses:\n  alpha2018:\n    - locator: "p. 3"\n      how: "builds on @nohow"')
    append(note, "\nThe body cites [@nobody, p. 4] too.\n")
    code, out = cli(mini, "check")
    assert code == 1
    for key in ("nohead", "noline", "noterm", "nocell", "nocaption", "nofoot", "noimage"):
        assert re.search(
            rf"^{INTRO}:{line_of(mini / INTRO, '@' + key)}:\d+: error undefined-citation: citation key "
            rf"'{key}'",
            out,
            re.M,
        ), (key, out)
    assert re.search(
        rf"^bib/notes/beta2016.md:{line_of(note, '@nobody')}: error undefined-citation: citation key "
        "'nobody'",
        out,
        re.M,
    ), out
    how_line = line_of(note, "- locator:")
    assert re.search(
        rf"^bib/notes/beta2016.md:{how_line}: error undefined-citation: "
        "citation key 'nohow'",
        out,
        re.M,
    ), out


def test_check_sees_citations_in_rendered_settings(mini: Path) -> None:
    """Variant: the abstract in paper.yaml is rendered as Markdown, so its citations are checked too."""
    data = settings(mini)
    data["abstract"] = "An abstract that cites @noabstract and [@alpha2018]."
    write_settings(mini, data)
    code, out = cli(mini, "check")
    assert code == 1
    assert f"{SETTINGS}:{line_of(mini / SETTINGS, '@noabstract')}: error undefined-citation: the settings cite " in out


def test_reserved_ids_and_locators_cannot_hijack_citations(mini: Path) -> None:
    """`{#ref-KEY}` on a span and a heading, `::: {#refs}`, a heading whose automatic id is `refs`, and
    the same in a note body; a claim locator with `]` or `@` cannot leave the generated citation."""
    append(mini / INTRO, "\n[x]{#ref-alpha2018}\n\n## Taken {#ref-beta2016}\n\n::: {#refs}\n:::\n")
    append(mini / BODY, "\n# Refs\n\nA heading's automatic identifier.\n")
    note = mini / "bib" / "notes" / "alpha2018.md"
    edit(note, 'locator: "sec. Regimes"', 'locator: "sec. Regimes] [@gamma1999"')
    append(note, "\n[hijack]{#ref-gamma1999}\n")
    code, out = cli(mini, "check")
    assert code == 1
    for ident, needle in (
        ("ref-alpha2018", "{#ref-alpha2018}"),
        ("ref-beta2016", "{#ref-beta2016}"),
        ("refs", "::: {#refs}"),
    ):
        assert re.search(
            rf"^{INTRO}:{line_of(mini / INTRO, needle)}:\d+: error reserved-id: the identifier "
            rf"'{ident}' is reserved",
            out,
            re.M,
        ), (ident, out)
    assert f"{BODY}:{line_of(mini / BODY, '# Refs')}: error reserved-id: the identifier 'refs'" in out
    assert re.search(
        rf"^bib/notes/alpha2018.md:{line_of(note, '#ref-gamma1999')}:\d+: error reserved-id: the "
        "identifier 'ref-gamma1999'",
        out,
        re.M,
    ), out
    assert (
        f"bib/notes/alpha2018.md:{line_of(note, 'sec. Regimes]')}: error note-schema: bad locator "
        "'sec. Regimes] [@gamma1999'"
    ) in out
    # Variant: a `;` would start a second citation in the group.
    edit(note, 'locator: "sec. Regimes] [@gamma1999"', 'locator: "p. 3; -@beta2016"')
    code, out = cli(mini, "check")
    assert "bad locator 'p. 3; -@beta2016'" in out


def test_reserved_ids_in_generated_blocks_are_reported(mini: Path) -> None:
    """Variant: a claim's stance lands in the comparison table of the assembled paper; `ref-KEY` there and a
    second `refs` are reported against the assembled file, with a hint naming the notes' claims."""
    note = mini / "bib" / "notes" / "beta2016.md"
    edit(note, 'stance: "Personalist regime (beta2016)"', 'stance: "Personalist [regime]{#ref-alpha2018} [x]{#refs}"')
    code, out = cli(mini, "check")
    assert code == 1
    found = re.findall(
        r"^build/assembled/paper\.md:\d+:\d+: error reserved-id: the assembled paper has the "
        r"identifier '([^']+)'",
        out,
        re.M,
    )
    assert sorted(found) == ["ref-alpha2018", "refs"], out
    assert "hint: a note's claim or stance" in out


def _body_font_size(pdf: Path) -> float:
    from pypdf import PdfReader

    sizes: Counter[float] = Counter()

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if text.strip():
            sizes[round(size * tm[3] * cm[3], 2)] += len(text)

    for page in PdfReader(str(pdf)).pages:
        page.extract_text(visitor_text=visit)
    return sizes.most_common(1)[0][0]


def test_fontsize_reaches_the_pdf(mini: Path) -> None:
    """10pt (default), 11pt (the issue) and 12pt (variant), read back from the PDF's text matrix."""
    seen = {}
    for size in (None, "11pt", "12pt"):
        data = settings(mini)
        if size:
            data["fontsize"] = size
        write_settings(mini, data)
        code, out = cli(mini, "build", "--formats", "pdf", "--documents", "paper")
        assert code == 0, out
        seen[size] = _body_font_size(mini / "build" / "paper.pdf")
    # LaTeX's 10pt/11pt/12pt are 10, 10.95 and 12 pt; the font's design sizes round them a little.
    assert seen[None] == pytest.approx(10, abs=0.1)
    assert seen["11pt"] == pytest.approx(10.95, abs=0.1)
    assert seen["12pt"] == pytest.approx(12, abs=0.1)
    data["fontsize"] = "14pt"
    write_settings(mini, data)
    code, out = cli(mini, "check")
    assert (
        code == 1
        and f"{SETTINGS}:{line_of(mini / SETTINGS, 'fontsize')}: error settings: unknown fontsize '14pt'" in out
    )


def test_lone_cr_bib_and_utf16_inputs_lose_no_citation_silently(mini: Path) -> None:
    """A lone-CR .bib is read as lines (check and build agree); a UTF-16 section without BOM, and a
    UTF-16 note with BOM (variant), are clear errors, not empty files."""
    bib = mini / BIB
    # With a `%` comment line (as real .bib files have): pandoc's reader took the rest of the file for the comment.
    text = "% The works the paper compares.\n" + bib.read_text()
    bib.write_bytes(text.replace("\n", "\r").encode())
    code, out = cli(mini, "check")
    assert code == 0, out
    code, out = cli(mini, "build", "--formats", "html", timeout=120)
    assert code == 0, out
    html = (mini / "build" / "paper.html").read_text()
    assert "Gamma" in html and "gamma1999?" not in html and "???" not in html
    intro = mini / INTRO
    intro.write_bytes(intro.read_text().encode("utf-16-le"))
    note = mini / "bib" / "notes" / "gamma1999.md"
    note.write_bytes(note.read_text().encode("utf-16"))
    code, out = cli(mini, "check")
    assert code == 1
    assert f"{INTRO}:1: error encoding: file is UTF-16" in out
    assert "bib/notes/gamma1999.md:1: error encoding: file is UTF-16" in out
    assert "iconv -f utf-16 -t utf-8" in out


# --- Also -------------------------------------------------------------------------------------


def test_clean_takes_the_build_lock(mini: Path, tmp_path: Path) -> None:
    """`clean` during a build fails and removes nothing; after it, it removes build/. Variant: links in build/
    are removed as links, their outside targets left alone; a build/ that is itself a link is refused with a
    message (test_hardening_escapes), its target untouched."""
    (mini / "build" / "figures").mkdir(parents=True)
    (mini / "build" / "figures" / "x.png").write_bytes(b"png")
    with (mini / "build" / ".lock").open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        code, out = cli(mini, "clean")
        assert code == 1 and "another build of this project is running" in out
        assert (mini / "build" / "figures" / "x.png").is_file()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("KEEP")
    (mini / "build" / "cache").symlink_to(outside)
    code, out = cli(mini, "clean")
    assert code == 0 and not (mini / "build").exists(), out
    assert (outside / "keep.txt").read_text() == "KEEP"
    (mini / "build").symlink_to(outside)
    code, out = cli(mini, "clean")
    assert code == 1 and "build/ is a symbolic link" in out, out
    assert (outside / "keep.txt").read_text() == "KEEP"


def test_serve_stays_inside_build_and_hides_dot_folders(mini: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "secret.txt").write_text("SECRET-OUTSIDE")
    build = mini / "build"
    (build / ".work").mkdir(parents=True)
    (build / ".work" / "paper.log").write_text("LOG")
    (build / "paper.html").write_text("<html>PAPER</html>")
    (build / "leak.txt").symlink_to(secret / "secret.txt")
    (build / "leakdir").symlink_to(secret)
    proc = subprocess.Popen(
        [sys.executable, "-m", "scholarly_build", "--root", str(mini), "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        base = re.search(r"http://[\d.]+:\d+/", first)
        assert base, first

        def get(path: str) -> tuple[int, str]:
            try:
                with urllib.request.urlopen(base.group(0) + path, timeout=10) as resp:  # noqa: S310 - http://127.0.0.1
                    return resp.status, resp.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, ""

        assert get("paper.html") == (200, "<html>PAPER</html>")
        for path in ("leak.txt", "leakdir/secret.txt", "leakdir/", ".work/paper.log", ".work/"):
            status, body = get(path)
            assert status == 404 and "SECRET" not in body and "LOG" not in body, path
        status, listing = get("")
        assert status == 200 and "paper.html" in listing
        assert ".work" not in listing and "leak" not in listing
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_verify_reproducible_copies_symlinks_as_symlinks(mini: Path, tmp_path: Path) -> None:
    """A section that is a symlink out of the project fails `build`; verify-reproducible must fail the same way
    (before, it copied the target's content and passed). Variant: a dangling symlink is kept as one."""
    outside = tmp_path / "elsewhere.md"
    outside.write_text((mini / BODY).read_text())
    (mini / BODY).unlink()
    (mini / BODY).symlink_to(outside)
    code, out = cli(mini, "build", "--formats", "html", timeout=120)
    assert code == 1 and "resolves outside the project" in out
    code, out = cli(mini, "verify-reproducible", timeout=300)
    assert code == 1 and "resolves outside the project" in out, out
    (mini / "figures" / "dangling").symlink_to(tmp_path / "nothing-here")
    dest = tmp_path / "copy"
    copy_project(mini, dest)
    assert (dest / BODY).is_symlink() and os.readlink(dest / BODY) == str(outside)
    assert (dest / "figures" / "dangling").is_symlink()
