"""`init DIR`: a new project from the packaged skeleton, built with the real tools and read back (issue 18).

Also: the engine's default templates are package data, and a project's templates/ overrides them file by file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from scholarly_build import __version__
from scholarly_build.inputs.project import PACKAGE_TEMPLATES, load_project

REPO = Path(__file__).resolve().parents[1]
Run = Callable[..., tuple[int, str, str]]

EXPECTED_FILES = {
    ".ci/run", ".github/workflows/paper.yml", ".gitignore", ".pre-commit-config.yaml", ".schemas/note.schema.json",
    ".schemas/settings.schema.json", ".vscode/settings.json", "README.md", "bib/notes/hobbes1651leviathan.md",
    "bib/notes/locke1690treatises.md", "bib/notes/mill1859liberty.md", "bib/references.bib", "figures/README.md",
    "figures/chapters.py", "figures/data/chapters.csv", "manuscript/paper.yaml",
    "manuscript/sections/01-introduction.md", "pyproject.toml", "tasks.py", "templates/README.md",
    "tests/test_paper.py",
}


def files_below(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_init_writes_the_layout(tmp_path: Path, run_cli: Run) -> None:
    """The new project has this repository's layout, and templates/ holds only its README."""
    code, out, err = run_cli("init", str(tmp_path / "paper"), "--title", "My Paper", "--author", "Ann Example")
    assert (code, err) == (0, "")
    assert files_below(tmp_path / "paper") == EXPECTED_FILES
    assert "invoke build" in out
    assert os.access(tmp_path / "paper/.ci/run", os.X_OK)
    settings = (tmp_path / "paper/manuscript/paper.yaml").read_text()
    assert 'title: "My Paper"' in settings and 'name: "Ann Example"' in settings


def test_init_refuses_a_non_empty_folder_and_never_overwrites(tmp_path: Path, run_cli: Run) -> None:
    """Without --force a non-empty folder is refused untouched; with it, existing files are kept."""
    root = tmp_path / "paper"
    root.mkdir()
    (root / "README.md").write_text("mine\n")
    code, out, err = run_cli("init", str(root))
    assert (code, out) == (1, "")
    assert "error init: the folder is not empty; nothing was written" in err
    assert files_below(root) == {"README.md"}
    code, out, err = run_cli("init", str(root), "--force")
    assert code == 0, err
    assert (root / "README.md").read_text() == "mine\n"
    assert "kept    README.md (exists; init never overwrites)" in out
    assert files_below(root) == EXPECTED_FILES


def test_init_with_works_of_ones_own(tmp_path: Path, run_cli: Run) -> None:
    """--work names the compared works; a key that is not an example gets a placeholder entry and note."""
    root = tmp_path / "paper"
    code, _, err = run_cli("init", str(root), "--work", "mill1859liberty", "--work", "smith2020x", "--csl", "apa")
    assert code == 0, err
    project = load_project(root)
    assert project.work_keys == ("mill1859liberty", "smith2020x")
    assert project.csl == "apa"
    assert "@book{smith2020x," in (root / "bib/references.bib").read_text()
    assert (root / "bib/notes/smith2020x.md").read_text().startswith("---\n# yaml-language-server: $schema=")
    code, _, err = run_cli("init", str(tmp_path / "one"), "--work", "mill1859liberty")
    assert code == 1 and "two or more different works" in err


def test_the_new_project_depends_on_this_engine_by_version(tmp_path: Path, run_cli: Run) -> None:
    """pyproject.toml pins the engine's real distribution name and version."""
    engine = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert engine["version"] == __version__
    run_cli("init", str(tmp_path / "paper"))
    new = tomllib.loads((tmp_path / "paper/pyproject.toml").read_text())["project"]
    assert new["dependencies"] == [f"{engine['name']}=={engine['version']}"]


def test_engine_templates_are_package_data() -> None:
    """Every default template is declared as package data, so an installed engine has them."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "templates/**/*" in config["scholarly_build"]
    assert "newproject/skeleton/**/*" in config["scholarly_build"]
    assert (PACKAGE_TEMPLATES / "pandoc/common.yaml").is_file()


def test_a_project_template_overrides_the_default_of_the_same_path(tmp_path: Path, run_cli: Run) -> None:
    """templates/html/style.css replaces only the stylesheet; everything else comes from the engine."""
    root = tmp_path / "paper"
    assert run_cli("init", str(root))[0] == 0
    project = load_project(root)
    assert project.template_files()["html/style.css"] == PACKAGE_TEMPLATES / "html/style.css"
    override = root / "templates/html/style.css"
    override.parent.mkdir()
    override.write_text((PACKAGE_TEMPLATES / "html/style.css").read_text() + "\n.override-marker { color: #123456; }\n")
    files = project.template_files()
    assert files["html/style.css"] == override
    assert files["pandoc/html.yaml"] == PACKAGE_TEMPLATES / "pandoc/html.yaml"
    assert "README.md" not in files


@pytest.mark.integration
def test_override_reaches_the_html(tmp_path: Path, run_cli: Run) -> None:
    """The build stages the resolved templates: an overridden stylesheet is the one embedded in the HTML."""
    root = tmp_path / "paper"
    assert run_cli("init", str(root))[0] == 0
    code, _, err = run_cli("--root", str(root), "build", "--formats", "html", "--no-provision")
    assert code == 0, err
    assert "override-marker" not in (root / "build/paper.html").read_text()
    override = root / "templates/html/style.css"
    override.parent.mkdir()
    override.write_text((PACKAGE_TEMPLATES / "html/style.css").read_text() + "\n.override-marker { color: #123456; }\n")
    code, out, err = run_cli("--root", str(root), "build", "--formats", "html", "--no-provision", "--explain")
    assert code == 0, err
    assert "templates/html/style.css" in out + err  # the explanation names the override as the changed input
    assert "override-marker" in (root / "build/paper.html").read_text()


def pdftext(path: Path) -> str:
    """The PDF's text, with line breaks and hyphenation folded into single spaces."""
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+", " ", re.sub(r"-\n", "-", text))


@pytest.mark.integration
def test_init_then_build_reads_back(tmp_path: Path, run_cli: Run) -> None:
    """init, then build with pandoc, XeLaTeX and the figure script; the PDF and HTML hold the example
    section, its rendered citations and the reference entries; then the new project's own tests pass."""
    root = tmp_path / "paper"
    code, _, err = run_cli("init", str(root), "--title", "Liberty and Authority", "--author", "Ann Example")
    assert code == 0, err
    code, _, err = run_cli("--root", str(root), "build", "--no-provision")
    assert code == 0, err
    text = pdftext(root / "build/paper.pdf")
    assert "Liberty and Authority" in text
    assert "It compares Hobbes (1651) and Mill (1859)" in text
    assert "(Hobbes 1651, ch. 1; Mill 1859, ch. 2)" in text
    assert "(Locke 1690, sec. 95)" in text
    html = (root / "build/paper.html").read_text(encoding="utf-8")
    entry = re.search(r'<div id="ref-hobbes1651leviathan" class="csl-entry"[^>]*>(.*?)</div>', html, re.S)
    assert entry is not None
    assert "Leviathan, or the Matter, Forme, and Power" in entry.group(1)
    assert "Andrew Crooke" in entry.group(1)
    annotated = pdftext(root / "build/annotated-bibliography.pdf")
    assert "Mill asks where the power of society over the individual should end" in annotated
    # The new project's own tests, as its README runs them.
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
                          cwd=root, capture_output=True, text=True, env=env, check=False, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
