"""Hardening, round two (issue 11): escapes, code execution, an untrusted build/, and tracebacks.

Every case runs the real command (`scholarly_build.cli.main`, or `python -m scholarly_build` in a
subprocess where the process boundary matters) against a fresh copy of the mini fixture, and checks
what an attacker would look for: files written or read outside the project, code that ran, and
the error (one `path: error code: message` line with a hint, exit 1, no traceback).
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pypandoc
import pytest

from scholarly_build import cli
from scholarly_build.building import build as build_module
from scholarly_build.core import pandoc, tools
from scholarly_build.core.problems import BuildFailed
from scholarly_build.inputs.bibliography import _CACHE_VERSION
from scholarly_build.rendering import render
from scholarly_build.rendering.biblatex_export import safe_tex

from .conftest import copy_mini

SRC = Path(__file__).resolve().parents[1] / "src" / "scholarly_build"
BIB = "bib/references.bib"
SETTINGS = "manuscript/paper.yaml"


# --- helpers ------------------------------------------------------------------------------------


def run(root: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """cli.main in-process -> (exit code, stdout, stderr)."""
    code = cli.main(["--root", str(root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_subprocess(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "scholarly_build", "--root", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def assert_clean_error(code: int, err: str, *fragments: str) -> None:
    """Exit 1, no traceback, a `path: error …` line, a hint, and every fragment in the message."""
    assert code == 1, err
    assert "Traceback" not in err, err
    assert re.search(r"^\S[^\n]*: error [\w-]+: ", err, re.M), err
    assert "hint:" in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, path)
    path.write_text(text.replace(old, new, 1))


def settings_line(root: Path, needle: str) -> int:
    lines = (root / SETTINGS).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_mini(tmp_path / "mini")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the project; nothing may appear in it or change in it."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "precious.csv").write_text("keep me\n")
    (path / "precious.pdf").write_text("keep me too\n")
    return path


def outside_state(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): p.read_text(errors="replace") for p in sorted(path.rglob("*")) if p.is_file()}


# --- biblatex + biber: the .bib is regenerated with TeX made safe ---------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (r"\immediate\openout15=biber.conf", r"\textbackslash{}immediate\textbackslash{}openout15=biber.conf"),
        (r"\directlua{io.open('/etc/passwd')}", r"\textbackslash{}directlua{io.open('/etc/passwd')}"),
        ("^^5cinput{/etc/hostname}", r"\textasciicircum{}\textasciicircum{}5cinput{/etc/hostname}"),
        (r"\\input{x}", r"\textbackslash{}\textbackslash{}input{x}"),
        (r"\csname input\endcsname", r"\textbackslash{}csname input\textbackslash{}endcsname"),
        ("100% and # and $x$", r"100\% and \# and \$x\$"),
        ("a } b {", r"a \} b \{"),
        ("trailing \\", r"trailing \textbackslash{}"),
    ],
    ids=["openout", "directlua", "caret", "double-backslash", "csname", "specials", "unbalanced", "trailing"],
)
def test_safe_tex_prints_every_command_it_does_not_know(value: str, expected: str) -> None:
    """Unknown control sequences, `^^`, `%`, `#`, `$` and unbalanced braces reach biblatex as printed text."""
    assert safe_tex(value) == expected


def test_safe_tex_keeps_text_macros() -> None:
    """Accents, emphasis, dashes and escaped specials stay TeX."""
    text = r"Caf\'{e} M\"uller \emph{Know} \textbf{x} \& \% {\i} \ss{} 1--2 \textendash{} \o"
    assert safe_tex(text) == text


BIBER_CONF_ATTACK = (
    r"\immediate\openout15=biber.conf\immediate\write15{<config><output_file>@OUT@/x.bbl</output_file>"
    r"</config>}\immediate\closeout15"
)


@pytest.mark.integration
def test_biblatex_field_writes_no_biber_conf_and_biber_writes_nothing_outside(project: Path, outside: Path) -> None:
    """The issue's attack: a .bib field that writes biber.conf. It prints as text; biber writes only in build/."""
    before = outside_state(outside)
    edit(
        project / BIB,
        "title        = {What Do We Know?},",
        "title        = {What Do We Know? " + BIBER_CONF_ATTACK.replace("@OUT@", str(outside)) + "},",
    )
    proc = run_subprocess(project, "build", "--citations", "biblatex", "--documents", "paper", "--formats", "latex,pdf")
    assert proc.returncode == 0, proc.stderr
    assert outside_state(outside) == before
    assert list((project / "build").rglob("biber.conf")) == []
    exported = (project / "build/biblatex/references-annotated.bib").read_text()
    assert r"\textbackslash{}immediate\textbackslash{}openout15=biber.conf" in exported
    assert "openout15=biber.conf" in re.sub(r"\s+", "", pdf_text(project / "build/paper.pdf"))


