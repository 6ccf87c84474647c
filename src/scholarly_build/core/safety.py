"""What the build refuses to trust: links out of the project, a committed build/, unsafe names.

Data files (notes, .bib, sections, paper.yaml, figure data) and everything under
``build/`` may come from a pull request. These checks run before anything is read
from or written to those places; each failure is a ``path:line`` problem. This
module only decides and reports: it must not repair, move or delete anything it
distrusts (a link or a committed ``build/`` is left for the user to remove).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from scholarly_build.core.problems import BuildFailed, Problems

# Folders of the project the build reads; a symlink in them must not leave the project.
READ_DIRS = ("templates", "bib", "manuscript", "figures")

# An identifier: figure ids become file names under build/figures/.
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
# A note's file name is its BibTeX key; keys that are not a plain file name get no note file.
SAFE_KEY = re.compile(r"\w[\w:.+-]{0,127}")  # \w: letters of any script, digits, _


def is_identifier(value: str) -> bool:
    """True for a plain identifier (a letter, then letters, digits, ``_`` or ``-``): safe as a file name."""
    return IDENTIFIER.fullmatch(value) is not None


def is_safe_key(value: str) -> bool:
    """True for a BibTeX key that can name a note file: word characters and ``: . + -``, no ``..``."""
    return SAFE_KEY.fullmatch(value) is not None and ".." not in value


def is_inside(path: Path, base: Path) -> bool:
    """True when ``path``, with every symlink resolved, lies within ``base``."""
    try:
        path.resolve().relative_to(base.resolve())
    except (ValueError, OSError):
        return False
    return True


def require_inside(path: Path, base: Path, what: str) -> Path:
    """Every path the build writes is checked here before writing; outside ``base`` is a bug or an attack."""
    if not is_inside(path, base):
        raise BuildFailed(
            f"{path}: error unsafe-path: {what} would be written outside {base.name}/\n"
            "    hint: ids and names in the settings must be plain identifiers"
        )
    return path


def outside_links(root: Path, dirs: tuple[str, ...] = READ_DIRS) -> list[tuple[Path, str]]:
    """Symlinks below ``dirs`` (or the dirs themselves) whose target leaves the project: (link, target)."""
    found: list[tuple[Path, str]] = []
    real_root = root.resolve()
    for name in dirs:
        top = root / name
        candidates: list[Path] = [top] if top.is_symlink() else []
        if top.is_dir() and not top.is_symlink():
            for here, subdirs, files in os.walk(top, followlinks=False):
                candidates += [Path(here) / n for n in (*subdirs, *files) if (Path(here) / n).is_symlink()]
        for link in candidates:
            if not is_inside(link, real_root):
                found.append((link, os.readlink(link)))
    return found


def check_links(root: Path, problems: Problems) -> None:
    """An ``unsafe-path`` error for each symbolic link in the read folders that leaves the project."""
    for link, target in outside_links(root):
        problems.error(
            "unsafe-path",
            f"symbolic link to {target!r} leaves the project; it is not read",
            path=link,
            hint="replace the link with the file itself, inside the project",
        )


def _git_tracked(root: Path, rel: str) -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--", rel],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []  # no git: nothing can be tracked
    if out.returncode != 0:
        return []  # not a git checkout
    return [p for p in out.stdout.split("\0") if p]


def check_build_dir(root: Path) -> None:
    """Refuse a build/ that is a symlink, holds symlinks, or is tracked by git: it is never trusted."""
    build = root / "build"
    if build.is_symlink():
        raise BuildFailed(
            f"build: error unsafe-build-dir: build/ is a symbolic link (to {os.readlink(build)!r}); "
            "nothing was read or written\n    hint: remove the link (`rm build`); the build creates a real folder"
        )
    if build.exists() and not build.is_dir():
        raise BuildFailed("build: error unsafe-build-dir: build is not a folder\n    hint: remove or rename it")
    if build.is_dir():
        for here, subdirs, files in os.walk(build, followlinks=False):
            for name in (*subdirs, *files):
                path = Path(here) / name
                if path.is_symlink():
                    rel = path.relative_to(root)
                    raise BuildFailed(
                        f"{rel}: error unsafe-build-dir: build/ holds a symbolic link (to {os.readlink(path)!r}); "
                        "nothing was read or written\n    hint: delete build/ (`invoke clean`) and build again"
                    )
    tracked = _git_tracked(root, "build")
    if tracked:
        raise BuildFailed(
            f"{tracked[0]}: error unsafe-build-dir: build/ is tracked by git ({len(tracked)} file(s)); "
            "its contents are never trusted\n"
            "    hint: `git rm -r --cached build` and add build/ to .gitignore"
        )
