"""Shared fixtures: copies of the mini project, a session build, a CLI runner."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console

from scholarly_build import cli
from scholarly_build.building.build import BuildOptions, BuildReport, build

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
MINI = FIXTURES / "mini"
# The engine's default templates: copied into the mini fixture's templates/ as project files (overrides
# identical to the defaults), so that a test can edit one in its copy.
TEMPLATES = REPO / "src" / "scholarly_build" / "templates"
GOLDEN = REPO / "tests" / "golden"

CliResult = tuple[int, str, str]


def copy_mini(dest: Path) -> Path:
    """Copy the mini fixture plus the engine's default templates (as its templates/) to ``dest``."""
    shutil.copytree(MINI, dest)
    shutil.copytree(TEMPLATES, dest / "templates")
    return dest


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``{relative path: content}`` below ``root`` and return ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def quiet_build(root: Path, options: BuildOptions | None = None) -> BuildReport:
    """Run the build in-process with its console output swallowed."""
    return build(root, options or BuildOptions(), Console(file=io.StringIO(), width=200))


def tree_hashes(directory: Path, *, skip: tuple[str, ...] = (".cache", ".lock")) -> dict[str, str]:
    """sha256 of every file below ``directory`` (paths relative), except ``skip`` parts."""
    out = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if path.is_file() and not any(part in skip for part in rel.parts):
            out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A fresh, unbuilt copy of the mini fixture (with templates/) for one test."""
    return copy_mini(tmp_path / "mini")


@pytest.fixture(scope="session")
def built_mini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini fixture, built once per session through the CLI entry point."""
    root = copy_mini(tmp_path_factory.mktemp("built") / "mini")
    code = cli.main(["--root", str(root), "build"])
    assert code == 0, "the mini fixture must build"
    return root


@pytest.fixture
def run_cli() -> Iterator[Callable[..., CliResult]]:
    """Run ``python -m scholarly_build ARGS`` in a subprocess -> (code, stdout, stderr)."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> CliResult:
        base = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
        proc = subprocess.run(
            [sys.executable, "-m", "scholarly_build", *args],
            capture_output=True, text=True, env={**base, **(env or {})}, cwd=cwd, timeout=600, check=False,
        )
        return proc.returncode, proc.stdout, proc.stderr

    yield run