@pytest.mark.integration
def test_stale_biber_conf_in_work_folder_is_not_read(project: Path, outside: Path) -> None:
    """Variant: a biber.conf (and a latexmkrc) left in build/.work/ by an earlier run or a commit are never read."""
    before = outside_state(outside)
    work = project / "build/.work/paper-latex-biblatex"  # the biblatex mode's own work folder
    work.mkdir(parents=True)
    (work / "biber.conf").write_text(f"<config><output_file>{outside}/stale.bbl</output_file></config>\n")
    (work / "latexmkrc").write_text(f"system('touch {outside}/latexmkrc-ran');\n")
    proc = run_subprocess(project, "build", "--citations", "biblatex", "--documents", "paper", "--formats", "latex,pdf")
    assert proc.returncode == 0, proc.stderr
    assert outside_state(outside) == before
    assert not (work / "biber.conf").exists() and not (work / "latexmkrc").exists()


def test_biber_reads_no_config_and_latexmk_no_rc() -> None:
    """The command line itself: biber --noconf, latexmk -norc, LuaLaTeX in the sandbox without sockets."""
    for engine in ("xelatex", "lualatex"):
        cmd = render.latexmk_command("paper.tex", engine)
        assert "-norc" in cmd
        assert any("biber --noconf" in a for a in cmd)
    lua = render.latexmk_command("paper.tex", "lualatex")
    assert "-latexoption=--nosocket" in lua
    assert any(a.startswith("-usepretex=") and render.LUA_SANDBOX_NAME in a for a in lua)


# --- LuaLaTeX: Lua cannot touch files outside or run processes -------------------------------------

LUA_PROBE = r"""\documentclass{article}
\begin{document}
\directlua{local f = io.open("/etc/passwd", "r"); tex.print(f and "PASSWDREAD" or "PASSWDNOTREAD")}
\directlua{local f = io.open("@SECRET@"); tex.print(f and ("SECRETREAD" .. f:read("*l")) or "SECRETNOTREAD")}
\directlua{local f = io.open("../../../../../../../etc/passwd"); tex.print(f and "DOTDOTREAD" or "DOTDOTNOTREAD")}
\directlua{local f = io.open("@OUT@/lua-wrote.txt", "w"); if f then f:write("x") f:close() end
  tex.print(f and "OUTWROTE" or "OUTNOTWRITTEN")}
\directlua{local ok, v = pcall(function() return debug.getupvalue(io.open, 1) end)
  tex.print((ok and v) and "UPVALUE" or "NOUPVALUE")}
\directlua{local ok = pcall(os.execute, "touch @OUT@/executed"); os.rename("x", "@OUT@/renamed")
  tex.print(pcall(io.popen, "id") and "POPENCALLED" or "POPENFAILED")}
\directlua{local f = io.open("inside.txt", "w"); tex.print(f and "INSIDEWROTE" or "INSIDENOTWRITTEN")
  if f then f:close() end}
Done.
\end{document}
"""


