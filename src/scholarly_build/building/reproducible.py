"""`verify-reproducible`: build twice in fresh copies and compare every output."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from scholarly_build.building.build import BuildOptions, build, source_date_epoch
from scholarly_build.core.fsutil import sha256_file

OUTPUT_SUFFIXES = (".pdf", ".html", ".tex", ".docx")


@dataclass(frozen=True)
class Difference:
    """One output that differs between the two builds, with its first differing byte."""

    name: str
    first_byte: int  # offset of the first differing byte (-1: one copy lacks the file)
    context: str


def _project_files(root: Path) -> list[Path]:
    """Tracked and untracked-but-not-ignored files; everything but build/ outside git."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
            timeout=30,
        )
        return [
            root / p for p in out.stdout.decode().split("\0") if p and ((root / p).is_symlink() or (root / p).is_file())
        ]
    except (OSError, subprocess.SubprocessError):
        return [
            p
            for p in root.rglob("*")
            if (p.is_symlink() or p.is_file()) and "build" not in p.relative_to(root).parts[:1]
        ]


def copy_project(root: Path, dest: Path) -> None:
    """Copy the project's files; a symlink is copied as a symlink (the build must meet it as it is)."""
    for path in _project_files(root):
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            os.symlink(os.readlink(path), target)
        else:
            shutil.copy2(path, target)


def first_difference(a: Path, b: Path) -> tuple[int, str]:
    """Offset of the first differing byte of two files, with the bytes around it."""
    da, db = a.read_bytes(), b.read_bytes()
    n = next((i for i, (x, y) in enumerate(zip(da, db, strict=False)) if x != y), min(len(da), len(db)))
    lo = max(0, n - 16)
    return n, f"bytes {lo}..{n + 32}: {da[lo : n + 32]!r} vs {db[lo : n + 32]!r}"


def verify(root: Path, console: Console | None = None) -> tuple[dict[str, str], list[Difference]]:
    """Return the hashes of the first build and the differences found."""
    console = console or Console(stderr=True, soft_wrap=True)
    root = root.resolve()
    epoch = str(source_date_epoch(root))
    quiet = Console(file=io.StringIO())
    hashes: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="repro-a-") as a, tempfile.TemporaryDirectory(prefix="repro-b-") as b:
        dirs = [Path(a) / "project", Path(b) / "elsewhere" / "project"]  # different paths on purpose
        old = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = epoch
        try:
            for d in dirs:
                copy_project(root, d)
                console.print(f"building a clean copy in {d} …")
                build(d, BuildOptions(force=True), quiet)
                hashes.append(
                    {p.name: sha256_file(p) for p in sorted((d / "build").iterdir()) if p.suffix in OUTPUT_SUFFIXES}
                )
        finally:
            if old is None:
                os.environ.pop("SOURCE_DATE_EPOCH", None)
            else:
                os.environ["SOURCE_DATE_EPOCH"] = old
        diffs = []
        for name in sorted(set(hashes[0]) | set(hashes[1])):
            if hashes[0].get(name) == hashes[1].get(name):
                continue
            if name not in hashes[0] or name not in hashes[1]:
                diffs.append(Difference(name, -1, "present in only one build"))
                continue
            offset, context = first_difference(dirs[0] / "build" / name, dirs[1] / "build" / name)
            diffs.append(Difference(name, offset, context))
    return hashes[0], diffs