@pytest.mark.integration
def test_lualatex_lua_cannot_read_or_write_outside(tmp_path: Path, outside: Path) -> None:
    """\\directlua io.open cannot read /etc/passwd or an outside file, nor write outside; it can write here."""
    secret = outside / "secret.txt"
    secret.write_text("SECRETTOKEN42\n")
    work = tmp_path / "work"
    work.mkdir()
    tex = work / "probe.tex"
    tex.write_text(LUA_PROBE.replace("@SECRET@", str(secret)).replace("@OUT@", str(outside)))
    pdf = render.latexmk(tex, "lualatex", {})
    text = re.sub(r"\s+", " ", pdf_text(pdf))
    for word in ("PASSWDNOTREAD", "SECRETNOTREAD", "DOTDOTNOTREAD", "OUTNOTWRITTEN", "NOUPVALUE", "INSIDEWROTE"):
        assert word in text, (word, text)
    assert "root:x:0:0" not in text and "SECRETTOKEN42" not in text
    assert sorted(p.name for p in outside.iterdir()) == ["precious.csv", "precious.pdf", "secret.txt"]
    # Control: without the sandbox the same probe does read /etc/passwd, so the probe itself works.
    control = tmp_path / "control"
    control.mkdir()
    (control / "probe.tex").write_text(tex.read_text().replace(str(outside), str(control)))
    subprocess.run(
        ["latexmk", "-lualatex", "-interaction=nonstopmode", "-quiet", "probe.tex"],
        cwd=control,
        env=render.tex_env({}),
        capture_output=True,
        check=False,
        timeout=300,
    )
    assert "PASSWDREAD" in pdf_text(control / "probe.pdf")


@pytest.mark.integration
def test_lualatex_file_callback_cannot_open_outside_files(tmp_path: Path) -> None:
    """Variant: a find_read_file callback naming /etc/passwd is refused (TeX would open it itself)."""
    work = tmp_path / "work"
    work.mkdir()
    tex = work / "doc.tex"
    tex.write_text(
        "\\documentclass{article}\n\\begin{document}\n"
        "\\directlua{luatexbase.add_to_callback('find_read_file', function() return '/etc/passwd' end, "
        "'x')}\\input{anything}\n\\end{document}\n"
    )
    with pytest.raises(BuildFailed) as info:
        render.latexmk(tex, "lualatex", {})
    assert "root:x:0:0" not in str(info.value)
    assert "scholarly_build: refused file /etc/passwd" in (work / "doc.log").read_text()


# --- settings never reach LaTeX raw -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("main", r"Linux Libertine O}\input{/etc/passwd}\def\x{"),  # the example
        ("mono", r"DejaVu Sans Mono\directlua{io.open('/etc/passwd')}"),
        ("sans", "Linux Biolinum O\n\\input{/etc/hostname}"),
    ],
    ids=["brace-input", "directlua", "newline"],
)
def test_font_names_with_tex_are_refused(
    project: Path, capsys: pytest.CaptureFixture[str], setting: str, value: str
) -> None:
    settings = project / SETTINGS
    lines = settings.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{setting}:"))
    lines[index] = f"  {setting}: {json.dumps(value)}"
    settings.write_text("\n".join(lines) + "\n")
    code, _, err = run(project, "build", "--formats", "latex", "--documents", "paper", capsys=capsys)
    assert_clean_error(code, err, f"{SETTINGS}:{index + 1}: error unsafe-setting: font name")
    assert not (project / "build/paper.tex").exists()


@pytest.mark.integration
def test_font_unknown_to_fontconfig_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A well-formed font name that fontconfig does not know stops the PDF build with a message, not a TeX log."""
    if shutil.which("fc-list") is None or not tools.latex_available("xelatex"):
        pytest.skip("needs fontconfig and TeX")
    edit(project / SETTINGS, 'main: "Linux Libertine O"', 'main: "No Such Font Family Xyz"')
    code, _, err = run(project, "build", "--documents", "paper", "--formats", "pdf", capsys=capsys)
    assert_clean_error(code, err, "No Such Font Family Xyz", "is not installed")


@pytest.mark.parametrize(
    ("old", "new", "what"),
    [
        ("lang: en-GB", r"lang: 'en}\input{/etc/passwd}'", "`lang` must be a language tag"),
        ("title:", "crossref_prefixes: ['fig}\\\\input{x}:']\ntitle:", "cross-reference prefix"),
    ],
    ids=["lang", "crossref-prefix"],
)
def test_other_settings_reaching_templates_are_validated(
    project: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, what: str
) -> None:
    edit(project / SETTINGS, old, new)
    code, _, err = run(project, "check", capsys=capsys)
    assert_clean_error(code, err, "error unsafe-setting", what)


# --- figure ids are identifiers; every written path is inside build/ --------------------------------


@pytest.mark.parametrize(
    "make_id",
    [lambda out: f"{out}/precious", lambda out: "../../outside/precious", lambda out: "sub/dir", lambda out: ".hidden"],
    ids=["absolute", "dotdot", "slash", "dot"],
)
def test_figure_id_is_an_identifier(project: Path, outside: Path, capsys: pytest.CaptureFixture[str], make_id) -> None:  # type: ignore[no-untyped-def]
    before = outside_state(outside)
    figure_id = make_id(outside)
    edit(project / SETTINGS, "- id: bars", f"- id: {json.dumps(figure_id)}")
    code, _, err = run(project, "build", "--formats", "html", "--documents", "paper", capsys=capsys)
    line = settings_line(project, f"- id: {json.dumps(figure_id)}")
    assert_clean_error(code, err, f"{SETTINGS}:{line}: error settings: figure id", "not an identifier")
    assert outside_state(outside) == before
    assert not (project / "build").exists() or list((project / "build").rglob("*.csv")) == []


def test_write_paths_are_checked_inside_build(tmp_path: Path) -> None:
    """The guard every figure write goes through refuses a path outside build/, whatever made it."""
    from scholarly_build.core.problems import BuildFailed
    from scholarly_build.core.safety import require_inside

    build = tmp_path / "build"
    build.mkdir()
    assert require_inside(build / "figures" / "a", build, "x") == build / "figures" / "a"
    for bad in (build / ".." / "x", tmp_path / "y", Path("/tmp/victim/precious")):  # noqa: S108 - the issue's path, never written
        with pytest.raises(BuildFailed, match="unsafe-path"):
            require_inside(bad, build, "figure")


# --- build/ is never trusted --------------------------------------------------------------------------


@pytest.mark.parametrize("link", ["build", "build/figures", "build/.cache", "build/.work", "build/assembled"])
def test_symlinked_build_folders_are_refused(
    project: Path, outside: Path, capsys: pytest.CaptureFixture[str], link: str
) -> None:
    """A committed build symlink (or one inside build/) sends nothing outside: build and check refuse it."""
    before = outside_state(outside)
    (project / link).parent.mkdir(parents=True, exist_ok=True)
    (project / link).symlink_to(outside, target_is_directory=True)
    for command in (["build", "--formats", "html"], ["check"]):
        code, _, err = run(project, *command, capsys=capsys)
        assert_clean_error(code, err, f"{link}: error unsafe-build-dir: ", "symbolic link")
        assert outside_state(outside) == before


def test_build_tracked_by_git_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("git") is None:
        pytest.skip("needs git")
    (project / "build").mkdir()
    (project / "build/.state.json").write_text("{}")
    git = ["git", "-c", "user.email=t@example.org", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-f", "build/.state.json"], cwd=project, check=True)
    code, _, err = run(project, "check", capsys=capsys)
    assert_clean_error(code, err, "build/.state.json: error unsafe-build-dir: build/ is tracked by git")


def test_committed_pickle_cache_never_runs(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A build/.cache/*.pickle (at the name the old cache used) is never unpickled; caches are JSON."""
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    cache = project / "build/.cache"
    cache.mkdir(parents=True)
    text = (project / BIB).read_text()
    import hashlib

    for version in (b"v2", _CACHE_VERSION):
        digest = hashlib.sha256(version + text.encode() + repr(sorted({}.items())).encode()).hexdigest()
        (cache / f"bib-{digest}.pickle").write_bytes(pickle.dumps(Payload()))
        (cache / f"bib-{digest}.json").write_text('{"not": "a cache"}')  # a foreign JSON file is rebuilt
    code, _, err = run(project, "check", capsys=capsys)
    assert code == 0, err
    assert not marker.exists()
    unpicklers = re.compile(r"import pickle|pickle\.loads?\(|marshal|shelve")
    assert [p.name for p in SRC.glob("*.py") if unpicklers.search(p.read_text())] == []


# --- csl: confined to the project or the styles package ----------------------------------------------


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink"])
def test_csl_outside_the_project_is_refused_and_not_echoed(
    project: Path, outside: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    style = outside / "outside.csl"
    style.write_text('<?xml version="1.0"?>\n<style xmlns="http://purl.org/net/xbiblio/csl">OUTSIDECONTENT</style>\n')
    value = {"absolute": "/etc/passwd", "dotdot": "../outside/outside.csl", "symlink": "styles/linked.csl"}[kind]
    if kind == "symlink":
        (project / "styles").mkdir()
        (project / "styles/linked.csl").symlink_to(style)
    edit(project / SETTINGS, "csl: chicago-author-date", f"csl: {value}")
    code, out, err = run(project, "build", "--formats", "html", "--documents", "paper", capsys=capsys)
    assert_clean_error(code, err, "error unsafe-path: CSL file", "outside the project")
    assert "root:x:0" not in out + err and "OUTSIDECONTENT" not in out + err
    assert not any(p.is_file() and ("root:x:0" in p.read_text(errors="replace")) for p in project.rglob("*"))


def test_csl_that_is_not_a_style_is_named_not_printed(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Variant: a project file that is not CSL is refused by name; its content is not echoed."""
    (project / "notes.csl").write_text("PRIVATECONTENT line one\nline two\n")
    edit(project / SETTINGS, "csl: chicago-author-date", "csl: notes.csl")
    code, out, err = run(project, "build", "--formats", "html", "--documents", "paper", capsys=capsys)
    assert_clean_error(code, err, "is not a CSL style")
    assert "PRIVATECONTENT" not in out + err


# --- new-note: an unsafe key writes nothing --------------------------------------------------------


@pytest.mark.parametrize("key", ["../../../x/pwn", "sub/dir", "..", "/tmp/abs"])  # noqa: S108
def test_new_note_with_unsafe_key_writes_nothing(project: Path, key: str, capsys: pytest.CaptureFixture[str]) -> None:
    bib = project / BIB
    bib.write_text(bib.read_text() + f"\n@misc{{{key},\n  title = {{X}},\n  date = {{2000}},\n}}\n")
    before = sorted(str(p) for p in project.parent.rglob("*"))
    code, _, err = cli.main(["--root", str(project), "new-note", key]), *capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    assert f"the key {key!r} is not a safe file name; no note was written" in err and "hint:" in err
    assert sorted(str(p) for p in project.parent.rglob("*")) == before


def test_check_does_not_suggest_new_note_for_unsafe_key(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bib = project / BIB
    bib.write_text(bib.read_text() + "\n@misc{../../x/pwn,\n  title = {X},\n  date = {2000},\n}\n")
    code, out, err = run(project, "check", capsys=capsys)
    assert code == 1
    assert "new-note ../../x/pwn" not in out + err
    assert "not a safe file name" in out + err


# --- symlinks leaving the project, wherever the build reads ---------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "templates/html/style.css",
        "templates/partials/extra.md.j2",
        "figures/data/bars.csv",
        "manuscript/sections/03-linked.md",
    ],
)
def test_links_leaving_the_project_are_refused(
    project: Path, outside: Path, link: str, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = outside / "secret.txt"
    secret.write_text("OUTSIDESECRET\n")
    path = project / link
    path.unlink(missing_ok=True)
    path.symlink_to(secret)
    code, out, err = run(project, "build", "--formats", "html", "--documents", "paper", capsys=capsys)
    assert_clean_error(code, out + err, f"{link}: error unsafe-path: symbolic link")
    assert not any(
        "OUTSIDESECRET" in p.read_text(errors="replace") for p in (project / "build").rglob("*") if p.is_file()
    )


def test_link_inside_the_project_is_fine(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Control: a link that stays in the project is not refused."""
    (project / "templates/html/copy.css").symlink_to(project / "templates/html/style.css")
    code, _, err = run(project, "check", capsys=capsys)
    assert code == 0, err


# --- tracebacks -> one-line messages ------------------------------------------------------------------


@pytest.mark.parametrize("where", ["manifest", "state"])
def test_disk_full_is_a_message(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """ENOSPC while writing the manifest (or the build state) ends in `path: error io:` and a hint."""
    real = build_module.write_atomic

    def full(path: Path, data: bytes | str) -> None:
        if path.name == {"manifest": "manifest.json", "state": ".state.json"}[where]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(build_module, "write_atomic", full)
    code, _, err = run(project, "build", "--formats", "html", "--documents", "paper", capsys=capsys)
    name = {"manifest": "manifest.json", "state": ".state.json"}[where]
    assert_clean_error(code, err, f"build/{name}: error io: No space left on device", "the disk is full")


def test_disk_full_keeps_the_render_errors(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A render failure and then a full disk: both are printed."""
    from scholarly_build.core.problems import BuildFailed

    def failing_job(job: render.RenderJob) -> list[tuple[Path, Path]]:
        raise BuildFailed(f"{job.markdown.name}: error pandoc: RENDERFAILED")

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(project / "build/manifest.json"))

    monkeypatch.setattr(build_module, "render_job", failing_job)
    monkeypatch.setattr(build_module, "write_manifest", full)
    code, _, err = run(project, "build", "--formats", "html", "--documents", "paper", capsys=capsys)
    assert_clean_error(code, err, "RENDERFAILED", "build/manifest.json: error io: No space left on device")


@pytest.mark.parametrize("error", [errno.EROFS, errno.EACCES])
def test_read_only_build_folder_is_a_message(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: int
) -> None:
    """A read-only build/ (simulated: tests run as root, where chmod does not stop writes)."""
    real_open = Path.open

    def read_only(self: Path, mode: str = "r", *args: object, **kw: object):  # type: ignore[no-untyped-def]
        if "build" in self.parts and any(c in mode for c in "wax+"):
            raise OSError(error, os.strerror(error), str(self))
        return real_open(self, mode, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", read_only)
    code, _, err = run(project, "build", "--formats", "html", capsys=capsys)
    assert_clean_error(code, err, "build/.lock: error io: ", os.strerror(error))


@pytest.fixture
def no_pandoc(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def missing() -> str:
        raise OSError("No pandoc was found: either install pandoc, or use pypandoc.download_pandoc()")

    monkeypatch.setattr(pypandoc, "get_pandoc_path", missing)
    monkeypatch.setattr(pypandoc, "get_pandoc_version", missing)
    pandoc.pandoc_path.cache_clear()
    tools.pandoc_version.cache_clear()
    yield
    pandoc.pandoc_path.cache_clear()
    tools.pandoc_version.cache_clear()


@pytest.mark.parametrize("command", [["check"], ["build", "--formats", "html"], ["doctor"]])
def test_no_pandoc_binary_is_a_message(
    project: Path, no_pandoc: None, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    code, out, err = run(project, *command, capsys=capsys)
    assert code == 1 and "Traceback" not in out + err
    if command == ["doctor"]:
        assert re.search(r"^pandoc\s+MISSING$", out, re.M), out
    else:
        assert "error tools: pandoc was not found" in err and "hint:" in err


def test_folder_named_like_a_note_is_a_message(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "bib/notes/x.md").mkdir()
    code, out, err = run(project, "check", capsys=capsys)
    assert code == 1 and "Traceback" not in err
    assert "bib/notes/x.md: error missing-file: not a file" in out + err


def test_check_manuscript_folder_is_a_message(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        project,
        "check",
        "--manuscript",
        str(project / "manuscript/sections"),
        "--bib",
        str(project / BIB),
        capsys=capsys,
    )
    assert code == 1 and "Traceback" not in out + err
    assert "manuscript/sections: error missing-file: cannot read file: this is a folder" in out + err


def test_check_bib_folder_is_a_message(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Variant: --bib naming a folder."""
    code, out, err = run(project, "check", "--bib", str(project / "bib"), capsys=capsys)
    assert code == 1 and "Traceback" not in out + err
    assert re.search(r"^bib: error missing-file: ", out + err, re.M), out + err


@pytest.mark.parametrize("kind", ["symlink", "file"])
def test_clean_on_symlinked_build_is_a_message(
    project: Path, outside: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = outside_state(outside)
    if kind == "symlink":
        (project / "build").symlink_to(outside, target_is_directory=True)
    else:
        (project / "build").write_text("not a folder")
    code, _, err = run(project, "clean", capsys=capsys)
    assert_clean_error(code, err, "build: error ")
    assert outside_state(outside) == before


def test_clean_removes_links_inside_build_without_following(
    project: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "build").mkdir()
    (project / "build/figures").symlink_to(outside, target_is_directory=True)
    code, _, err = run(project, "clean", capsys=capsys)
    assert code == 0, err
    assert not (project / "build").exists()
    assert outside_state(outside) != {} and (outside / "precious.csv").read_text() == "keep me\n"


def test_invoke_clean_on_symlinked_build(project: Path, outside: Path) -> None:
    """The task itself: `invoke clean` ends with the message and exit 1, no traceback."""
    if shutil.which("invoke") is None:
        pytest.skip("invoke is not on PATH")
    (project / "build").symlink_to(outside, target_is_directory=True)
    shutil.copy(Path(__file__).resolve().parents[1] / "tasks.py", project / "tasks.py")
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    env["PYTHONPATH"] = str(SRC.parent) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        ["invoke", "clean"], cwd=project, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "build: error unsafe-build-dir: build/ is a symbolic link" in proc.stderr
    assert (outside / "precious.csv").is_file()


def test_metadata_settings_reach_tex_escaped(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Title, subtitle, author, date, subject, keywords and abstract go through pandoc as text, never raw TeX."""
    edit(project / SETTINGS, 'title: "A Small Comparison"', r'title: "A Small \\input{/etc/hostname} Comparison"')
    edit(project / SETTINGS, 'date: "2024"', r'date: "2024 \\directlua{x}"')
    edit(project / SETTINGS, '  - name: "Test Author"', r'  - name: "Test \\def\\x{y} Author"')
    edit(project / SETTINGS, 'abstract: "A fixture', r'abstract: "\\immediate\\openout A fixture')
    (project / SETTINGS).write_text(
        (project / SETTINGS).read_text() + 'keywords: ["\\\\catcode", "b}c"]\nsubtitle: "\\\\input{sub}"\n'
    )
    code, _, err = run(project, "build", "--formats", "latex", capsys=capsys)
    assert code == 0, err
    for name in ("paper.tex", "annotated-bibliography.tex"):
        tex = (project / "build" / name).read_text()
        assert [
            c for c in (r"\input{", r"\directlua", r"\def\x", r"\immediate", r"\openout", r"\catcode") if c in tex
        ] == [], name
    assert r"\textbackslash input\{/etc/hostname\}" in (project / "build/paper.tex").read_text()


@pytest.mark.integration
def test_lualatex_biblatex_field_with_directlua_reads_and_writes_nothing(project: Path, outside: Path) -> None:
    """The issue's LuaLaTeX case: `\\directlua{io.open…}` in a .bib field (biblatex path) prints as text."""
    before = outside_state(outside)
    attack = (
        r"LUASTART\directlua{local f = io.open('/etc/passwd') tex.print(f and f:read('*l') or 'x')"
        rf" local g = io.open('{outside}/pwn.pth', 'w') if g then g:write('import os') g:close() end}}LUAEND"
    )
    edit(project / BIB, "title        = {What Do We Know?},", "title        = {What Do We Know? " + attack + "},")
    edit(project / SETTINGS, "pdf_engine: xelatex", "pdf_engine: lualatex")
    proc = run_subprocess(project, "build", "--citations", "biblatex", "--documents", "paper", "--formats", "latex,pdf")
    assert proc.returncode == 0, proc.stderr
    assert outside_state(outside) == before
    text = pdf_text(project / "build/paper.pdf")
    assert "root:x:0" not in text
    assert "directlua" in re.sub(r"\s+", "", text)


def test_check_with_unwritable_cache_still_checks(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Variant: `check` on a read-only or full build/.cache still checks (the cache is an optimisation)."""
    from scholarly_build.building import pipeline
    from scholarly_build.core import fsutil
    def unwritable(path: Path, data: bytes | str) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(pipeline, "write_atomic", unwritable)
    monkeypatch.setattr(fsutil, "write_atomic", unwritable)
    code, out, err = run(project, "check", capsys=capsys)
    assert code == 0, out + err
    assert "Traceback" not in err


def test_settings_file_linked_outside_is_refused(
    project: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Variant: manuscript/paper.yaml itself as a link out of the project is not read."""
    target = outside / "paper.yaml"
    target.write_text((project / SETTINGS).read_text() + "\n# OUTSIDESETTINGS\n")
    (project / SETTINGS).unlink()
    (project / SETTINGS).symlink_to(target)
    code, _, err = run(project, "check", capsys=capsys)
    assert_clean_error(code, err, f"{SETTINGS}: error unsafe-path: the settings file is a link that leaves the project")


def test_biblatex_export_keeps_urls_and_breaks_verbatim_escapes(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Verbatim fields (url, doi, …) keep `_ % #` as written; a backslash or brace cannot end the verbatim."""
    edit(
        project / BIB,
        "title        = {What Do We Know?},",
        "title        = {What Do We Know?},\n  url = {https://example.org/a_b%20c#d},\n"
        "  doi = {10.1000/x\\endverb\\input{/etc/hostname}},",
    )
    code, _, err = run(project, "build", "--citations", "biblatex", "--formats", "latex", capsys=capsys)
    assert code == 0, err
    exported = (project / "build/biblatex/references-annotated.bib").read_text()
    assert "url = {https://example.org/a_b%20c#d}," in exported
    assert "\\endverb" not in exported and "\\input" not in exported
    assert "%5Cendverb%5Cinput%7B/etc/hostname%7D" in exported


@pytest.mark.parametrize("key", ["müller2000", "doe:2001", "smith-2000.b"])
def test_new_note_with_plain_key_still_works(project: Path, key: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Control: keys that are plain file names (any script) still get their note."""
    bib = project / BIB
    bib.write_text(bib.read_text() + f"\n@misc{{{key},\n  title = {{X}},\n  date = {{2000}},\n}}\n")
    code, _, err = run(project, "new-note", key, capsys=capsys)
    assert code == 0, err
    assert (project / "bib/notes" / f"{key}.md").is_file()
